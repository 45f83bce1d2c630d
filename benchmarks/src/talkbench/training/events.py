"""TensorBoard event files of the trainings (``tensorboardX``'s writer: no TensorFlow, no tensorboard).

A grid writes one folder per training under ``<work_dir>/<preset>/tensorboard/``:
``<run_id>/s<seed>`` (the animator: every logged term as ``train/<term>``) and
``<run_id>/s<seed>/stage1`` for CodeTalker's stage 1 (``stage1/loss``), so

    tensorboard --logdir data/work/default/tensorboard

shows a grid's trainings side by side (``pip install tensorboard`` for the viewer; the files are
written without it). Event files hold wall-clock times and live in the work folder, never in the
results; the run directory keeps the deterministic compact copy (:mod:`talkbench.results.curves`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["EventLog"]


class EventLog:
    """Scalars of one training, written as they come (``add``) and flushed by ``close``."""

    def __init__(self, log_dir: Path | str, prefix: str) -> None:
        from tensorboardX import SummaryWriter

        self.log_dir = Path(log_dir)
        self.prefix = prefix
        self._writer: Any = SummaryWriter(logdir=str(self.log_dir), flush_secs=30)

    def add(self, step: int, logs: Mapping[str, float]) -> None:
        """Write every finite term of one step (``step``: steps done, counting from 1)."""
        for name, value in logs.items():
            value = float(value)
            if math.isfinite(value):
                self._writer.add_scalar(f"{self.prefix}/{name}", value, step)

    def close(self) -> None:
        self._writer.close()

    def __enter__(self) -> EventLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
