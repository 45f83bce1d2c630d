"""The tutorial's example animator: conformance kit and one-sequence overfit."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from facial_animator import AnimatorInput, build_animator
from facial_animator.testing import AnimatorConformance, synthetic_sequence


class TestExampleMLPConformance(AnimatorConformance):
    animator_name = "example_mlp"
    config: ClassVar[dict[str, Any]] = {"num_vertices": 12, "num_styles": 2, "hidden_dim": 32, "n_mels": 20}
    metric_config: ClassVar[dict[str, Any]] = {**config, "output_scale": 1e-3}
    num_vertices = 12
    num_styles = 2
    fps = 30.0
    batch_size = 2
    learning_rate = 1e-2


def test_example_overfits_one_sequence():
    torch.manual_seed(0)
    model = build_animator("example_mlp", num_vertices=50, num_styles=2)
    audio, template, target = synthetic_sequence(num_vertices=50, num_frames=28, num_samples=16000)
    batch = AnimatorInput(audio, template, style=torch.tensor([1]), target=target, fps=30.0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = float(model(batch).loss.detach())
    for _ in range(150):
        loss = model(batch).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    final = float(model(batch).loss.detach())
    assert final < first / 100, (first, final)
    assert model.predict(audio, template, style=1).shape == (1, int(49 / 50 * 30), 50, 3)
