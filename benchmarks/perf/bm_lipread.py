"""Forward + backward throughput of the video lip readers at 88×88 on 2 CPU threads.

Run: ``python -m pytest benchmarks/perf/bm_lipread.py --benchmark-only``. The figure of merit is
frames per second (``extra_info["frames_per_s"]`` = frames per call / mean seconds per call).
The ``base`` preset is the official 250M-parameter model: one short clip, batch 1, few rounds
(about 2.3 GB of memory for weights, gradients and activations).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

lipread_expert = pytest.importorskip("lipread_expert")

CASES = [  # preset, batch, frames per clip, rounds
    ("tiny", 2, 25, 5),
    ("small", 2, 25, 3),
    ("base", 1, 8, 2),
]


@pytest.fixture(autouse=True)
def _two_threads() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize(("preset", "batch", "frames", "rounds"), CASES, ids=[c[0] for c in CASES])
def test_video_forward_backward_frames_per_second(
    benchmark, preset: str, batch: int, frames: int, rounds: int
) -> None:
    torch.manual_seed(0)
    tok = lipread_expert.CharTokenizer()
    # The official output size (5049), so that ``base`` is exactly the 250M-parameter VSR model.
    model = lipread_expert.LipReader.from_preset(preset, "video", lipread_expert.OFFICIAL_ODIM).train()
    video = torch.randn(batch, frames, 1, 88, 88)
    targets, _ = tok.batch_encode(["BIN BLUE"] * batch)

    def step() -> None:
        model.zero_grad(set_to_none=True)
        model(targets, video).total.backward()

    benchmark.pedantic(step, rounds=rounds, iterations=1, warmup_rounds=1)
    benchmark.extra_info["frames_per_call"] = batch * frames
    benchmark.extra_info["frames_per_s"] = batch * frames / benchmark.stats.stats.mean
    benchmark.extra_info["parameters"] = sum(p.numel() for p in model.parameters())
