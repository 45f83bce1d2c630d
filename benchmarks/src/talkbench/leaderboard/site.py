"""``build_site``: the static leaderboard as a pure function of the results directory.

Output (``out/``)::

    index.html                      self-contained page (inline CSS + a small table sorter, no network)
    data/leaderboard.json           every table as data (the same content the page shows)
    plots/<protocol>-lve-vs-cer.svg plots/<protocol>-guidance.svg
    runs/<protocol>/<run_id>/       config.yaml, result.json, env.json, per_sample.jsonl, sample.mp4?,
                                    curves.json?, index.html (the per-sample page), poster.png (with
                                    a sample.mp4), curves.svg (the training curves, with a curves.json)
    .talkbench-site                 marker: the folder may be replaced by the next build

The site is written to a temporary sibling folder and swapped in only after everything succeeded; an
existing ``out/`` is replaced only when it is empty or carries the marker. No clock times or absolute
paths are written, so the same results give a byte-identical site; the page names the build's
:class:`BuildInfo` (the commit of the source tree and that commit's date, from git) when one is given,
so a rebuild at the same commit is byte-identical too.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import jinja2

from ..results.curves import CURVES_FILE, TrainingCurve, TrainingCurves
from ..results.io import atomic_write_bytes, atomic_write_text
from ..shipped_manifests import shipped_manifest, shipped_name
from .collect import ResultsDirError, RunEntry, collect_results
from .plots import curves_plot, guidance_plot, lve_vs_cer_plot
from .reported import ReportedNumber, load_reported
from .samples import poster_png, run_page_data
from .sweeps import collect_sweeps, dose_response_plot
from .tables import build_tables

__all__ = [
    "SITE_MARKER",
    "BuildInfo",
    "SiteSummary",
    "build_site",
    "git_build_info",
    "render_index",
    "render_run_page",
]

SITE_MARKER = ".talkbench-site"
_COPIED = ("config.yaml", "result.json", "env.json", "per_sample.jsonl", "sample.mp4", CURVES_FILE)


@dataclass(frozen=True)
class BuildInfo:
    """What the page says about its build: the source commit and its date (``YYYY-MM-DD``)."""

    commit: str
    date: str
    dirty: bool = False


def git_build_info(path: Path | str = ".") -> BuildInfo | None:
    """The commit checked out at ``path``, its committer date and whether tracked files differ from it;
    ``None`` outside a git checkout or without git."""
    import subprocess

    try:
        head = subprocess.run(
            ["git", "-C", str(path), "log", "-1", "--format=%H %cs"],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        ).stdout.split()
        status = subprocess.run(
            ["git", "-C", str(path), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    if len(head) != 2:
        return None
    return BuildInfo(commit=head[0], date=head[1], dirty=bool(status.strip()))


@dataclass(frozen=True)
class SiteSummary:
    """What a build wrote."""

    out_dir: Path
    protocols: tuple[str, ...]
    n_runs: int
    files: tuple[str, ...]


def _environment() -> jinja2.Environment:
    loader = jinja2.FunctionLoader(
        lambda name: resources.files(__package__).joinpath("templates", name).read_text(encoding="utf-8")
    )
    return jinja2.Environment(
        loader=loader,
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _page_meta(tables: list[dict[str, Any]]) -> dict[str, Any]:
    """Column descriptions the sorter reads from the page's embedded JSON."""
    meta: dict[str, Any] = {}
    for t in tables:
        lead = [{"type": "text"}] * 3
        meta[f"runs-{t['protocol']}"] = lead + [
            {"type": "number", "higher_is_better": c["best"] == "higher", "header": c["header"]}
            for c in t["columns"]
        ]
        if t.get("lve_ratio"):
            meta[f"runs-{t['protocol']}"].append(
                {"type": "number", "higher_is_better": False, "header": t["lve_ratio"]["header"]}
            )
        meta[f"guidance-{t['protocol']}"] = [{"type": "text"}] * 2 + [
            {"type": "number", "higher_is_better": c["best"] == "higher", "header": f"Δ {c['header']}"}
            for c in t["columns"]
        ]
    return meta


