"""The non-autoregressive reference animator ``conv_regressor``."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
import torch

from facial_animator import AnimatorInput, build_animator
from facial_animator.testing import AnimatorConformance, synthetic_sequence


class TestConvRegressorConformance(AnimatorConformance):
    animator_name = "conv_regressor"
    config: ClassVar[dict[str, Any]] = {
        "num_vertices": 12, "num_styles": 2, "feature_dim": 16, "audio_encoder_kwargs": {"n_mels": 20}
    }
    num_vertices = 12
    num_styles = 2
    fps = 30.0
    batch_size = 2
    learning_rate = 1e-2
    metric_config: ClassVar[dict[str, Any]] = {**config, "output_scale": 1e-3}  # the synthetic presets


def _model(**kw: Any):
    torch.manual_seed(0)
    args: dict[str, Any] = {"num_vertices": 20, "num_styles": 2, "feature_dim": 16}
    args.update(kw)
    return build_animator("conv_regressor", **args)


def test_receptive_field_is_layers_times_kernel_minus_one_plus_one():
    """Frame t depends on the features of frames t ± L·(k−1)/2 and on no other frame."""
    model = _model(num_layers=2, kernel_size=5)
    for p in model.output.parameters():
        torch.nn.init.normal_(p)
    model.eval()
    feats = torch.randn(1, 40, 16, requires_grad=True)
    h = model.input_map(feats)
    for block in model.blocks:
        h = h + torch.nn.functional.gelu(block(h.transpose(1, 2)).transpose(1, 2))
    h[0, 20].sum().backward()
    touched = (feats.grad[0].abs().sum(-1) > 0).nonzero().flatten().tolist()
    # 2 layers of kernel 5: radius 2·2 = 4 frames on each side
    assert touched == list(range(16, 25))


def test_starts_from_the_template_and_overfits_one_sequence():
    model = _model(num_styles=1, output_scale=0.1)
    audio, template, target = synthetic_sequence(20, 30, 16000)
    style = torch.zeros(1, dtype=torch.long)
    batch = AnimatorInput(audio=audio, template=template, style=style, target=target)
    out = model(batch)
    assert torch.equal(out.vertices, template.unsqueeze(1).expand_as(out.vertices))
    first = float(out.losses["mse"].detach())
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(150):
        loss = model(batch).losses["mse"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss.detach()) < first / 20


def test_output_scale_is_a_reparametrisation():
    """scale s with output weights w/s gives the same vertices as scale 1 with weights w."""
    a = _model(output_scale=1.0)
    b = _model(output_scale=1e-3)
    b.load_state_dict(a.state_dict())
    for p in a.output.parameters():
        torch.nn.init.normal_(p, std=1e-3)
    with torch.no_grad():
        b.output.weight.copy_(a.output.weight / 1e-3)
        b.output.bias.copy_(a.output.bias / 1e-3)
    audio, template, _ = synthetic_sequence(20, 30, 16000)
    torch.testing.assert_close(
        a.predict(audio, template, 1), b.predict(audio, template, 1), rtol=1e-5, atol=1e-7
    )


def test_biwi_pair_rule_gives_25_fps():
    model = _model(dataset="biwi")
    assert model.fps == 25.0
    audio, template, _ = synthetic_sequence(20, 25, 16000)
    # 1 s of audio: ⌊(16000 − 400) / 320⌋ + 1 = 49 frames at 50 Hz → ⌊49 / 2⌋ = 24 pairs
    assert model.predict(audio, template, 0).shape[1] == 24


@pytest.mark.parametrize("kernel", [0, 4])
def test_rejects_even_kernel(kernel: int):
    with pytest.raises(ValueError, match="kernel_size"):
        _model(kernel_size=kernel)
