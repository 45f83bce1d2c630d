"""Read and validate a results directory: ``<results>/<protocol>/<run_id>/{result.json, ...}``.

Rules (every violation is collected; :class:`ResultsDirError` lists them all, each naming its file):

1. Every folder directly under ``<results>`` is a known protocol id
   (``facial_metrics.list_protocols()``); files there are allowed only as ``*.md`` notes.
2. Every folder under a protocol is a run directory holding ``result.json``, ``per_sample.jsonl``,
   ``config.yaml`` and ``env.json``, and optionally ``sample.mp4``, ``curves.json`` (the trainings'
   curves, validated when the site plots them) and ``README.md``; nothing else.
3. ``result.json``, ``per_sample.jsonl`` and ``env.json`` pass their schemas
   (:mod:`talkbench.results.io`); ``config.yaml`` is a YAML mapping.
4. ``result.run_id`` equals the folder name and ``result.protocol`` the protocol folder's name (a
   result filed under another protocol is *protocol mixing*); the masks of ``result.json`` are of
   the protocol's topology (checked by :class:`~talkbench.results.schema.RunResult`) and the run's
   ``config.yaml``, when it records ``data.protocol``, names the same protocol, so a run of one
   dataset relabelled as another is refused.
5. The means in ``result.json`` re-derive from ``per_sample.jsonl``
   (:func:`talkbench.results.check_consistency`).
6. Within one protocol, all runs share the dataset content hash, the hash of each mask id, the
   evaluation reader's checkpoint (among runs with text metrics), and each metric's variant, unit and
   report scale; no two runs share (kind, animator name, guidance).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from facial_metrics.protocols import list_protocols

from ..results.curves import CURVES_FILE
from ..results.io import ResultFileError
from ..results.rescore import check_consistency
from ..results.rundir import RUN_FILES, VIDEO_FILE, load_run_dir
from ..results.schema import EnvInfo, RunResult

__all__ = ["ALLOWED_RUN_FILES", "REQUIRED_RUN_FILES", "ResultsDirError", "RunEntry", "collect_results"]

REQUIRED_RUN_FILES: tuple[str, ...] = RUN_FILES
ALLOWED_RUN_FILES: tuple[str, ...] = (*REQUIRED_RUN_FILES, VIDEO_FILE, CURVES_FILE, "README.md")


class ResultsDirError(ValueError):
    """A results directory that cannot be published; ``problems`` holds one message per violation."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        body = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{len(problems)} problem(s) in the results directory:\n{body}")


@dataclass(frozen=True)
class RunEntry:
    """One validated run directory."""

    path: Path
    result: RunResult
    config: dict[str, Any]
    env: EnvInfo
    video: Path | None

    @property
    def protocol(self) -> str:
        return self.result.protocol

    @property
    def row_key(self) -> tuple[str, str, str]:
        """(kind, animator, guidance): one row of a table; a swept cell's point is part of its guidance."""
        r = self.result
        point = "".join(f" {k}={v}" for k, v in sorted((r.sweep or {}).items()))
        return (r.kind, r.animator.name, r.guidance.label + point)