def render_index(
    tables: list[dict[str, Any]],
    plots: dict[str, dict[str, str]],
    build: BuildInfo | None = None,
    sweeps: bool = False,
) -> str:
    """The HTML of ``index.html`` (every string autoescaped; embedded JSON escaped for a script tag);
    ``sweeps``: link the sweeps page."""
    template = _environment().get_template("index.html.j2")
    return template.render(tables=tables, plots=plots, meta=_page_meta(tables), build=build, sweeps=sweeps)


def render_run_page(page: dict[str, Any]) -> str:
    """The HTML of a run's per-sample page (:func:`talkbench.leaderboard.samples.run_page_data`)."""
    return _environment().get_template("run.html.j2").render(p=page)


def shipped_reader_curve(ref: dict[str, Any] | None) -> tuple[str, TrainingCurves] | None:
    """The learning curve of the shipped reader that ``ref`` (a run's ``reader`` or ``expert``) names.

    ``None`` unless ``ref`` names a shipped reader (``talkbench-judge-<name>``,
    ``talkbench-pretrained-<name>`` or ``<name>`` for ``talkbench/shipped/<name>.json``) whose manifest
    records the checkpoint sha256 the runs record and holds a ``curve`` (manifests written by
    ``talkbench reader train``); a reader trained by the preset itself or another file of the same name
    is not plotted. Returns the reader's name and its curve.
    """
    if ref is None:
        return None
    name = shipped_name(str(ref.get("id", "")))
    if name is None:
        return None
    manifest = shipped_manifest(name)
    if manifest.get("sha256") != ref.get("checkpoint_sha256") or "curve" not in manifest:
        return None
    return name, TrainingCurves(trainings=[TrainingCurve.model_validate(manifest["curve"])])


def _swap_in(tmp: Path, out: Path) -> None:
    if out.exists():
        if not out.is_dir():
            raise FileExistsError(f"{out}: exists and is not a folder")
        if any(out.iterdir()) and not (out / SITE_MARKER).is_file():
            raise FileExistsError(
                f"{out}: not empty and not a leaderboard site (no {SITE_MARKER}); refusing to replace it"
            )
        shutil.rmtree(out)
    tmp.rename(out)


def _write(root: Path, rel: str, data: bytes, files: list[str]) -> None:
    atomic_write_bytes(root / rel, data)
    files.append(rel)


