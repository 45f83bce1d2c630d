"""A plain training step and loop for the lip readers.

Official recipe (auto-avsr, ``methods.md`` §2.9): AdamW (lr 1e-3, betas (0.9, 0.98), weight
decay 0.03), linear warm-up then cosine decay per step, gradient clipping at norm 5.0.

Learning-rate factor of :class:`WarmupCosine` at optimizer step ``s`` (0-based) with ``W``
warm-up steps out of ``S`` total steps::

    f(s) = (s + 1) / W                                       for s < W
    f(s) = r + (1 − r) · ½ (1 + cos(π · (s − W) / (S − W)))   otherwise, clamped at s = S

where ``r = min_ratio`` (0 by default).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import torch
from torch import nn

from .model import LipReader


@dataclass
class Batch:
    """One training batch. Targets (B, L) are token ids padded with −1 (no ``<eos>``)."""

    targets: torch.Tensor
    video: torch.Tensor | None = None
    audio: torch.Tensor | None = None
    video_lengths: torch.Tensor | None = None
    audio_lengths: torch.Tensor | None = None

    def to(self, device: torch.device | str) -> Batch:
        def move(x: torch.Tensor | None) -> torch.Tensor | None:
            return None if x is None else x.to(device)

        return Batch(
            self.targets.to(device), move(self.video), move(self.audio),
            move(self.video_lengths), move(self.audio_lengths),
        )


class WarmupCosine:
    """Learning-rate factor for ``torch.optim.lr_scheduler.LambdaLR`` (formula in the module doc)."""

    def __init__(self, warmup_steps: int, total_steps: int, min_ratio: float = 0.0) -> None:
        if warmup_steps < 0 or total_steps < 1 or warmup_steps > total_steps:
            raise ValueError(
                f"need 0 ≤ warmup_steps ≤ total_steps and total_steps ≥ 1, got {warmup_steps}, {total_steps}"
            )
        self.warmup_steps = warmup_steps
        self.total_steps = total_steps
        self.min_ratio = min_ratio

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        span = max(1, self.total_steps - self.warmup_steps)
        progress = min(1.0, (step - self.warmup_steps) / span)
        return self.min_ratio + (1 - self.min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def make_optimizer(
    model: nn.Module, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.98), weight_decay: float = 0.03
) -> torch.optim.AdamW:
    """AdamW with the official auto-avsr hyper-parameters as defaults."""
    return torch.optim.AdamW(model.parameters(), lr=lr, betas=betas, weight_decay=weight_decay)


def make_scheduler(
    optimizer: torch.optim.Optimizer, warmup_steps: int, total_steps: int, min_ratio: float = 0.0
) -> torch.optim.lr_scheduler.LambdaLR:
    """Per-step warm-up + cosine schedule (call ``scheduler.step()`` after each optimizer step)."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, WarmupCosine(warmup_steps, total_steps, min_ratio))


def train_step(
    model: LipReader,
    batch: Batch,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    grad_clip: float | None = 5.0,
) -> dict[str, float]:
    """One optimisation step on the joint loss; returns the loss terms, accuracy, grad norm and lr."""
    model.train()
    optimizer.zero_grad(set_to_none=True)
    out = model(batch.targets, batch.video, batch.audio, batch.video_lengths, batch.audio_lengths)
    if not torch.isfinite(out.total):
        raise FloatingPointError(
            f"non-finite loss {out.total.item()} (ctc {out.ctc.item()}, att {out.att.item()})"
        )
    out.total.backward()
    max_norm = float("inf") if grad_clip is None else grad_clip
    grad_norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm))
    lr = optimizer.param_groups[0]["lr"]
    optimizer.step()
    if scheduler is not None:
        scheduler.step()
    return {
        "loss": out.total.item(), "ctc": out.ctc.item(), "att": out.att.item(),
        "accuracy": out.accuracy, "grad_norm": grad_norm, "lr": lr,
    }


def fit(
    model: LipReader,
    batches: Iterable[Batch] | Callable[[int], Batch],
    steps: int,
    lr: float = 1e-3,
    warmup_steps: int | None = None,
    weight_decay: float = 0.03,
    grad_clip: float | None = 5.0,
    device: torch.device | str = "cpu",
    on_step: Callable[[int, dict[str, float]], None] | None = None,
) -> list[dict[str, float]]:
    """Train for ``steps`` optimizer steps and return the per-step logs.

    ``batches`` is an iterable of :class:`Batch` (cycled if it runs out) or a function of the step
    index returning a batch. ``warmup_steps`` defaults to 10 % of ``steps``.
    """
    if steps < 1:
        raise ValueError(f"steps must be ≥ 1, got {steps}")
    model.to(device)
    optimizer = make_optimizer(model, lr=lr, weight_decay=weight_decay)
    warm = max(1, steps // 10) if warmup_steps is None else warmup_steps
    scheduler = make_scheduler(optimizer, warm, steps)
    source = _batch_source(batches)
    logs = []
    for step in range(steps):
        log = train_step(model, source(step).to(device), optimizer, scheduler, grad_clip)
        logs.append(log)
        if on_step is not None:
            on_step(step, log)
    return logs


def _batch_source(batches: Iterable[Batch] | Callable[[int], Batch]) -> Callable[[int], Batch]:
    if callable(batches):
        return batches
    cache: list[Batch] = []
    it: Iterator[Batch] | None = iter(batches)

    def get(step: int) -> Batch:
        nonlocal it
        if it is not None:
            try:
                b = next(it)
                cache.append(b)
                return b
            except StopIteration:
                it = None
        if not cache:
            raise ValueError("batches is empty")
        return cache[step % len(cache)]

    return get
