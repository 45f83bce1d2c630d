"""Stage 2: training one animator with the guidance of its grid variant.

Per step (batch size 1, one training sequence, as the official baselines):

``L = λmse·Lrec + λav·(λctc·Lctc + λce·Lce) + λrlv·Lrlv`` (+ CodeTalker's feature regulariser)

* ``Lrec``: the animator's vertex MSE (FaceFormer / CodeTalker / joint audio-text geometry loss),
  or, for the ``phonetic`` / ``both`` variants, the phonetic context-aware loss ``L_pc`` of
  Kim & Kim 2025 (``facial_animator.losses.PhoneticContextAwareLoss``), which *replaces* the MSE;
* ``L_av`` (``av`` / ``both``): the expert's joint CTC/attention loss on differentiable mouth
  renders of the prediction (:class:`talkbench.guidance.AVGuidance`);
* ``Lrlv`` (``av`` / ``both``, part of the AV-guidance recipe; alone in ``lrlv``, so that
  Δ(av − lrlv) is what the lip reader adds): MSE over the lip vertices.

Sequence order is a pure function of (seed, step), the optimizer, the torch RNG and the model are
checkpointed atomically every ``training.checkpoint_every`` steps, so a killed run resumes to the
same parameters as an uninterrupted one.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from facial_animator import RECONSTRUCTION_LOSS, Animator, AnimatorInput, AnimatorSetup, get_animator
from facial_animator.losses import PhoneticContextAwareLoss, lip_vertex_mse

from ..config import AnimatorSpec, BenchConfig, RunSpec
from ..datasets import Sample
from ..guidance import AVGuidance
from ..seeding import seed_everything
from .checkpoint import capture_rng, load_training_state, restore_rng, save_training_state
from .ddp import DistInfo, wrap_model
from .events import EventLog
from .stage1 import TrainedReader

__all__ = ["AnimatorTrainer", "StopTraining", "build_animator_for", "dataset_convention", "sequence_order"]


class StopTraining(Exception):
    """Raise from an ``on_step`` callback to stop a run (the last checkpoint stays on disk)."""


def dataset_convention(protocol: str) -> str:
    """The :data:`facial_animator.base.DATASET_CONVENTIONS` family of a protocol (synth: VOCASET-like)."""
    return "biwi" if protocol.startswith("biwi") else "vocaset"


def build_animator_for(
    spec: AnimatorSpec, num_vertices: int, num_styles: int, fps: float, dataset: str = "vocaset"
) -> Animator:
    """The animator of ``spec`` for a topology of ``num_vertices`` and ``num_styles`` training subjects.

    The one construction contract with every animator, built-in or plug-in:
    ``cls.from_setup(AnimatorSetup(num_vertices, num_styles, fps, dataset), **spec.kwargs)``
    (:meth:`facial_animator.Animator.from_setup`); CodeTalker's ``vq`` section becomes its
    ``vq_config``."""
    cls = get_animator(spec.registry)
    kwargs: dict[str, Any] = dict(spec.kwargs)
    if spec.vq is not None:
        from facial_animator.codetalker import VQConfig

        kwargs["vq_config"] = VQConfig(in_dim=3 * num_vertices, **spec.vq)
    setup = AnimatorSetup(num_vertices=num_vertices, num_styles=num_styles, fps=fps, dataset=dataset)
    try:
        return cls.from_setup(setup, **kwargs)
    except TypeError as exc:
        raise TypeError(
            f"animator {spec.name!r} (registry {spec.registry!r}, {cls.__module__}.{cls.__qualname__}): "
            f"cannot be built from AnimatorSetup and kwargs {sorted(kwargs)}: {exc}"
        ) from exc


def sequence_order(seed: int, step: int, n: int) -> int:
    """Index of the training sequence of ``step``: epoch-wise permutations seeded by (seed, epoch)."""
    epoch, pos = divmod(step, n)
    perm = np.random.default_rng([seed, 7, epoch]).permutation(n)
    return int(perm[pos])


class AnimatorTrainer:
    """Trains one animator of one grid cell for one seed.

    Args:
        run: the grid cell (animator spec + variant + the whole config).
        seed: training seed (model init, dropout, sequence order, crops).
        train_samples: training sequences (their ``speaker_index`` is the style).
        faces / lip_indices: topology faces and lip-vertex ids (``Lrlv`` and the mouth renders).
        expert: the stage-1 expert; required for the ``av`` / ``both`` variants. It is deep-copied,
            so the stage-1 weights stay untouched when it keeps training here.
        device: torch device.
        dist: distributed info (:func:`talkbench.training.ddp.init_distributed`).
    """

    def __init__(
        self,
        run: RunSpec,
        seed: int,
        train_samples: list[Sample],
        faces: np.ndarray | torch.Tensor,
        lip_indices: np.ndarray,
        expert: TrainedReader | None = None,
        device: str | torch.device = "cpu",
        dist: DistInfo | None = None,
    ) -> None:
        if not train_samples:
            raise ValueError("AnimatorTrainer: no training samples")
        self.run = run
        self.config: BenchConfig = run.config
        self.seed = seed
        self.samples = train_samples
        self.device = torch.device(device)
        self.dist = dist or DistInfo()
        first = train_samples[0]
        styles = len({s.subject for s in train_samples if s.speaker_index >= 0})
        from facial_metrics import get_protocol

        num_styles = max(styles, len(get_protocol(self.config.data.protocol).train_subjects))
        seed_everything(seed)
        self.model = build_animator_for(
            run.animator,
            first.template.shape[0],
            num_styles,
            first.fps,
            dataset_convention(self.config.data.protocol),
        ).to(self.device)
        self.module = wrap_model(self.model, self.dist)
        self.lip_indices = torch.as_tensor(np.array(lip_indices), dtype=torch.long, device=self.device)
        g = self.config.guidance
        self.phonetic = (
            PhoneticContextAwareLoss(g.phonetic_window, temperature=g.phonetic_temperature)
            if run.uses_phonetic
            else None
        )
        self.guidance: AVGuidance | None = None
        params = [
            {
                "params": [p for p in self.model.parameters() if p.requires_grad],
                "lr": run.animator.lr or self.config.training.lr,
                "eps": self.config.training.adam_eps,
            }
        ]
        if run.uses_av:
            if expert is None:
                raise ValueError(f"run {run.run_id}: the {run.variant!r} variant needs the stage-1 expert")
            model = copy.deepcopy(expert.model).to(self.device)
            model.train(g.expert_trainable)
            model.requires_grad_(g.expert_trainable)
            self.guidance = AVGuidance(
                model,
                expert.tokenizer,
                torch.as_tensor(faces),
                lip_indices,
                self.config.render,
                g,
                albedo=first.albedo,
            )
            if g.expert_trainable:
                params.append(
                    {"params": list(model.parameters()), "lr": g.expert_lr or self.config.training.lr}
                )
        # foreach: one fused update over all tensors (the CPU default is a Python loop over them)
        self.optimizer = torch.optim.Adam(params, foreach=True)
        self.total_steps = run.animator.steps or self.config.training.steps
        self.step_index = 0
        self.vq_done = run.animator.registry != "codetalker"
        #: logged terms of every step done (restored with a checkpoint): the training curve
        self.history: list[dict[str, float]] = []
        #: CodeTalker's stage-1 loss per step (restored with the stage-1 cache)
        self.vq_history: list[float] = []
        #: seconds spent in training steps, over every resumption (saved with the checkpoint)
        self.train_seconds = 0.0

    # ------------------------------------------------------------------ batches
    def batch_for_step(self, step: int) -> AnimatorInput:
        """The training batch of ``step`` (deterministic in seed and step; sharded across ranks)."""
        from .data import to_animator_input

        n = len(self.samples)
        k = step * self.dist.world_size + self.dist.rank
        sample = self.samples[sequence_order(self.seed, k, n)]
        max_frames = self.config.training.max_frames
        start = 0
        if max_frames is not None and sample.num_frames > max_frames:
            start = int(
                np.random.default_rng([self.seed, 8, k]).integers(0, sample.num_frames - max_frames + 1)
            )
        return to_animator_input(sample, max_frames=max_frames, start=start, device=self.device)

    # ------------------------------------------------------------------ one step
    def losses(
        self, batch: AnimatorInput, use_av: bool | None = None
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Total loss of ``batch`` and its logged parts (no optimizer step)."""
        g = self.config.guidance
        out = self.module(batch)
        pred, target = out.vertices, out.target
        if target is None:
            raise RuntimeError("the animator returned no target; was the batch built with a target?")
        logs: dict[str, float] = {}
        terms: list[torch.Tensor] = []
        rec = self.phonetic(pred, target) if self.phonetic is not None else self._reconstruction(out.losses)
        if self.phonetic is not None and self.run.animator.registry == "codetalker":
            rec = rec * self.model.motion_weight
        terms.append(g.lambda_mse * rec)
        logs["rec"] = float(rec.detach())
        for name, value in out.losses.items():
            if name != RECONSTRUCTION_LOSS:
                terms.append(value)
                logs[name] = float(value.detach())
        if self.run.uses_rlv:
            # Lrlv is a reconstruction term: it is cheap and applied on every step of the AV
            # variants (and alone in ``lrlv``). Applying it only with the (intermittent,
            # ``av_every``) AV term gives Adam periodic gradient spikes on the lip coordinates
            # that leave the lips under-fitted.
            rlv = lip_vertex_mse(pred, target, self.lip_indices)
            terms.append(g.lambda_rlv * rlv)
            logs["rlv"] = float(rlv.detach())
        av_on = self.guidance is not None if use_av is None else use_av
        if av_on and self.guidance is not None:
            clip_pred, clip_audio, clip_text = self._av_clip(pred, batch)
            av = self.guidance(clip_pred, float(batch.fps or self.model.fps), clip_audio, clip_text)
            terms.append(g.lambda_av * av.loss)
            logs.update(av=float(av.loss.detach()), av_ctc=av.ctc, av_att=av.att, av_acc=av.accuracy,
                        av_frames=float(clip_pred.shape[1]))
        total = torch.stack(terms).sum()
        logs["loss"] = float(total.detach())
        return total, logs

    def _reconstruction(self, losses: dict[str, torch.Tensor]) -> torch.Tensor:
        if RECONSTRUCTION_LOSS not in losses:
            raise ValueError(
                f"animator {self.run.animator.name!r} returned losses {sorted(losses)} without "
                f"{RECONSTRUCTION_LOSS!r}: AnimatorOutput.losses[facial_animator.RECONSTRUCTION_LOSS] "
                "must hold the reconstruction loss (docs/adding-an-animator.md)"
            )
        return losses[RECONSTRUCTION_LOSS]

    def _av_clip(
        self, pred: torch.Tensor, batch: AnimatorInput
    ) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
        """The part of the prediction the expert reads: the whole sequence, or a clip of
        ``guidance.av_clip_frames`` frames (start drawn from (seed, step)) with its audio and words."""
        from .data import window_transcript

        clip = self.config.guidance.av_clip_frames
        texts = list(batch.transcript or [""])
        t = pred.shape[1]
        if clip is None or t <= clip or batch.words is None:
            return pred, batch.audio, texts
        fps = float(batch.fps or self.model.fps)
        start = int(np.random.default_rng([self.seed, 9, self.step_index]).integers(0, t - clip + 1))
        spf = 16000.0 / fps
        a0, a1 = round(start * spf), round((start + clip) * spf)
        audio = batch.audio[:, a0:a1]
        if audio.shape[1] < a1 - a0:
            audio = torch.nn.functional.pad(audio, (0, a1 - a0 - audio.shape[1]))
        clip_texts = [window_transcript(w, start / fps, (start + clip) / fps) for w in batch.words]
        if not all(clip_texts):  # a clip without a whole word: read the whole sequence instead
            return pred, batch.audio, texts
        texts = clip_texts
        return pred[:, start : start + clip], audio, texts

    def step(self, batch: AnimatorInput, use_av: bool | None = None) -> dict[str, float]:
        """One optimisation step on ``batch``; returns the logged loss terms."""
        self.module.train()
        if self.guidance is not None:
            self.guidance.expert.train(self.config.guidance.expert_trainable)
        self.optimizer.zero_grad(set_to_none=True)
        total, logs = self.losses(batch, use_av)
        if not torch.isfinite(total):
            raise FloatingPointError(f"run {self.run.run_id} seed {self.seed}: non-finite loss {logs}")
        total.backward()
        clip = self.config.training.grad_clip
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        if clip is not None:
            logs["grad_norm"] = float(torch.nn.utils.clip_grad_norm_(params, clip))
        else:  # the training curve's gradient norm, the gradients left as they are
            grads = [p.grad for p in params if p.grad is not None]
            logs["grad_norm"] = float(torch.nn.utils.get_total_norm(grads)) if grads else 0.0
        self.optimizer.step()
        return logs

    def gradient_norms(self, batch: AnimatorInput) -> dict[str, float]:
        """L2 norms of the gradients of ``Lrec`` and of ``L_av`` (unweighted) w.r.t. the animator's
        parameters, each back-propagated alone: the measurement behind the synthetic presets' λav
        (``λav ≈ ‖∇Lrec‖ / ‖∇L_av‖`` makes the two terms pull with comparable strength)."""
        if self.guidance is None:
            raise ValueError("gradient_norms needs an AV variant (the expert)")
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.module.train()
        out = self.module(batch)
        rec = (
            self.phonetic(out.vertices, out.target)
            if self.phonetic is not None
            else self._reconstruction(out.losses)
        )
        clip_pred, clip_audio, clip_text = self._av_clip(out.vertices, batch)
        av = self.guidance(clip_pred, float(batch.fps or self.model.fps), clip_audio, clip_text).loss

        def norm(loss: torch.Tensor) -> float:
            grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
            return float(torch.sqrt(sum((g.double() ** 2).sum() for g in grads if g is not None)))

        return {
            "rec": norm(rec),
            "av": norm(av),
            "rec_value": float(rec.detach()),
            "av_value": float(av.detach()),
        }

    # ------------------------------------------------------------------ CodeTalker stage 1
    def train_vq(
        self,
        progress: bool = False,
        events: Path | None = None,
        partial: Path | None = None,
        stop: Callable[[], bool] | None = None,
        checkpoint_seconds: float | None = None,
    ) -> list[float]:
        """CodeTalker stage 1: fit the motion VQ-autoencoder to the training sequences, then freeze it.
        Returns (and keeps in ``vq_history``) the loss of every step; with ``events`` a folder, the
        losses also go to TensorBoard event files there (``stage1/loss``).

        With ``partial`` a path, the stage is resumable: its state (step, weights, optimizer, RNG,
        losses) is saved there every ``checkpoint_seconds`` and when ``stop()`` turns true after a
        step (then :class:`StopTraining` is raised), and a later call resumes from it to the same
        weights as an uninterrupted run. The file is removed when the stage ends."""
        import time

        from tqdm import tqdm

        from facial_animator.codetalker import stage1_loss

        cfg = self.config.training
        vq = self.model.autoencoder
        vq.requires_grad_(True)
        vq.train()
        opt = torch.optim.AdamW(vq.parameters(), lr=cfg.vq_lr)
        losses: list[float] = []
        first = 0
        if partial is not None and Path(partial).is_file():
            state = load_training_state(partial, self.device, "a CodeTalker stage-1 partial checkpoint")
            vq.load_state_dict(state["autoencoder"])
            opt.load_state_dict(state["optimizer"])
            losses = [float(x) for x in state["losses"]]
            first = int(state["step"])
            restore_rng(state["rng"])

        def save(step: int) -> None:
            if partial is not None and self.dist.rank == 0:
                save_training_state(
                    partial,
                    {
                        "step": step,
                        "autoencoder": vq.state_dict(),
                        "optimizer": opt.state_dict(),
                        "losses": losses,
                        "rng": capture_rng(),
                    },
                )

        log = None if events is None else EventLog(events, "stage1")
        saved = time.monotonic()
        bar = tqdm(total=cfg.vq_steps, initial=first, desc="codetalker stage 1", disable=not progress)
        for step in range(first, cfg.vq_steps):
            b = self.batch_for_step(step)
            loss, _ = stage1_loss(vq(b.target, b.template), b.target)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
            bar.update(1)
            if log is not None:
                log.add(step + 1, {"loss": losses[-1]})
            if stop is not None and stop():
                save(step + 1)
                if log is not None:
                    log.close()
                raise StopTraining(f"CodeTalker stage 1 stopped after step {step + 1}; saved to {partial}")
            if checkpoint_seconds is not None and time.monotonic() - saved >= checkpoint_seconds:
                save(step + 1)
                saved = time.monotonic()
        bar.close()
        if log is not None:
            log.close()
        vq.requires_grad_(False)
        vq.eval()
        self.vq_done = True
        self.vq_history = losses
        return losses

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "step": self.step_index,
            "vq_done": self.vq_done,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "rng": capture_rng(),
            "history": self.history,
            "vq_history": self.vq_history,
            "train_seconds": self.train_seconds,
        }
        if self.guidance is not None:
            state["expert"] = self.guidance.expert.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.guidance is not None and "expert" in state:
            self.guidance.expert.load_state_dict(state["expert"])
        self.step_index = int(state["step"])
        self.vq_done = bool(state["vq_done"])
        # checkpoints written before the curves were kept have no history: the curve then starts
        # at the resumed step
        self.history = [dict(h) for h in state.get("history", [])]
        self.vq_history = [float(x) for x in state.get("vq_history", [])]
        self.train_seconds = float(state.get("train_seconds", 0.0))
        restore_rng(state["rng"])

    def save(self, path: str | Path) -> Path:
        return save_training_state(path, self.state_dict())

    def resume(self, path: str | Path) -> bool:
        """Load ``path`` when it exists; True when a checkpoint was loaded."""
        if not Path(path).is_file():
            return False
        self.load_state_dict(load_training_state(path, self.device))
        return True

    # ------------------------------------------------------------------ the loop
    def stage1(
        self,
        cache: str | Path | None = None,
        progress: bool = False,
        events: Path | None = None,
        stop: Callable[[], bool] | None = None,
        checkpoint_seconds: float | None = None,
    ) -> None:
        """CodeTalker stage 1, loaded from ``cache`` when present, else trained (and saved there).

        Stage 1 depends only on the animator, the seed, the data and ``training.vq_*``, not on the
        guidance variant, so a grid shares one per (animator, seed). Either way the torch RNG is
        re-seeded afterwards, so stage 2 is the same whether stage 1 was trained or loaded.
        """
        vq = self.model.autoencoder
        if cache is not None and Path(cache).is_file():
            stored = load_training_state(cache, self.device)
            vq.load_state_dict(stored["autoencoder"])
            self.vq_history = [float(x) for x in stored.get("losses", [])]
            vq.requires_grad_(False)
            vq.eval()
            self.vq_done = True
        else:
            partial = None if cache is None else Path(cache).with_suffix(".partial.pt")
            self.train_vq(progress, events, partial, stop, checkpoint_seconds)
            if cache is not None and self.dist.rank == 0:
                save_training_state(cache, {"autoencoder": vq.state_dict(), "losses": self.vq_history})
            if partial is not None and self.dist.rank == 0:
                partial.unlink(missing_ok=True)
        torch.manual_seed(int(np.random.default_rng([self.seed, 10]).integers(2**62)))

    def fit(
        self,
        checkpoint: str | Path | None = None,
        on_step: Callable[[int, dict[str, float]], None] | None = None,
        progress: bool = False,
        vq_cache: str | Path | None = None,
        events: str | Path | None = None,
        stop: Callable[[], bool] | None = None,
        checkpoint_seconds: float | None = None,
    ) -> list[dict[str, float]]:
        """Train to ``training.steps`` (or the animator's own ``steps``), resuming from ``checkpoint``
        when it exists and saving it every ``training.checkpoint_every`` steps and at the end (rank 0
        only). CodeTalker's stage 1 comes from ``vq_cache`` when that file exists (see :meth:`stage1`).
        Every step's logged terms and learning rate are appended to :attr:`history` (saved with the
        checkpoint) and, with ``events`` a folder, written there as TensorBoard events (rank 0;
        stage 1 in its ``stage1`` subfolder). Returns the logs of the steps this call ran.

        ``checkpoint_seconds``: also save the checkpoint when that long has passed since the last save
        (long steps on a cluster). ``stop``: read after every step; when it returns True the checkpoint
        is saved and :class:`StopTraining` raised, so a later call resumes from that very step."""
        import time

        from tqdm import tqdm

        cfg = self.config.training
        if checkpoint is not None:
            self.resume(checkpoint)
        main = self.dist.rank == 0
        events = Path(events) if events is not None and main else None
        if not self.vq_done:
            self.stage1(
                vq_cache, progress, None if events is None else events / "stage1", stop, checkpoint_seconds
            )
            if checkpoint is not None and main:
                self.save(checkpoint)
        logs = []
        every = self.config.guidance.av_every
        bar = tqdm(
            total=self.total_steps,
            initial=self.step_index,
            desc=f"{self.run.run_id} s{self.seed}",
            disable=not progress,
        )
        log_file = None
        if events is not None and self.step_index < self.total_steps:
            log_file = EventLog(events, "train")
        saved = time.monotonic()
        while self.step_index < self.total_steps:
            step = self.step_index
            t_step = time.perf_counter()
            log = self.step(self.batch_for_step(step), use_av=self.guidance is not None and step % every == 0)
            log["lr"] = float(self.optimizer.param_groups[0]["lr"])
            self.step_index = step + 1
            self.train_seconds += time.perf_counter() - t_step
            logs.append(log)
            self.history.append(log)
            if log_file is not None:
                log_file.add(self.step_index, log)
            bar.update(1)
            if step % 25 == 0:
                bar.set_postfix(loss=f"{log['loss']:.3g}")
            stopping = stop is not None and stop()
            due = self.step_index % cfg.checkpoint_every == 0 or self.step_index == self.total_steps
            timed = checkpoint_seconds is not None and time.monotonic() - saved >= checkpoint_seconds
            if checkpoint is not None and main and (due or timed or stopping):
                self.save(checkpoint)
                saved = time.monotonic()
            if stopping:
                bar.close()
                if log_file is not None:
                    log_file.close()
                raise StopTraining(f"{self.run.run_id} s{self.seed}: stopped after step {self.step_index}")
            if on_step is not None:
                on_step(self.step_index, log)
        bar.close()
        if log_file is not None:
            log_file.close()
        self.model.eval()
        return logs

    def parameters(self) -> list[nn.Parameter]:
        return list(self.model.parameters())