def build_site(
    results_dir: Path | str,
    out_dir: Path | str,
    reported: list[ReportedNumber] | None = None,
    build: BuildInfo | Literal["git"] | None = "git",
    sweeps_dir: Path | str | None = None,
) -> SiteSummary:
    """Validate ``results_dir`` (:func:`~talkbench.leaderboard.collect.collect_results`) and write the site
    (``build``: the commit and date the page names; ``"git"``, the default: those of the git checkout
    the command runs in, :func:`git_build_info`; ``None``: none). With ``sweeps_dir``, the sweeps found
    there (:func:`talkbench.leaderboard.sweeps.collect_sweeps`) get ``sweeps.html``, their dose-response
    plots and ``data/sweeps.json``.

    Raises :class:`~talkbench.leaderboard.collect.ResultsDirError` for invalid results (nothing is
    written then).
    """
    if build == "git":
        build = git_build_info()
    runs_by_protocol: dict[str, list[RunEntry]] = collect_results(results_dir)
    reported = load_reported() if reported is None else reported
    tables = build_tables(runs_by_protocol, reported)
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
    files: list[str] = []
    try:
        plots: dict[str, dict[str, str]] = {}
        for t in tables:
            p = t["protocol"]
            plots[p] = {}
            for kind, svg in (("lve-vs-cer", lve_vs_cer_plot(t)), ("guidance", guidance_plot(t))):
                if svg is not None:
                    rel = f"plots/{p}-{kind}.svg"
                    _write(tmp, rel, svg, files)
                    plots[p][kind] = rel
            # the learning curves of the shipped judge and AV expert the protocol's runs used
            for role, title in (("reader", "evaluation lip reader"), ("expert", "AV-guidance expert")):
                found = shipped_reader_curve(t["provenance"][role])
                if found is None:
                    continue
                name, curve = found
                rel = f"plots/reader-{name}.svg"
                if rel not in files:  # one plot per reader, however many protocols used it
                    training = curve.trainings[0]
                    svg = curves_plot(
                        curve,
                        f"{name} ({title}): {training.steps} training steps, bins of {training.bin_steps}",
                    )
                    if svg is None:
                        continue
                    _write(tmp, rel, svg, files)
                plots[p][f"{role}-curve"] = rel
        rows = {(t["protocol"], r["run_id"]): r for t in tables for r in t["rows"] if r["run_id"]}
        bests = {t["protocol"]: {c["metric"]: c["best"] for c in t["columns"]} for t in tables}
        for protocol, runs in runs_by_protocol.items():
            for entry in runs:
                base = f"runs/{protocol}/{entry.result.run_id}"
                for name in _COPIED:
                    src = entry.path / name
                    if src.is_file():
                        _write(tmp, f"{base}/{name}", src.read_bytes(), files)
                if entry.video is not None:
                    try:
                        _write(tmp, f"{base}/poster.png", poster_png(entry.video), files)
                    except ValueError as exc:
                        raise ResultsDirError([f"{entry.video}: no poster frame: {exc}"]) from exc
                page = run_page_data(entry, rows[(protocol, entry.result.run_id)], bests[protocol])
                curves = page.pop("training_curves")
                if curves is not None:
                    svg = curves_plot(curves, f"{page['label']} {page['guidance']}: training curves")
                    if svg is not None:
                        _write(tmp, f"{base}/curves.svg", svg, files)
                    else:
                        page["curves"] = None
                _write(tmp, f"{base}/index.html", render_run_page(page).encode("utf-8"), files)
        data = {"schema_version": 1, "tables": tables}
        _write(
            tmp,
            "data/leaderboard.json",
            (json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n").encode(
                "utf-8"
            ),
            files,
        )
        series = collect_sweeps(sweeps_dir) if sweeps_dir is not None else []
        for i, sw in enumerate(series):
            sw["id"] = f"sweep-{i}"
            svg = dose_response_plot(sw)
            sw["plot"] = None
            if svg is not None:
                sw["plot"] = f"plots/sweep-{i}.svg"
                _write(tmp, sw["plot"], svg, files)
            values = sorted({p["value"] for m in sw["metrics"].values() for p in m["points"]}, key=float)
            sw["rows"] = [
                {
                    "value": v,
                    "run_id": next(
                        p["run_id"] for m in sw["metrics"].values() for p in m["points"] if p["value"] == v
                    ),
                    "cells": {
                        k: next((p for p in m["points"] if p["value"] == v), None)
                        for k, m in sw["metrics"].items()
                    },
                }
                for v in values
            ]
        if series:
            _write(
                tmp,
                "sweeps.html",
                _environment().get_template("sweeps.html.j2").render(series=series).encode("utf-8"),
                files,
            )
            _write(
                tmp,
                "data/sweeps.json",
                (
                    json.dumps(
                        {"schema_version": 1, "series": series},
                        indent=1,
                        sort_keys=True,
                        ensure_ascii=False,
                        allow_nan=False,
                    )
                    + "\n"
                ).encode("utf-8"),
                files,
            )
        _write(tmp, "index.html", render_index(tables, plots, build, bool(series)).encode("utf-8"), files)
        atomic_write_text(tmp / SITE_MARKER, "generated by `talkbench leaderboard build`; do not edit\n")
        tmp.chmod(0o755)
        _swap_in(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return SiteSummary(
        out_dir=out,
        protocols=tuple(t["protocol"] for t in tables),
        n_runs=sum(len(r) for r in runs_by_protocol.values()),
        files=tuple(sorted(files)),
    )
