"""Command line of the regression benchmark: ``compare``, ``refresh`` and ``smoke``.

Registered on the ``talkbench`` CLI as ``talkbench regress <command>`` (:data:`regress_app`), and
runnable without it as ``python -m talkbench.regression <command>``. ``compare`` exits with 0 when every
check passes, 1 when a metric regressed (the table is printed either way), and 2 when the inputs cannot
be compared (missing folder, invalid ``result.json``, duplicate rows, bad option).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from ..results.io import ResultFileError
from .bracket import SMOKE_MAX_LVE_RATIO, check_beats_template
from .compare import RegressionInputError, RegressionReport, compare_dirs, load_result_set
from .refresh import refresh_baseline
from .table import format_report
from .tolerance import DEFAULT_K, DEFAULT_REL, DEFAULT_TWO_SIDED, ToleranceRule

__all__ = ["DEFAULT_BASELINE", "compare", "refresh", "regress_app", "smoke"]

#: the committed smoke baseline of this checkout (``benchmarks/regression/smoke``)
DEFAULT_BASELINE = Path(__file__).resolve().parents[3] / "regression" / "smoke"

regress_app = typer.Typer(
    help="CI regression benchmark: compare a run's metrics with the committed smoke baseline.",
    no_args_is_help=True,
)


def _input_error(message: str) -> None:
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code=2)


def _parse_floors(items: list[str]) -> dict[str, float]:
    floors: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            if not sep:
                raise ValueError
            floors[name.strip()] = float(value)
        except ValueError:
            _input_error(f"--abs-floor {item!r}: expected METRIC=VALUE in report units, e.g. cer=2")
    return floors


def _rule(
    k: float, rel: float, abs_floor: list[str], two_sided: str | None, fail_on_improvement: bool
) -> ToleranceRule:
    if two_sided is None:
        sides = DEFAULT_TWO_SIDED
    else:
        sides = tuple(m.strip() for m in two_sided.split(",") if m.strip())
    try:
        rule = ToleranceRule(k=k, rel=rel, two_sided=sides, fail_on_improvement=fail_on_improvement)
        return rule.with_abs_floors(_parse_floors(abs_floor))
    except ValueError as exc:
        _input_error(str(exc))
    raise AssertionError("unreachable")


def _emit(report: RegressionReport, markdown: bool, only_failures: bool) -> None:
    typer.echo(format_report(report, style="markdown" if markdown else "plain", only_failures=only_failures))
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as fh:
            fh.write(format_report(report, style="markdown", only_failures=only_failures))
    if not report.passed:
        typer.secho(
            "error: metrics regressed beyond tolerance (see the table above). If the change is intended, "
            "refresh the baseline (talkbench regress refresh <run results>) and commit it",
            err=True,
            fg=typer.colors.RED,
        )
        raise typer.Exit(code=1)


_K = Annotated[float, typer.Option("--k", help="multiple of the spread over seeds (σ: the larger std)")]
_REL = Annotated[float, typer.Option("--rel", help="relative floor, a fraction of |baseline mean|")]
_ABS = Annotated[
    list[str] | None,
    typer.Option("--abs-floor", help="METRIC=VALUE absolute floor in report units (repeatable)"),
]
_TWO = Annotated[
    str | None,
    typer.Option(
        "--two-sided",
        help="comma-separated metrics that fail on a change in either direction "
        f"(default: {','.join(DEFAULT_TWO_SIDED)}; '' for none)",
    ),
]
_IMPROVE = Annotated[
    bool, typer.Option("--fail-on-improvement", help="also fail when a metric improves beyond tolerance")
]
_MD = Annotated[bool, typer.Option("--markdown", help="print the table as Markdown")]
_ONLY = Annotated[bool, typer.Option("--only-failures", help="list only failing comparisons")]
_BASE = Annotated[Path, typer.Option("--baseline", help="committed baseline folder")]


@regress_app.command("compare")
def compare(
    new: Annotated[Path, typer.Argument(help="results folder of the fresh run (result.json at any depth)")],
    baseline: _BASE = DEFAULT_BASELINE,
    k: _K = DEFAULT_K,
    rel: _REL = DEFAULT_REL,
    abs_floor: _ABS = None,
    two_sided: _TWO = None,
    fail_on_improvement: _IMPROVE = False,
    markdown: _MD = False,
    only_failures: _ONLY = False,
) -> None:
    """Compare a run's metrics with the baseline; exit 1 with a table when any regressed."""
    rule = _rule(k, rel, abs_floor or [], two_sided, fail_on_improvement)
    try:
        report = compare_dirs(new, baseline, rule)
    except (RegressionInputError, ResultFileError) as exc:
        _input_error(str(exc))
    _emit(report, markdown, only_failures)


