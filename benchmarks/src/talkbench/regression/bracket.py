"""The bracketing check: every animator's baseline must clearly beat the motionless template.

A benchmark row is only informative when its animator moves the face the way the data does. For
each protocol of a result set, :func:`template_ratios` gives every baseline method row's lip
vertex error as a fraction of the ``template`` row's (per seed and for the mean over seeds):

``r_s = LVE(method, seed s) / LVE(template)``

The template row is the same for every seed (it does not train). :func:`check_beats_template`
fails a row whose worst seed has ``max_s r_s > max_ratio``: the animator is no longer clearly
better than not moving. The smoke preset's threshold and how it was derived from the measured
spread are in ``docs/regression.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..results import RunResult
from .compare import RowKey, row_label

__all__ = ["SMOKE_MAX_LVE_RATIO", "TemplateRatio", "check_beats_template", "template_ratios"]

#: the smoke preset's limit on ``max_s LVE_s / LVE_template`` of every baseline animator
SMOKE_MAX_LVE_RATIO = 0.75


@dataclass(frozen=True)
class TemplateRatio:
    """One baseline row's LVE as a fraction of its protocol's template LVE."""

    label: str
    path: Path
    mean: float
    per_seed: tuple[float, ...]

    @property
    def worst(self) -> float:
        return max(self.per_seed) if self.per_seed else self.mean


def template_ratios(results: dict[RowKey, tuple[Path, RunResult]]) -> list[TemplateRatio]:
    """The ratio of every baseline method row (of every protocol with a template row), by row label.

    Raises ``ValueError`` when a protocol has baseline method rows but no ``template`` row, or a
    row has no LVE: without the reference the check would silently pass.
    """
    templates = {key[0]: res for key, (_, res) in results.items() if key[1] == "template"}
    out = []
    for key, (path, res) in sorted(results.items()):
        protocol, kind, _, guidance = key
        if kind != "method" or guidance != "baseline":
            continue
        if protocol not in templates:
            raise ValueError(f"{path}: protocol {protocol!r} has no template row to compare LVE with")
        tpl = templates[protocol].metrics.get("lve")
        lve = res.metrics.get("lve")
        if tpl is None or lve is None:
            raise ValueError(f"{path}: no LVE in this row or in the {protocol!r} template row")
        seeds = tuple(v / tpl.value for v in (lve.per_seed or []))
        out.append(TemplateRatio(row_label(key), path, lve.value / tpl.value, seeds))
    return out


def check_beats_template(
    results: dict[RowKey, tuple[Path, RunResult]], max_ratio: float
) -> tuple[list[TemplateRatio], list[str]]:
    """All ratios and one message per row whose worst seed exceeds ``max_ratio``."""
    ratios = template_ratios(results)
    failures = [
        f"{r.label}: LVE / template = {r.mean:.3f} (worst seed {r.worst:.3f}) > {max_ratio}: the "
        f"animator is not clearly better than the motionless template ({r.path})"
        for r in ratios
        if r.worst > max_ratio
    ]
    return ratios, failures
