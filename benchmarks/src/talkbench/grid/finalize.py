"""The last task of a grid: check that its rows can share a table, store the guidance effects.

:func:`check_rows` refuses rows whose ``cache_key`` is stale or that were judged by different readers
(or guided by different experts); :func:`attach_guidance_effects` stores each guided run's paired
effect against its animator's baseline (and an ``av`` run's against its ``lrlv`` run,
``talkbench.results.effects``); :func:`template_warnings` names the trained rows that do not beat the
motionless template.
"""

from __future__ import annotations

from pathlib import Path

from ..config import ConfigError, RunSpec
from ..results import load_result
from ..results.effects import guidance_effect, per_sample_sha256
from ..results.io import write_result
from ..results.rundir import load_run_dir
from .cells import BRACKET_ROWS, row_key
from .context import GridContext

__all__ = [
    "GridError",
    "attach_guidance_effects",
    "check_rows",
    "effects_current",
    "finalize",
    "template_warnings",
]


class GridError(ConfigError):
    """Rows of a grid that cannot be put side by side (stale, or judged by different readers)."""


def check_rows(ctx: GridContext, specs: list[RunSpec] | None = None) -> None:
    """Raise :class:`GridError` when a finished row of the grid is stale (its ``cache_key`` is not what
    this code, config and data compute) or when rows were judged by different readers (or guided by
    different experts), naming them: such rows cannot share a table."""
    specs = ctx.config.run_specs() if specs is None else specs
    stale: list[str] = []
    judges: dict[str, list[str]] = {}
    experts: dict[str, list[str]] = {}
    expected = {run_id: row_key(ctx, run_id) for run_id in BRACKET_ROWS}
    expected.update({s.run_id: ctx.cell_key(s) for s in specs})
    for run_id, key in expected.items():
        path = ctx.out_dir() / run_id / "result.json"
        if not path.is_file():
            continue
        result = load_result(path)
        if result.cache_key != key:
            stale.append(run_id)
        if result.reader is not None:
            judges.setdefault(result.reader.checkpoint_sha256, []).append(run_id)
        if result.expert is not None:
            experts.setdefault(result.expert.checkpoint_sha256, []).append(run_id)
    problems = []
    if stale:
        problems.append(
            f"stale rows (computed by other code, config or data): {', '.join(stale)}; rerun them "
            f"(talkbench run --preset {ctx.config.name})"
        )
    for what, by in (("reader", judges), ("expert", experts)):
        if len(by) > 1:
            parts = "; ".join(f"{sha[:12]}: {', '.join(ids)}" for sha, ids in by.items())
            problems.append(f"rows judged by different {what}s ({parts})")
    if problems:
        raise GridError(f"{ctx.out_dir()}: " + "; ".join(problems))


def effects_current(ctx: GridContext, specs: list[RunSpec] | None = None) -> bool:
    """Whether every guided run stores its effects against the current records of its finished
    reference runs (what :func:`attach_guidance_effects` would leave as it is)."""
    for spec in ctx.config.run_specs() if specs is None else specs:
        guided_dir = ctx.out_dir() / spec.run_id
        if spec.variant == "baseline" or not (guided_dir / "result.json").is_file():
            continue
        result = load_result(guided_dir / "result.json")
        for field, ref_dir in _references(ctx, spec).items():
            effect = getattr(result, field)
            if effect is None or effect.baseline_per_sample_sha256 != per_sample_sha256(
                load_run_dir(ref_dir).records
            ):
                return False
    return True


def finalize(ctx: GridContext, specs: list[RunSpec] | None = None) -> list[str]:
    """The last task of a grid: refuse rows that cannot share a table (:func:`check_rows`), store the
    guidance effects (:func:`attach_guidance_effects`); returns the template warnings."""
    check_rows(ctx, specs)
    attach_guidance_effects(ctx, specs)
    dirs = [ctx.out_dir() / r for r in BRACKET_ROWS]
    dirs += [ctx.out_dir() / s.run_id for s in (ctx.config.run_specs() if specs is None else specs)]
    return template_warnings(dirs)


def _references(ctx: GridContext, spec: RunSpec) -> dict[str, Path]:
    """The finished reference runs of a guided cell: ``guidance_effect`` → its animator's baseline, and
    for an ``av`` cell ``lip_reader_effect`` → its animator's ``lrlv`` run."""
    refs = {"guidance_effect": RunSpec(config=spec.config, animator=spec.animator, variant="baseline").run_id}
    if spec.variant == "av":
        refs["lip_reader_effect"] = RunSpec(config=spec.config, animator=spec.animator, variant="lrlv").run_id
    return {k: ctx.out_dir() / r for k, r in refs.items() if (ctx.out_dir() / r / "result.json").is_file()}


def attach_guidance_effects(ctx: GridContext, specs: list[RunSpec] | None = None) -> list[Path]:
    """Store in each guided run's ``result.json`` its paired-bootstrap effect against the baseline run
    of the same animator (``talkbench.results.effects``) and, for an ``av`` run, its effect against
    the animator's ``lrlv`` run (``lip_reader_effect``); returns the run directories it (re)wrote.

    An effect whose reference folder holds no finished run is left as it is; a stored effect that
    already equals the recomputed one is not rewritten (so a cached grid stays byte-identical).
    """
    written: list[Path] = []
    for spec in ctx.config.run_specs() if specs is None else specs:
        guided_dir = ctx.out_dir() / spec.run_id
        refs = _references(ctx, spec)
        if spec.variant == "baseline" or not refs or not (guided_dir / "result.json").is_file():
            continue
        guided = load_run_dir(guided_dir)
        update = {}
        for field, ref_dir in refs.items():
            ref = load_run_dir(ref_dir)
            update[field] = guidance_effect(ref.result, ref.records, guided.result, guided.records)
        if all(getattr(guided.result, k) == v for k, v in update.items()):
            continue
        write_result(guided_dir / "result.json", guided.result.model_copy(update=update))
        ctx.say(f"{spec.run_id}: effects against {' and '.join(d.name for d in refs.values())} stored")
        written.append(guided_dir)
    return written


def template_warnings(dirs: list[Path]) -> list[str]:
    """One warning per method run whose LVE is not below the template row's (the motionless mean
    face): a model that does worse than not moving has not learned the task, usually because its
    output scale does not suit the preset's recipe (docs/adding-an-animator.md, "Output scale")."""
    results = {}
    for d in dirs:
        if (d / "result.json").is_file():
            results[d.name] = load_result(d / "result.json")
    template = results.get("template")
    if template is None or "lve" not in template.metrics or template.metrics["lve"].value <= 0:
        return []
    ref = template.metrics["lve"].value
    out = []
    for run_id, res in results.items():
        if res.kind != "method" or "lve" not in res.metrics:
            continue
        ratio = res.metrics["lve"].value / ref
        if ratio >= 1.0:
            out.append(
                f"warning: {res.animator.name} {res.guidance.label} ({run_id}) does not beat the motionless "
                f"template: LVE / template {ratio:.2f}; check its output scale against the preset's recipe "
                '(docs/adding-an-animator.md, "Output scale")'
            )
    return out
