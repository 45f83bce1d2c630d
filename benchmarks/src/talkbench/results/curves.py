"""Training curves of a run: ``curves.json``, a compact copy of every training's per-step losses.

Each training of a run (the animator of every seed, CodeTalker's stage 1 of every seed) logs its loss
terms on every step (``AnimatorTrainer.history``: the total ``loss``, the reconstruction ``rec``,
``rlv``, the AV term ``av`` with its ``av_ctc`` / ``av_att`` parts, the expert's token accuracy
``av_acc`` and the frames it read, ``av_frames``, the learning rate ``lr``; the stage 1 ``loss``).
The full per-step record goes to TensorBoard event files in the work folder
(:mod:`talkbench.training.events`); the run directory keeps this compact copy, which the leaderboard
plots on the run's page with the seeds overlaid:

.. code-block:: json

    {"schema_version": 1,
     "trainings": [{"seed": 0, "phase": "animator", "steps": 700, "bin_steps": 7,
                    "step": [7, 14, ...], "terms": {"loss": [...], "rec": [...], "av": [null, ...]}}]}

Steps are grouped in bins of ``bin_steps`` consecutive steps (at most :data:`MAX_POINTS` bins); a
term's value in a bin is the mean over the bin's steps that logged it (``null`` when none did: the AV
term comes on every ``guidance.av_every``-th step), rounded to 6 significant digits; ``step`` is the
number of steps done at the end of each bin.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .io import atomic_write_text

__all__ = ["CURVES_FILE", "MAX_POINTS", "TrainingCurve", "TrainingCurves", "binned_curve", "load_curves",
           "write_curves"]

CURVES_FILE = "curves.json"
MAX_POINTS = 100
"""Most points a curve keeps (700 animator steps: bins of 7)."""


class TrainingCurve(BaseModel):
    """One training's binned loss terms."""

    model_config = ConfigDict(extra="forbid")

    seed: int
    #: ``animator``: stage 2 of a grid cell; ``stage1``: CodeTalker's VQ autoencoder; ``reader``: a lip
    #: reader's training (the grid's stage-1 readers, the shipped readers' manifests)
    phase: Literal["animator", "stage1", "reader"]
    steps: int = Field(ge=0)
    bin_steps: int = Field(ge=1)
    step: list[int]
    terms: dict[Annotated[str, Field(min_length=1)], list[float | None]]

    @model_validator(mode="after")
    def _lengths(self) -> TrainingCurve:
        for name, values in self.terms.items():
            if len(values) != len(self.step):
                raise ValueError(f"term {name!r}: {len(values)} values for {len(self.step)} steps")
            if any(v is not None and not math.isfinite(v) for v in values):
                raise ValueError(f"term {name!r}: non-finite value")
        if any(b <= a for a, b in zip(self.step, self.step[1:])):
            raise ValueError("step must increase")
        return self


class TrainingCurves(BaseModel):
    """The content of ``curves.json``."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = 1
    trainings: list[TrainingCurve]


def _round(x: float) -> float:
    return float(f"{x:.6g}")


def binned_curve(
    history: Sequence[Mapping[str, float]], seed: int, phase: Literal["animator", "stage1", "reader"],
    first_step: int = 0,
) -> TrainingCurve:
    """Bin a per-step ``history`` (one mapping of logged terms per step, steps ``first_step``, ...)."""
    n = len(history)
    size = max(1, math.ceil(n / MAX_POINTS))
    names = sorted({k for h in history for k in h})
    steps: list[int] = []
    terms: dict[str, list[float | None]] = {k: [] for k in names}
    for start in range(0, n, size):
        chunk = history[start : start + size]
        steps.append(first_step + start + len(chunk))
        for k in names:
            vals = [float(h[k]) for h in chunk if k in h and math.isfinite(float(h[k]))]
            terms[k].append(_round(sum(vals) / len(vals)) if vals else None)
    return TrainingCurve(
        seed=seed, phase=phase, steps=first_step + n, bin_steps=size, step=steps, terms=terms
    )


def write_curves(path: Path | str, curves: TrainingCurves) -> Path:
    """Write ``curves.json`` atomically (keys sorted, compact lines per training)."""
    data = curves.model_dump(mode="json")
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return atomic_write_text(path, text + "\n")


def load_curves(path: Path | str) -> TrainingCurves:
    """Read and validate a ``curves.json``; ``ValueError`` naming the file on any problem."""
    path = Path(path)
    try:
        return TrainingCurves.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a valid {CURVES_FILE} ({exc})") from exc
