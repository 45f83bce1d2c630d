"""facial-animator performance: KV-cached FaceFormer decoding vs the official full-prefix loop.

Target: with audio features precomputed, the autoregressive decoding stage of ``FaceFormer.predict``
(KV cache) is at least 10× faster than the official recomputation (decoder and output map re-run
over the whole prefix at every step) at 600 frames on CPU, for the VOCASET (V = 5023, d = 64) and
BIWI (V = 23370, d = 128) configurations. End-to-end ``predict`` with the base wav2vec2 encoder
(random init) is timed as well.

Run: ``python -m pytest benchmarks/perf/bm_animator.py --benchmark-only``
(``PYTHONPATH=packages/facial-animator/src`` when the package is not installed). Torch runs with
2 intra-op threads; ``TALKBENCH_BENCH_THREADS=1`` overrides it (on an oversubscribed machine two
threads make every small op wait on a descheduled peer, which penalises the step-by-step loop).
"""

from __future__ import annotations

import os
import time

import pytest
import torch

from facial_animator.models.faceformer import FaceFormer

FRAMES = 600
CONFIGS = {
    "vocaset": dict(num_vertices=5023, feature_dim=64),
    "biwi": dict(num_vertices=23370, feature_dim=128),
}


@pytest.fixture(autouse=True)
def _threads():
    previous = torch.get_num_threads()
    torch.set_num_threads(int(os.environ.get("TALKBENCH_BENCH_THREADS", "2")))
    yield
    torch.set_num_threads(previous)


def _decoder_only_model(dataset: str) -> FaceFormer:
    torch.manual_seed(0)
    # the audio encoder is not used: features are precomputed; log-mel keeps the build light
    model = FaceFormer(dataset, audio_encoder="logmel", **CONFIGS[dataset]).eval()
    with torch.no_grad():
        model.vertice_map_r.weight.normal_(0, 0.01)
        model.vertice_map_r.bias.normal_(0, 0.01)
    return model


@pytest.mark.parametrize("dataset", ["vocaset", "biwi"])
def test_cached_decoding_speedup_600_frames(benchmark, dataset):
    model = _decoder_only_model(dataset)
    memory = torch.randn(1, FRAMES * model.audio_frames_per_motion_frame, model.feature_dim)
    style = model.style_embedding(torch.tensor([0]))

    def cached() -> torch.Tensor:
        with torch.no_grad():
            return model.decode_cached(memory, style, FRAMES)

    out = benchmark.pedantic(cached, rounds=3, iterations=1, warmup_rounds=1)
    start = time.perf_counter()
    with torch.no_grad():
        reference = model.decode_full_prefix(memory, style, FRAMES)
    full_prefix_s = time.perf_counter() - start
    cached_s = benchmark.stats.stats.min
    speedup = full_prefix_s / cached_s
    benchmark.extra_info.update(
        threads=torch.get_num_threads(), frames=FRAMES, cached_min_s=cached_s,
        full_prefix_s=full_prefix_s, speedup=speedup,
        max_abs_diff=float((out - reference).abs().max()),
    )
    print(f"\n{dataset}: cached {cached_s:.3f} s, full prefix {full_prefix_s:.3f} s, "
          f"speed-up {speedup:.1f}x")
    assert float((out - reference).abs().max()) <= 1e-5
    assert speedup >= 10, f"{dataset}: cached decoding only {speedup:.1f}x faster than the full-prefix loop"


@pytest.mark.parametrize(("dataset", "seconds"), [("vocaset", 20.01), ("biwi", 24.01)])
def test_end_to_end_predict_base_wav2vec2(benchmark, dataset, seconds):
    torch.manual_seed(0)
    model = FaceFormer(dataset).eval()  # base-960h architecture, random init
    audio = torch.randn(1, int(seconds * 16000))
    template = torch.zeros(1, model.num_vertices, 3)
    pred = benchmark.pedantic(lambda: model.predict(audio, template, 0), rounds=1, iterations=1)
    benchmark.extra_info.update(
        frames=int(pred.shape[1]), audio_seconds=seconds, threads=torch.get_num_threads()
    )
    assert pred.shape[1] == 600