def _load_run(run_dir: Path, protocol: str, problems: list[str]) -> RunEntry | None:
    names = sorted(p.name for p in run_dir.iterdir())
    missing = [f for f in REQUIRED_RUN_FILES if f not in names]
    extra = [f for f in names if f not in ALLOWED_RUN_FILES]
    if missing:
        problems.append(f"{run_dir}: missing {', '.join(missing)}")
    if extra:
        problems.append(f"{run_dir}: unexpected {', '.join(extra)} (allowed: {', '.join(ALLOWED_RUN_FILES)})")
    if missing or extra:
        return None
    try:
        files = load_run_dir(run_dir)
    except ResultFileError as exc:
        problems.append(str(exc))
        return None
    result, records = files.result, files.records
    ok = True
    if result.run_id != run_dir.name:
        problems.append(f"{run_dir / 'result.json'}: run_id {result.run_id!r} differs from its folder name")
        ok = False
    if result.protocol != protocol:
        problems.append(
            f"{run_dir / 'result.json'}: protocol {result.protocol!r} filed under {protocol!r} "
            "(protocol mixing: move it to the folder of its protocol)"
        )
        ok = False
    data = files.config.get("data") if isinstance(files.config, dict) else None
    ran_on = data.get("protocol") if isinstance(data, dict) else None
    if ran_on is not None and ran_on != result.protocol:
        problems.append(
            f"{run_dir / 'config.yaml'}: data.protocol is {ran_on!r}, but result.json says "
            f"{result.protocol!r} (a run of one dataset cannot stand for another)"
        )
        ok = False
    for issue in check_consistency(result, records):
        problems.append(f"{run_dir / 'result.json'}: does not match per_sample.jsonl: {issue}")
        ok = False
    if not ok:
        return None
    return RunEntry(run_dir, result, files.config, files.env, files.video)


def _check_protocol(protocol: str, runs: list[RunEntry], problems: list[str]) -> None:
    def uniform(what: str, values: dict[Path, object]) -> None:
        distinct = sorted({repr(v) for v in values.values()})
        if len(distinct) > 1:
            detail = "; ".join(f"{p.parent.name}: {v!r}" for p, v in sorted(values.items()))
            problems.append(f"protocol {protocol}: runs differ in {what} ({detail})")

    uniform("dataset content hash", {r.path / "result.json": r.result.dataset.content_sha256 for r in runs})
    mask_ids = sorted({m.id for r in runs for m in r.result.masks.values()})
    for mask_id in mask_ids:
        uniform(
            f"the sha256 of mask {mask_id!r}",
            {
                r.path / "result.json": m.sha256
                for r in runs
                for m in r.result.masks.values()
                if m.id == mask_id
            },
        )
    uniform(
        "evaluation reader",
        {r.path / "result.json": r.result.reader.model_dump() for r in runs if r.result.reader is not None},
    )
    metric_names = sorted({m for r in runs for m in r.result.metrics})
    for name in metric_names:
        uniform(
            f"{name} variant/unit/report scale",
            {
                r.path / "result.json": (m.variant, m.unit, m.report_scale)
                for r in runs
                if (m := r.result.metrics.get(name)) is not None
            },
        )
    by_key: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for r in runs:
        by_key[r.row_key].append(r.path.name)
    for key, dirs in sorted(by_key.items()):
        if len(dirs) > 1:
            problems.append(
                f"protocol {protocol}: runs {dirs} are the same row (kind={key[0]!r}, animator={key[1]!r}, "
                f"guidance={key[2]!r}); keep one or give the animators distinct names"
            )


def collect_results(results_dir: Path | str) -> dict[str, list[RunEntry]]:
    """Validated runs of ``results_dir`` by protocol (sorted by protocol, then run id).

    Raises :class:`ResultsDirError` listing every violation of the module's rules.
    """
    root = Path(results_dir)
    if not root.is_dir():
        raise ResultsDirError([f"{root}: results directory not found"])
    known = list_protocols()
    problems: list[str] = []
    out: dict[str, list[RunEntry]] = {}
    for entry in sorted(root.iterdir()):
        if entry.is_file():
            if entry.suffix != ".md":
                problems.append(f"{entry}: unexpected file (only protocol folders and *.md notes go here)")
            continue
        if entry.name not in known:
            problems.append(f"{entry}: unknown protocol folder; known protocols: {', '.join(known)}")
            continue
        runs: list[RunEntry] = []
        for run_dir in sorted(entry.iterdir()):
            if not run_dir.is_dir():
                if run_dir.suffix != ".md":
                    problems.append(f"{run_dir}: unexpected file (a protocol folder holds run folders)")
                continue
            run = _load_run(run_dir, entry.name, problems)
            if run is not None:
                runs.append(run)
        _check_protocol(entry.name, runs, problems)
        if runs:
            out[entry.name] = runs
    if problems:
        raise ResultsDirError(problems)
    return out
