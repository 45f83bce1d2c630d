"""Replace the committed baseline with a run's results (``result.json`` files only).

The baseline folder mirrors the results layout, ``<baseline>/<protocol>/<run_id>/result.json``; the
per-sample files, configs and videos stay with the run. Every source file is validated first and two
files of the same row are refused (:func:`~talkbench.regression.compare.load_result_set`). The new
baseline is assembled in a temporary sibling folder and swapped in only when complete; ``*.md`` notes at
the top of an existing baseline folder are kept.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from ..results.io import atomic_write_bytes
from .compare import load_result_set, row_key, row_label

__all__ = ["refresh_baseline"]


def refresh_baseline(run_results: Path | str, baseline_dir: Path | str) -> list[Path]:
    """Copy every ``result.json`` under ``run_results`` into ``baseline_dir`` (replacing its content).

    Returns the written files, sorted. Raises ``RegressionInputError`` / ``ResultFileError`` (nothing
    is changed then) when the source is missing, empty, invalid or holds one row twice.
    """
    source = Path(run_results)
    target = Path(baseline_dir)
    results = load_result_set(source, what="run results")
    if target.resolve() == source.resolve() or source.resolve() in target.resolve().parents:
        raise ValueError(f"baseline folder {target} must lie outside the run results {source}")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        for path, result in results.values():
            dest = staging / result.protocol / result.run_id / "result.json"
            if dest.exists():
                raise ValueError(
                    f"{path}: run id {result.run_id!r} ({row_label(row_key(result))}) is used by another "
                    "row of the same protocol"
                )
            atomic_write_bytes(dest, path.read_bytes())
        if target.is_dir():
            for note in sorted(target.glob("*.md")):
                shutil.copy2(note, staging / note.name)
            old = target.with_name(f".{target.name}.old")
            if old.exists():
                shutil.rmtree(old)
            target.rename(old)
            staging.rename(target)
            shutil.rmtree(old)
        else:
            staging.rename(target)
    except BaseException:
        if staging.exists():
            shutil.rmtree(staging)
        raise
    return sorted(target.rglob("result.json"))
