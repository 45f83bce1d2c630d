"""Performance of the data layer: synthetic-corpus generation and loader throughput.

Run::

    PYTHONPATH=benchmarks/src:packages/facial-metrics/src \
        python -m pytest benchmarks/perf/bm_data.py --benchmark-only

* ``test_generate_default_corpus``: wall time of ``generate_corpus(size="default")`` (12 speakers x 30
  sentences + 8 x 40 pool utterances), two worker processes; the target is at most 120 s on 2 CPU
  cores. One round (the figure is minutes of work, not microseconds).
* ``test_synth_loader_throughput``: reading the train split of a smoke-size corpus through
  :func:`talkbench.datasets.synth_dataset` (vertices, 16 kHz audio, transcript, alignments) and
  padding it into batches of 8; sequences per second go to ``extra_info``.
"""

from __future__ import annotations

import pytest

datasets = pytest.importorskip("talkbench.datasets")


def test_generate_default_corpus(benchmark, tmp_path_factory):
    from talkbench.datasets.synth.corpus import generate_corpus

    roots = iter(tmp_path_factory.mktemp(f"default{i}") for i in range(10))

    def run():
        return generate_corpus(next(roots), seed=0, size="default", workers=2)

    manifest = benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info["sequences"] = len(manifest["sequences"]) + len(manifest["pool"])
    benchmark.extra_info["speech_minutes"] = round(
        sum(e["duration_s"] for e in manifest["sequences"] + manifest["pool"]) / 60, 2
    )
    assert benchmark.stats.stats.max <= 120.0


def test_synth_loader_throughput(benchmark, tmp_path_factory):
    import torch

    from talkbench.datasets import collate_samples, synth_dataset
    from talkbench.datasets.synth.corpus import generate_corpus

    torch.set_num_threads(2)
    root = tmp_path_factory.mktemp("smoke") / "corpus"
    generate_corpus(root, seed=0, size="smoke", workers=2)
    ds = synth_dataset(root, "train")

    def run():
        samples = [ds[i] for i in range(len(ds))]
        return [collate_samples(samples[i : i + 8]) for i in range(0, len(samples), 8)]

    batches = benchmark(run)
    assert sum(b.vertices.shape[0] for b in batches) == len(ds)
    benchmark.extra_info["sequences_per_s"] = len(ds) / benchmark.stats.stats.mean
