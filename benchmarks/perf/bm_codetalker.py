"""CodeTalker autoregressive decoding: the official full-prefix loop vs the cached equivalent.

Audio features are precomputed (random decoder memory of the right shape), so only the decoding
stage is timed: the stage-2 transformer, quantisation and the stage-1 VQ decoder that the official
loop re-runs over the whole prefix at every step. Official widths (d = 1024, stage 1 as released),
log-mel front-end so no wav2vec2 weights are built. Run with
``python -m pytest benchmarks/perf/bm_codetalker.py --benchmark-only``.
"""

from __future__ import annotations

import pytest
import torch

from facial_animator.codetalker import CodeTalker

CASES = {"vocaset": 30, "biwi": 25}  # frames decoded (the official loop is O(T²) at full width)


@pytest.fixture(scope="module", autouse=True)
def _threads():
    n = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(n)


def _setup(dataset: str) -> tuple[CodeTalker, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    model = CodeTalker(dataset, audio_encoder="logmel").eval()
    torch.nn.init.normal_(model.feat_map.weight, std=0.02)
    frames = CASES[dataset]
    memory = torch.randn(1, frames * model.audio_frames_per_motion_frame, model.feature_dim)
    style = model.style_embedding(torch.tensor([0]))
    return model, memory, style


@pytest.mark.parametrize("dataset", sorted(CASES))
@pytest.mark.parametrize("loop", ["official", "cached"])
def test_codetalker_decoding(benchmark, dataset: str, loop: str) -> None:
    model, memory, style = _setup(dataset)
    frames = CASES[dataset]
    decode = model.decode_full_prefix if loop == "official" else model.decode_cached
    with torch.no_grad():
        out = benchmark.pedantic(decode, args=(memory, style, frames), rounds=1, iterations=1)
    assert out.shape == (1, frames, model.num_vertices * 3)  # equality is checked in the unit tests
    benchmark.extra_info.update(dataset=dataset, frames=frames, loop=loop)
