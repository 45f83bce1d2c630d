"""Motion tokens of FaceFormer-style decoders: ``motion_scale`` and rollout training.

* ``motion_scale`` s is a reparametrisation: a model with scale s whose ``vertice_map`` weight is
  multiplied by s and whose ``vertice_map_r`` weight and bias are divided by s computes exactly
  what the scale-1 (official) model computes.
* rollout training: without dropout, the training forward (a no-grad cached rollout feeding one
  causal pass) returns the autoregressive prediction of ``predict`` and the loss of that prediction.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F

from facial_animator import AnimatorInput, build_animator

TEXT = "place blue at four now"
WORDS = [("place", 0.1, 0.3), ("blue", 0.3, 0.5), ("at", 0.5, 0.6), ("four", 0.6, 0.8), ("now", 0.8, 0.9)]


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _build(name: str, **kw: Any):
    torch.manual_seed(0)
    args: dict[str, Any] = {
        "num_vertices": 15,
        "num_styles": 3,
        "feature_dim": 16,
        "audio_encoder": "logmel",
        "audio_encoder_kwargs": {"output_dim": 16},
        "dropout": 0.0,
    }
    args.update(kw)
    model = build_animator(name, **args)
    for p in model.vertice_map_r.parameters():  # zero at init: give the output layer some weight
        torch.nn.init.normal_(p, std=0.3)
    return model


def _text(name: str) -> dict[str, Any]:
    return {"transcript": [TEXT], "words": [WORDS]} if name == "joint_audio_text" else {}


def _data(frames: int):
    g = torch.Generator().manual_seed(1)
    audio = torch.randn(1, 16000, generator=g)
    template = 0.1 * torch.randn(1, 15, 3, generator=g)
    target = template.unsqueeze(1) + 1e-3 * torch.randn(1, frames, 15, 3, generator=g)
    return audio, template, target


@pytest.mark.parametrize("name", ["faceformer", "joint_audio_text"])
def test_motion_scale_is_a_reparametrisation(name: str):
    s = 1e-3
    official = _build(name)
    scaled = _build(name, motion_scale=s)
    assert list(scaled.state_dict()) == list(official.state_dict())
    state = {k: v.clone() for k, v in official.state_dict().items()}
    state["vertice_map.weight"] = state["vertice_map.weight"] * s
    state["vertice_map_r.weight"] = state["vertice_map_r.weight"] / s
    state["vertice_map_r.bias"] = state["vertice_map_r.bias"] / s
    scaled.load_state_dict(state)
    audio, template, target = _data(29)
    kw = _text(name)
    torch.testing.assert_close(
        scaled.predict(audio, template, 1, **kw), official.predict(audio, template, 1, **kw),
        rtol=1e-4, atol=1e-6,
    )
    batch = AnimatorInput(audio=audio, template=template, style=torch.tensor([1]), target=target, **kw)
    official.train(), scaled.train()
    official.teacher_forcing = scaled.teacher_forcing = True
    torch.testing.assert_close(scaled(batch).vertices, official(batch).vertices, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", ["faceformer", "joint_audio_text"])
@pytest.mark.parametrize("scale", [1.0, 1e-3])
def test_rollout_training_forward_is_the_autoregressive_prediction(name: str, scale: float):
    model = _build(name, rollout_training=True, motion_scale=scale)
    audio, template, _ = _data(1)
    kw = _text(name)
    pred = model.predict(audio, template, 2, **kw)
    frames = pred.shape[1]
    _, _, target = _data(frames)
    model.train()
    out = model(AnimatorInput(audio=audio, template=template, style=torch.tensor([2]), target=target, **kw))
    assert out.vertices.requires_grad
    torch.testing.assert_close(out.vertices.detach(), pred, rtol=1e-4, atol=2e-6)  # float32 rounding
    torch.testing.assert_close(out.losses["mse"].detach(), F.mse_loss(pred, target), rtol=1e-4, atol=0.0)
    # teacher forcing on the same batch feeds the ground truth instead: a different prediction
    model.rollout_training, model.teacher_forcing = False, True
    tf = model(AnimatorInput(audio=audio, template=template, style=torch.tensor([2]), target=target, **kw))
    assert not torch.allclose(tf.vertices.detach(), pred, atol=1e-5)


def test_rollout_training_gradient_reaches_every_trained_parameter():
    model = _build("faceformer", rollout_training=True)
    audio, template, _ = _data(1)
    frames = model.predict(audio, template, 0).shape[1]
    _, _, target = _data(frames)
    model.train()
    model(AnimatorInput(audio=audio, template=template, style=torch.tensor([0]), target=target)).losses[
        "mse"
    ].backward()
    missing = [
        n for n, p in model.named_parameters() if p.requires_grad and (p.grad is None or not p.grad.any())
    ]
    assert missing == []


@pytest.mark.parametrize("bad", [0.0, -1.0])
def test_motion_scale_must_be_positive(bad: float):
    with pytest.raises(ValueError, match="motion_scale"):
        _build("faceformer", motion_scale=bad)
