"""Benchmark commands of the ``talkbench`` CLI: ``run``, ``train``, ``eval``, ``render``."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import typer

from .progress import progress_enabled

__all__ = ["register"]

_RESULTS = Path("leaderboard/results")
_SITE = Path("leaderboard/site")


def _load(preset: str, overrides: list[str], fail: Callable[[str], None]):
    from .config import ConfigError, load_config

    try:
        return load_config(preset, overrides)
    except ConfigError as exc:
        fail(str(exc))
        raise


def _say(msg: str) -> None:
    typer.echo(f"[{time.strftime('%H:%M:%S')}] {msg}", err=True)


def _spec(config, animator: str, variant: str, fail: Callable[[str], None]):
    for spec in config.run_specs():
        if animator in (spec.animator.name, spec.animator.registry) and spec.variant == variant:
            return spec
    names = sorted({s.animator.name for s in config.run_specs()})
    fail(
        f"no grid cell animator={animator!r} variant={variant!r}; "
        f"animators: {names}, variants: {config.variants}"
    )
    raise AssertionError


def register(app: typer.Typer, fail: Callable[[str], None]) -> None:
    """Add the benchmark commands to ``app``."""

    @app.command("run")
    def run_cmd(
        preset: str = typer.Option(
            "default",
            "--preset",
            "-p",
            help="preset name (smoke, default, paper-vocaset, paper-biwi) or YAML path",
        ),
        overrides: list[str] | None = typer.Argument(
            None, help="config overrides key=value, e.g. training.steps=50"
        ),
        results: Path = typer.Option(
            _RESULTS, help="results folder (runs go to <results>/<protocol>/<run_id>)"
        ),
        site: Path = typer.Option(_SITE, "--site-dir", help="leaderboard site folder"),
        build_site: bool = typer.Option(
            True, "--site/--no-site", help="build the leaderboard site afterwards"
        ),
    ) -> None:
        """The whole job: corpus (if missing), stage-1 readers, animator grid, evaluation, results, site."""
        from .run import run_grid

        logging.basicConfig(level=logging.INFO)
        config = _load(preset, overrides or [], fail)
        t0 = time.perf_counter()
        dirs = run_grid(config, results, progress=progress_enabled(), say=_say)
        _say(f"grid {config.name}: {len(dirs)} run directories in {time.perf_counter() - t0:.0f} s")
        if build_site:
            from .leaderboard.site import build_site as build

            summary = build(results, site)
            _say(f"site: {summary.out_dir / 'index.html'} ({summary.n_runs} runs)")

    @app.command("train")
    def train_cmd(
        animator: str = typer.Option(..., help="animator name or registry name of the preset's grid"),
        variant: str = typer.Option("baseline", help="baseline | av | phonetic | both"),
        seed: int = typer.Option(0, help="training seed"),
        preset: str = typer.Option("default", "--preset", "-p"),
        overrides: list[str] | None = typer.Argument(None, help="config overrides key=value"),
    ) -> None:
        """Train one grid cell for one seed (resumes from its checkpoint). Multi-GPU: run under torchrun."""
        from .run import prepare

        config = _load(preset, overrides or [], fail)
        spec = _spec(config, animator, variant, fail)
        ctx = prepare(config, _RESULTS, progress_enabled(), _say)
        ckpt = ctx.checkpoint(spec, seed)
        logs = ctx.trainer(spec, seed).fit(
            ckpt, progress=progress_enabled(), vq_cache=ctx.stage1_cache(spec, seed)
        )
        _say(f"{spec.run_id} seed {seed}: {len(logs)} steps, checkpoint {ckpt}")

    @app.command("eval")
    def eval_cmd(
        preset: str = typer.Option("default", "--preset", "-p"),
        overrides: list[str] | None = typer.Argument(None, help="config overrides key=value"),
        results: Path = typer.Option(_RESULTS, help="results folder"),
        animator: str | None = typer.Option(
            None, help="only this animator (default: every cell + bracketing rows)"
        ),
        variant: str | None = typer.Option(None, help="only this variant"),
    ) -> None:
        """Evaluate grid cells (training whatever checkpoint is missing) and write their run directories."""
        from .run import _bracket_rows, attach_guidance_effects, prepare, run_cell

        config = _load(preset, overrides or [], fail)
        ctx = prepare(config, results, progress_enabled(), _say)
        if animator is None:
            _bracket_rows(ctx)
        for spec in config.run_specs():
            if animator is not None and animator not in (spec.animator.name, spec.animator.registry):
                continue
            if variant is not None and spec.variant != variant:
                continue
            _say(str(run_cell(ctx, spec)))
        if ctx.dist.rank == 0:
            attach_guidance_effects(ctx)

    @app.command("render")
    def render_cmd(
        out: Path = typer.Argument(..., help="output .mp4"),
        animator: str = typer.Option(..., help="animator name or registry name"),
        variant: str = typer.Option("baseline"),
        seed: int = typer.Option(0),
        sample: int = typer.Option(0, help="index of the test sequence"),
        preset: str = typer.Option("default", "--preset", "-p"),
        overrides: list[str] | None = typer.Argument(None, help="config overrides key=value"),
    ) -> None:
        """Side-by-side video (prediction | ground truth | error heat map) with audio, from a trained cell."""
        import numpy as np
        import torch

        from mesh_renderer import render_video

        from .renders import camera_for
        from .run import prepare
        from .training.data import load_split, to_animator_input

        config = _load(preset, overrides or [], fail)
        spec = _spec(config, animator, variant, fail)
        ctx = prepare(config, _RESULTS, progress_enabled(), _say)
        ckpt = ctx.checkpoint(spec, seed)
        if not ckpt.is_file():
            fail(
                f"{ckpt}: no checkpoint; train first: talkbench train --preset {preset} "
                f"--animator {animator} --variant {variant} --seed {seed}"
            )
        trainer = ctx.trainer(spec, seed)
        trainer.resume(ckpt)
        tests = load_split(config, "test")
        if not 0 <= sample < len(tests):
            fail(f"--sample {sample}: the test split has {len(tests)} sequences")
        s = tests[sample]
        inp = to_animator_input(s, style=0, device=ctx.device)
        pred = trainer.model.predict(
            inp.audio, inp.template, inp.style, transcript=inp.transcript, words=inp.words
        )[0].cpu()
        gt = torch.from_numpy(s.vertices.copy())
        n = min(len(pred), len(gt))
        path = render_video(
            pred[:n],
            torch.from_numpy(np.asarray(s.faces)),
            out,
            fps=s.fps,
            gt=gt[:n],
            audio=(s.audio, 16000),
            camera=camera_for(config.render.model_copy(update={"image_size": 224})),
            albedo=s.albedo,
            cull_backfaces=s.albedo is not None,
        )
        typer.echo(f"wrote {path}")
