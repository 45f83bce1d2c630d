"""How a grid runs and what it sweeps: the ``cluster`` and ``sweep`` sections of a config.

Neither changes what a cell computes from its own config: ``cluster`` (engine, resources) is part of
no cache key, and a sweep point sets the swept keys in the cell's own config, whose resolved form
is its key. They import nothing of the harness, so :mod:`talkbench.config` holds them as sections.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["SWEEPABLE", "ClusterConfig", "SweepConfig", "SweepValue", "set_key", "sweep_label"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ClusterConfig(_Strict):
    """Where and how the grid's tasks run (``talkbench.grid``). It changes no result, so it is part of
    no cache key: the same grid run serially, on Ray or on SLURM writes the same bytes."""

    #: ``serial``: one process, task after task; ``processes``: worker processes of this machine, each
    #: keeping its corpus and readers between tasks; ``ray``: a Ray cluster (local when
    #: ``ray_address`` is unset); ``slurm``: SLURM job arrays through submitit; ``local``: submitit's
    #: local executor (the SLURM path's jobs run as processes of this machine)
    engine: Literal["serial", "processes", "ray", "slurm", "local"] = "serial"
    gpus_per_task: int = Field(default=0, ge=0)
    #: the CPUs of one compute task, and its torch threads (``None``: the preset's ``torch_threads``,
    #: else 1). Results are bit-identical to a serial run's only at the serial run's thread count.
    cpus_per_task: int | None = Field(default=None, ge=1)
    #: the memory of one compute task (SLURM's ``--mem``; ``processes`` and ``local`` start no more
    #: workers than the machine's memory holds at this much each)
    mem_gb: int = Field(default=16, ge=1)
    #: the wall-time limit of one SLURM task, in minutes (a task stopped by it is requeued and resumes)
    time_min: int = Field(default=240, ge=1)
    partition: str | None = None
    account: str | None = None
    #: further ``#SBATCH`` flags as ``key=value`` (e.g. ``constraint=a100``, ``qos=high``)
    sbatch: list[str] = Field(default_factory=list)
    #: SLURM array parallelism, or the tasks Ray runs at once (``None``: as many as resources allow)
    max_parallel: int | None = Field(default=None, ge=1)
    #: job scripts and logs (``None``: ``<work_dir>/<name>/jobs``)
    log_dir: str | None = None
    #: an existing Ray cluster (``auto`` or ``ray://host:port``); ``None`` starts a local one
    ray_address: str | None = None
    #: time-based checkpoints of long trainings (animators and CodeTalker's stage 1), in minutes
    checkpoint_minutes: float = Field(default=10.0, gt=0)

    @field_validator("sbatch")
    @classmethod
    def _key_values(cls, v: list[str]) -> list[str]:
        for flag in v:
            if "=" not in flag or flag.startswith("-"):
                raise ValueError(f"sbatch flag {flag!r}: write it as key=value, e.g. constraint=a100")
        return v


#: the config sections a sweep may vary: what one cell's training reads (data, renders, readers and
#: evaluation are shared by every cell of a grid, so a sweep over them is a preset per value)
SWEEPABLE: tuple[str, ...] = ("guidance", "training", "animators")

SweepValue = bool | int | float | str


class SweepConfig(_Strict):
    """A sweep: config keys as grid axes. Each point of the axes' product gives every swept cell its
    own run, ``<animator>-<variant>.<key>-<value>`` (e.g. ``faceformer-av.lambda_av-1e-07``); the cells
    not swept run once with the preset's own values and are the reference of the dose-response plot.

    Attributes:
        axes: dotted config key → its values (``guidance.lambda_av: [0, 1.0e-8, 1.0e-7]``).
        variants: the variants swept (``None``: all of the grid's).
        animators: the animators swept, by name (``None``: all).
        reference: the variant each swept cell is compared with on the site (paired intervals).
    """

    axes: dict[str, list[SweepValue]] = Field(min_length=1)
    #: checked against the grid's variants by the config that holds the sweep
    variants: list[str] | None = None
    animators: list[str] | None = None
    reference: Literal["baseline", "lrlv"] = "baseline"

    @model_validator(mode="after")
    def _reference_has_an_effect(self) -> SweepConfig:
        if self.reference == "lrlv" and set(self.variants or ["all"]) - {"av"}:
            raise ValueError(
                "reference 'lrlv' (what the lip reader adds) is stored for the av variant only: "
                "set sweep.variants: [av], or reference: baseline"
            )
        if self.reference in (self.variants or []):
            raise ValueError(f"the reference variant {self.reference!r} cannot be swept itself")
        return self

    @field_validator("axes")
    @classmethod
    def _sweepable(cls, v: dict[str, list[SweepValue]]) -> dict[str, list[SweepValue]]:
        for key, values in v.items():
            if key.split(".")[0] not in SWEEPABLE or "." not in key:
                raise ValueError(
                    f"axis {key!r}: a sweep varies {', '.join(s + '.*' for s in SWEEPABLE)} only (the data, "
                    "renders, readers and evaluation are shared by the grid: run a preset per value)"
                )
            if not values:
                raise ValueError(f"axis {key!r}: no values")
            labels = [sweep_label(x) for x in values]
            if len(set(labels)) != len(labels):
                raise ValueError(f"axis {key!r}: values {values} repeat")
        return v


def sweep_label(value: SweepValue) -> str:
    """A value as a run-id part: ``1e-07``, ``0``, ``true``, ``256``, ``gelu``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format(value, "g")
    return str(value)


def set_key(data: dict[str, Any], key: str, value: Any) -> None:
    node: Any = data
    parts = key.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    if isinstance(node, list):
        node[int(parts[-1])] = value
    else:
        node[parts[-1]] = value