@regress_app.command("refresh")
def refresh(
    run_results: Annotated[Path, typer.Argument(help="results folder of a smoke run")],
    baseline: _BASE = DEFAULT_BASELINE,
) -> None:
    """Replace the baseline with a run's result.json files (commit the folder afterwards)."""
    try:
        written = refresh_baseline(run_results, baseline)
    except (RegressionInputError, ResultFileError, ValueError) as exc:
        _input_error(str(exc))
    typer.echo(f"wrote {len(written)} result.json files to {baseline}")


@regress_app.command("smoke")
def smoke(
    out: Annotated[Path, typer.Option("--out", help="folder for the fresh run's results (created)")],
    preset: Annotated[str, typer.Option("--preset", help="preset name or config path")] = "smoke",
    baseline: _BASE = DEFAULT_BASELINE,
    k: _K = DEFAULT_K,
    rel: _REL = DEFAULT_REL,
    abs_floor: _ABS = None,
    two_sided: _TWO = None,
    fail_on_improvement: _IMPROVE = False,
    markdown: _MD = False,
    only_failures: _ONLY = False,
    max_lve_ratio: Annotated[
        float,
        typer.Option(
            "--max-lve-ratio",
            help="fail when an animator's baseline LVE / template LVE exceeds this on any seed "
            "(the bracketing check; docs/regression.md)",
        ),
    ] = SMOKE_MAX_LVE_RATIO,
    fresh: Annotated[
        bool,
        typer.Option(
            "--fresh/--cached",
            help="generate the corpus and train the stage-1 readers in a temporary folder (as the CI test "
            "does) instead of reusing the preset's data.root and work_dir",
        ),
    ] = True,
) -> None:
    """Run the smoke preset into OUT, then compare it with the baseline (what CI does)."""
    import tempfile

    from ..config import ConfigError, load_config
    from ..run import run_grid

    rule = _rule(k, rel, abs_floor or [], two_sided, fail_on_improvement)
    if not baseline.is_dir():
        _input_error(f"baseline folder {baseline} does not exist; create it with 'talkbench regress refresh'")
    with tempfile.TemporaryDirectory(prefix="talkbench-smoke-") as scratch:
        tmp = Path(scratch)
        overrides = [f"data.root={tmp / 'corpus'}", f"work_dir={tmp / 'work'}"] if fresh else []
        try:
            config = load_config(preset, overrides)
        except ConfigError as exc:
            _input_error(str(exc))
        run_grid(config, out)
    try:
        report = compare_dirs(out, baseline, rule)
        ratios, too_close = check_beats_template(load_result_set(out), max_lve_ratio)
    except (RegressionInputError, ResultFileError, ValueError) as exc:
        _input_error(str(exc))
    for r in ratios:
        typer.echo(
            f"LVE / template  {r.label}: {r.mean:.3f} (worst seed {r.worst:.3f}, limit {max_lve_ratio})"
        )
    for message in too_close:
        typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    if too_close:
        raise typer.Exit(code=1)
    _emit(report, markdown, only_failures)
