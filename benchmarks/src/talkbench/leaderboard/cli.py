"""``talkbench leaderboard``: build the static leaderboard site from a results directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .collect import ResultsDirError
from .site import build_site

__all__ = ["DEFAULT_OUT", "DEFAULT_RESULTS", "DEFAULT_SWEEPS", "app"]

DEFAULT_RESULTS = Path("leaderboard/results")
DEFAULT_OUT = Path("leaderboard/site")
DEFAULT_SWEEPS = Path("leaderboard/sweeps")

app = typer.Typer(
    help="Build the static leaderboard from run results.", no_args_is_help=True, add_completion=False
)


@app.callback()
def _leaderboard() -> None:
    """Static leaderboard: a pure function of the results directory."""


@app.command()
def build(
    results: Annotated[Path, typer.Option("--results", help="results directory to read")] = DEFAULT_RESULTS,
    out: Annotated[Path, typer.Option("--out", help="folder the site is written to")] = DEFAULT_OUT,
    sweeps: Annotated[
        Path, typer.Option("--sweeps", help="folder of sweep results (<sweeps>/<preset>/...), when present")
    ] = DEFAULT_SWEEPS,
) -> None:
    """Validate every run under RESULTS (and SWEEPS) and write the site (index.html, sweeps.html, data/,
    plots/, runs/) to OUT."""
    try:
        # the page names this checkout's commit and date
        summary = build_site(results, out, sweeps_dir=sweeps if sweeps.is_dir() else None)
    except ResultsDirError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from None
    except (FileExistsError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from None
    typer.echo(
        f"wrote {summary.out_dir / 'index.html'}: {summary.n_runs} run(s), "
        f"protocols {', '.join(summary.protocols) or '(none)'}"
    )
