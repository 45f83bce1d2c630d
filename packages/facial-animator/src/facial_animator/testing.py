"""Conformance test kit for animators: subclass :class:`AnimatorConformance` in a pytest module.

Example (in the new animator's ``tests/test_my_animator.py``)::

    from facial_animator.testing import AnimatorConformance

    class TestMyAnimatorConformance(AnimatorConformance):
        animator_name = "my_animator"
        config = {"num_vertices": 12, "num_styles": 2}
        num_vertices = 12
        num_styles = 2
        fps = 30.0

The subclass inherits the standard CPU tests: registry visibility, the harness contract
(``from_setup`` and the reconstruction-loss key), class attributes, output shapes
and frame count, predict without targets, a deterministic forward under a seed, a ``state_dict``
round trip, a few training steps that lower the loss, an output scale that suits vertices in metres
(the first Adam steps of the synthetic presets' recipe move the mesh by millimetres, not
centimetres), and clear errors on bad input. Override
:meth:`AnimatorConformance.make_animator` or :meth:`AnimatorConformance.make_batch` for models
that need more (e.g. a tokenizer).
"""

from __future__ import annotations

import io
import math
from typing import Any, ClassVar

import pytest
import torch
from torch import Tensor

from .base import AUDIO_SAMPLE_RATE, RECONSTRUCTION_LOSS, SETUP_FIELDS, Animator, AnimatorInput, AnimatorSetup
from .registry import build_animator, get_animator, list_animators

__all__ = ["AnimatorConformance", "synthetic_sequence"]


def synthetic_sequence(
    num_vertices: int, num_frames: int, num_samples: int, *, batch_size: int = 1, seed: int = 0,
    fps: float = 30.0,
) -> tuple[Tensor, Tensor, Tensor]:
    """Deterministic (audio, template, target) for tests.

    A chirp-like waveform and vertices whose offsets follow the audio envelope, so a model can
    learn the mapping. Shapes ``(B, S)``, ``(B, V, 3)``, ``(B, T, V, 3)``.
    """
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(num_samples) / AUDIO_SAMPLE_RATE
    envelope = 0.5 + 0.5 * torch.sin(2 * math.pi * 1.5 * t)
    audio = (envelope * torch.sin(2 * math.pi * (200 + 300 * envelope) * t)).float()
    audio = audio + 0.01 * torch.randn(num_samples, generator=g)
    audio = audio.expand(batch_size, -1).clone()
    template = torch.randn(batch_size, num_vertices, 3, generator=g)
    frame_t = torch.arange(num_frames) / fps
    frame_env = 0.5 + 0.5 * torch.sin(2 * math.pi * 1.5 * frame_t)
    direction = torch.randn(num_vertices, 3, generator=g)
    target = template.unsqueeze(1) + 0.1 * frame_env.view(1, -1, 1, 1) * direction
    return audio, template, target


