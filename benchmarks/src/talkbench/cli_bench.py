"""Benchmark commands of the ``talkbench`` CLI: ``run``, ``plan``, ``status``, ``task``, ``train``, ``eval``,
``render``."""

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
        engine: str | None = typer.Option(
            None,
            help="serial | processes (worker processes of this machine) | ray | slurm | local "
            "(submitit's local executor); default: the preset's cluster.engine. slurm submits and "
            "returns: follow with `talkbench status`",
        ),
    ) -> None:
        """The whole job: corpus (if missing), stage-1 readers, animator grid, evaluation, results, site.
        Rerunning it runs only what is missing or failed; SIGTERM stops it at a step boundary."""
        from .grid.engines import ENGINES
        from .grid.stop import stop_handlers, stop_requested
        from .run import run_grid

        logging.basicConfig(level=logging.INFO)
        config = _load(preset, overrides or [], fail)
        engine = engine or config.cluster.engine
        if engine not in ENGINES:
            fail(f"--engine {engine!r}: expected one of {', '.join(ENGINES)}")
        t0 = time.perf_counter()
        with stop_handlers():  # SIGTERM / SIGUSR2: stop at a step boundary, checkpoint saved
            dirs = run_grid(config, results, progress=progress_enabled(), say=_say, engine=engine)
        if engine == "slurm":
            return
        if stop_requested():
            _say(f"grid {config.name}: stopped by a signal; rerun the same command to resume")
            raise typer.Exit(75)
        _say(f"grid {config.name}: {len(dirs)} run directories in {time.perf_counter() - t0:.0f} s")
        if build_site:
            from .leaderboard.cli import DEFAULT_SWEEPS
            from .leaderboard.site import build_site as build

            summary = build(results, site, sweeps_dir=DEFAULT_SWEEPS if DEFAULT_SWEEPS.is_dir() else None)
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
        from .grid.cells import train_seed, train_stage1
        from .grid.plan import stage1_trainer
        from .grid.stop import stop_handlers, stop_requested
        from .run import prepare
        from .training.animator import StopTraining

        config = _load(preset, overrides or [], fail)
        spec = _spec(config, animator, variant, fail)
        ctx = prepare(config, _RESULTS, progress_enabled(), _say)
        with stop_handlers():
            if spec.animator.registry == "codetalker":  # trained by the first cell it serves, as in a grid
                train_stage1(ctx, stage1_trainer(config, spec), seed, stop_requested)
            try:
                trainer = train_seed(ctx, spec, seed, stop=stop_requested)
            except StopTraining as exc:
                _say(f"{exc}; checkpoint saved, rerun to resume")
                raise typer.Exit(75) from None
        _say(
            f"{spec.run_id} seed {seed}: {trainer.step_index} steps, checkpoint {ctx.checkpoint(spec, seed)}"
        )

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
        from .grid.cells import BRACKET_ROWS
        from .run import attach_guidance_effects, evaluate_row, prepare, run_cell

        config = _load(preset, overrides or [], fail)
        ctx = prepare(config, results, progress_enabled(), _say)
        if animator is None:
            for row in BRACKET_ROWS:
                evaluate_row(ctx, row)
        for spec in config.run_specs():
            if animator is not None and animator not in (spec.animator.name, spec.animator.registry):
                continue
            if variant is not None and spec.variant != variant:
                continue
            _say(str(run_cell(ctx, spec)))
        if ctx.dist.rank == 0:
            attach_guidance_effects(ctx)

    @app.command("plan")
    def plan_cmd(
        preset: str = typer.Option("default", "--preset", "-p"),
        overrides: list[str] | None = typer.Argument(None, help="config overrides key=value"),
    ) -> None:
        """The grid's tasks by level, what each waits for and the resources it asks for."""
        from .grid.plan import levels, plan_grid
        from .grid.tasks import task_resources

        config = _load(preset, overrides or [], fail)
        tasks = plan_grid(config)
        for i, level in enumerate(levels(tasks)):
            typer.echo(f"level {i} ({len(level)} tasks)")
            for t in level:
                cpus, gpus = task_resources(config, t)
                res = f"{cpus} cpu, {gpus} gpu" if t.compute else f"{cpus} cpu"
                after = ", ".join(t.deps) if len(t.deps) <= 4 else f"{len(t.deps)} tasks"
                typer.echo(f"  {t.id:<40} [{res}]" + (f"  after {after}" if t.deps else ""))
        typer.echo(f"{len(tasks)} tasks in {len(levels(tasks))} levels")

    @app.command("status")
    def status_cmd(
        preset: str = typer.Option("default", "--preset", "-p"),
        overrides: list[str] | None = typer.Argument(None, help="config overrides key=value"),
        results: Path = typer.Option(_RESULTS, help="results folder"),
        all_tasks: bool = typer.Option(False, "--all", help="list done tasks too"),
    ) -> None:
        """Each task of the grid as done, running, failed or missing (rerunning `talkbench run` runs
        the missing and failed ones)."""
        from collections import Counter

        from .grid.tasks import grid_states

        config = _load(preset, overrides or [], fail)
        states = grid_states(config, results)
        for s in states:
            if all_tasks or s.state != "done":
                typer.echo(f"{s.state:<8} {s.task.id}" + (f"  {s.detail}" if s.detail else ""))
        counts = Counter(s.state for s in states)
        summary = ", ".join(f"{counts[k]} {k}" for k in ("done", "running", "failed", "missing") if counts[k])
        typer.echo(f"{config.name}: {len(states)} tasks: {summary}")

    @app.command("task")
    def task_cmd(
        task_id: str = typer.Argument(..., help="a task id of `talkbench plan`, e.g. train/faceformer-av/s0"),
        preset: str = typer.Option("default", "--preset", "-p"),
        overrides: list[str] | None = typer.Argument(None, help="config overrides key=value"),
        results: Path = typer.Option(_RESULTS, help="results folder"),
    ) -> None:
        """Run one task of the grid (what a worker runs); exit status 75 when SIGTERM / SIGUSR2 stopped
        it at a step boundary (rerun to resume)."""
        from .grid.plan import task_by_id
        from .grid.tasks import run_task

        config = _load(preset, overrides or [], fail)
        try:
            task_by_id(config, task_id)
        except KeyError as exc:
            fail(str(exc.args[0]))
        outcome = run_task(config, results, task_id, say=_say, progress=progress_enabled())
        _say(f"{task_id}: {outcome}")
        if outcome == "stopped":
            raise typer.Exit(75)

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