class AnimatorConformance:
    """Base class of the standard animator tests (not collected itself: its name has no ``Test`` prefix).

    Class attributes to set:
        animator_name: registry name.
        config: keyword arguments of :func:`~facial_animator.registry.build_animator` (a tiny model).
        num_vertices, num_styles, fps: what the configured model expects.
        seconds: audio length of the synthetic batch.
        batch_size: items in the synthetic batch.
        train_steps, learning_rate: the loss-lowering check.
        transcript: used when the animator requires text.
    """

    animator_name: ClassVar[str] = ""
    config: ClassVar[dict[str, Any]] = {}
    num_vertices: ClassVar[int] = 0
    num_styles: ClassVar[int] = 1
    fps: ClassVar[float] = 30.0
    seconds: ClassVar[float] = 1.0
    batch_size: ClassVar[int] = 1
    train_steps: ClassVar[int] = 5
    learning_rate: ClassVar[float] = 1e-3
    transcript: ClassVar[str] = "the quick brown fox"
    #: keyword arguments of the model as the synthetic presets train it on vertices in metres (``None``:
    #: ``config``); the output-scale check builds it so
    metric_config: ClassVar[dict[str, Any] | None] = None
    #: the largest RMS displacement (metres) from the template that the first ``scale_steps`` Adam
    #: steps of the synthetic presets' recipe may cause: speech moves the lips by millimetres
    max_first_steps_motion: ClassVar[float] = 1e-3
    scale_steps: ClassVar[int] = 5

    # ---------------------------------------------------------------- helpers
    def make_animator(self, seed: int = 0) -> Animator:
        torch.manual_seed(seed)
        return build_animator(self.animator_name, **self.config)

    @property
    def num_samples(self) -> int:
        return int(self.seconds * AUDIO_SAMPLE_RATE)

    @property
    def num_frames(self) -> int:
        # two frames fewer than the audio covers, so every frame-rate rule keeps them all
        return int(self.seconds * self.fps) - 2

    def make_batch(self, with_target: bool = True, seed: int = 0) -> AnimatorInput:
        audio, template, target = synthetic_sequence(
            self.num_vertices, self.num_frames, self.num_samples, batch_size=self.batch_size, seed=seed,
            fps=self.fps,
        )
        style = torch.arange(self.batch_size, dtype=torch.long) % self.num_styles
        text = [self.transcript] * self.batch_size
        return AnimatorInput(
            audio=audio, template=template, style=style, target=target if with_target else None,
            transcript=text, fps=self.fps,
        )

    def predict_kwargs(self, batch: AnimatorInput) -> dict[str, Any]:
        return {"transcript": batch.transcript} if batch.transcript is not None else {}

    # ---------------------------------------------------------------- tests
    def test_registry_visibility(self) -> None:
        assert self.animator_name in list_animators()
        animator = self.make_animator()
        assert get_animator(self.animator_name) is type(animator)
        assert type(animator).name == self.animator_name

    def test_class_attributes(self) -> None:
        animator = self.make_animator()
        assert isinstance(animator, Animator)
        for flag in ("supports_style", "autoregressive", "requires_text"):
            assert isinstance(getattr(type(animator), flag), bool), flag
        assert animator.audio_sample_rate == AUDIO_SAMPLE_RATE
        assert math.isclose(animator.fps, self.fps)
        assert animator.num_vertices == self.num_vertices
        assert animator.num_styles == self.num_styles

    def test_forward_shapes_and_losses(self) -> None:
        animator = self.make_animator()
        animator.train()
        batch = self.make_batch()
        out = animator(batch)
        assert out.vertices.shape == (self.batch_size, self.num_frames, self.num_vertices, 3)
        assert out.vertices.dtype == torch.float32
        assert out.losses, "a forward with a target must report at least one loss"
        for name, value in out.losses.items():
            assert value.dim() == 0 and torch.isfinite(value), name
        assert out.target is not None and out.target.shape == out.vertices.shape
        out.loss.backward()
        grads = [p.grad for p in animator.parameters() if p.requires_grad and p.grad is not None]
        assert grads and any(g.abs().sum() > 0 for g in grads)

    def test_harness_contract(self) -> None:
        """What a training harness relies on: construction from an :class:`AnimatorSetup` plus the
        remaining config, and the reconstruction loss under :data:`RECONSTRUCTION_LOSS`."""
        cls = get_animator(self.animator_name)
        setup = AnimatorSetup(num_vertices=self.num_vertices, num_styles=self.num_styles, fps=self.fps)
        rest = {k: v for k, v in self.config.items() if k not in SETUP_FIELDS}
        torch.manual_seed(0)
        animator = cls.from_setup(setup, **rest)
        assert (animator.num_vertices, animator.num_styles) == (self.num_vertices, self.num_styles)
        assert math.isclose(animator.fps, self.fps)
        out = animator(self.make_batch())
        assert RECONSTRUCTION_LOSS in out.losses, (
            f"forward with a target must report the reconstruction loss as losses[{RECONSTRUCTION_LOSS!r}]"
        )
        assert out.target is not None

    def test_predict_without_target(self) -> None:
        animator = self.make_animator()
        animator.train()
        batch = self.make_batch(with_target=False)
        pred = animator.predict(batch.audio, batch.template, batch.style, **self.predict_kwargs(batch))
        assert animator.training, "predict must restore the training mode"
        expected = self.seconds * self.fps
        assert pred.shape[0] == self.batch_size and pred.shape[2:] == (self.num_vertices, 3)
        assert abs(pred.shape[1] - expected) <= 2, (
            f"{pred.shape[1]} frames for {self.seconds} s at {self.fps} fps"
        )
        assert torch.isfinite(pred).all()

    def test_deterministic_forward_under_seed(self) -> None:
        animator = self.make_animator()
        batch = self.make_batch()
        animator.train()
        results = []
        for _ in range(2):
            torch.manual_seed(123)
            results.append(animator(batch).vertices.detach())
        torch.testing.assert_close(results[0], results[1], rtol=0, atol=0)
        animator.eval()
        with torch.no_grad():
            torch.testing.assert_close(animator(batch).vertices, animator(batch).vertices, rtol=0, atol=0)

    def test_state_dict_round_trip(self) -> None:
        source = self.make_animator(seed=0)
        with torch.no_grad():  # make outputs depend on every parameter, zero-initialised ones included
            for p in source.parameters():
                p.add_(0.01 * torch.randn_like(p))
        buffer = io.BytesIO()
        torch.save(source.state_dict(), buffer)
        buffer.seek(0)
        clone = self.make_animator(seed=1)
        clone.load_state_dict(torch.load(buffer, weights_only=True), strict=True)
        batch = self.make_batch(with_target=False)
        kwargs = self.predict_kwargs(batch)
        torch.testing.assert_close(
            clone.predict(batch.audio, batch.template, batch.style, **kwargs),
            source.predict(batch.audio, batch.template, batch.style, **kwargs),
        )

    def test_training_steps_lower_the_loss(self) -> None:
        animator = self.make_animator()
        animator.train()
        batch = self.make_batch()
        params = [p for p in animator.parameters() if p.requires_grad]
        optimizer = torch.optim.Adam(params, lr=self.learning_rate)
        losses = []
        for step in range(self.train_steps + 1):
            torch.manual_seed(step)
            loss = animator(batch).loss
            losses.append(float(loss.detach()))
            if step < self.train_steps:
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        assert losses[-1] < losses[0], f"loss did not fall: {losses}"

    def test_first_steps_move_the_mesh_by_millimetres(self) -> None:
        """The output scale suits vertices in metres (docs/adding-an-animator.md, "Output scale").

        A face of ~5 cm radius whose vertices move by ~1 mm, trained with the synthetic presets'
        recipe (Adam, lr 1e-3, ε 1e-14): after ``scale_steps`` steps the prediction's RMS
        displacement from the template must stay below ``max_first_steps_motion`` (1 mm, the size of
        the motion it fits; a head emitting metres moves it by 4-13 mm, one emitting millimetres by
        about 0.01 mm). ``metric_config`` builds the model as the synthetic presets do. Adam moves
        every weight by about lr per step whatever the gradient's size, so a zero-initialised head
        that emits metres moves the mesh by centimetres on its first steps and never settles on
        millimetre motion (a GRU of width 16 written so reached LVE 5x the motionless template's);
        emitting millimetres (offsets x 1e-3, as the built-ins' ``motion_scale`` / ``output_scale``)
        fixes it."""
        torch.manual_seed(0)
        animator = build_animator(self.animator_name, **(self.metric_config or self.config))
        animator.train()
        batch = self.make_batch()
        template = 0.05 * batch.template / batch.template.abs().amax().clamp_min(1e-12)
        motion = batch.target - batch.template[:, None]
        target = template[:, None] + 1e-3 * motion / motion.abs().amax().clamp_min(1e-12)
        batch = AnimatorInput(
            audio=batch.audio, template=template, style=batch.style, target=target,
            transcript=batch.transcript, fps=batch.fps,
        )
        params = [p for p in animator.parameters() if p.requires_grad]
        optimizer = torch.optim.Adam(params, lr=1e-3, eps=1e-14)
        for step in range(self.scale_steps):
            torch.manual_seed(step)
            loss = animator(batch).loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            torch.manual_seed(self.scale_steps)
            pred = animator(batch).vertices
        rms = float((pred - template[:, None]).pow(2).mean().sqrt())
        assert rms < self.max_first_steps_motion, (
            f"{self.animator_name}: {self.scale_steps} Adam steps (lr 1e-3) on vertices in metres moved the "
            f"mesh by {rms * 1e3:.2f} mm RMS from the template, for 1 mm of motion; emit offsets in "
            "millimetres (multiply the output by 1e-3) so the synthetic presets' recipe can train it "
            "(docs/adding-an-animator.md, \"Output scale\")"
        )

    def test_bad_inputs_raise_clear_errors(self) -> None:
        animator = self.make_animator()
        batch = self.make_batch()
        cases = {
            "template": AnimatorInput(batch.audio, batch.template[:, :-1], batch.style, batch.target,
                                      transcript=batch.transcript),
            "NaN": AnimatorInput(batch.audio * float("nan"), batch.template, batch.style, batch.target,
                                 transcript=batch.transcript),
            "style": AnimatorInput(batch.audio, batch.template, batch.style + self.num_styles, batch.target,
                                   transcript=batch.transcript),
            "audio": AnimatorInput(batch.audio[0], batch.template, batch.style, batch.target,
                                   transcript=batch.transcript),
        }
        for needle, bad in cases.items():
            with pytest.raises(ValueError, match=needle):
                animator(bad)
        with pytest.raises(TypeError):
            animator(batch.audio)  # not an AnimatorInput
