"""Multi-process training: DistributedSampler sharding and a 2-process gloo DDP run on CPU."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from torch.utils.data import DistributedSampler

from talkbench.training.ddp import DistInfo, shard_indices


@pytest.mark.parametrize(("n", "world"), [(7, 2), (8, 2), (10, 3)])
def test_shards_equal_distributed_sampler(n: int, world: int) -> None:
    for rank in range(world):
        sampler = DistributedSampler(list(range(n)), num_replicas=world, rank=rank, shuffle=False)
        assert shard_indices(list(range(n)), DistInfo(world, rank, rank)) == list(sampler)


def _rank_env(rank: int, world: int, port: int) -> None:
    """What torchrun sets for one rank of a one-machine gloo group, and one thread per rank."""
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        WORLD_SIZE=str(world),
        RANK=str(rank),
        LOCAL_RANK=str(rank),
    )
    torch.set_num_threads(1)


def _worker(rank: int, world: int, port: int, corpus: str, work: str, out: str) -> None:
    _rank_env(rank, world, port)
    from talkbench.config import load_config
    from talkbench.training.animator import AnimatorTrainer
    from talkbench.training.data import load_masks, load_split
    from talkbench.training.ddp import init_distributed

    config = load_config(
        "smoke",
        (
            "data.corpus_size=tiny",
            "training.max_frames=20",
            "data.generate=false",
            f"data.root={corpus}",
            f"work_dir={work}",
            "training.steps=2",
        ),
    )
    info = init_distributed()
    spec = next(
        s for s in config.run_specs() if s.animator.registry == "faceformer" and s.variant == "baseline"
    )
    samples = load_split(config, "train")
    trainer = AnimatorTrainer(
        spec, 0, samples, samples[0].faces, load_masks(config)["lip"].indices, dist=info
    )
    names = [trainer.batch_for_step(s).transcript[0] for s in range(2)]
    trainer.fit()
    flat = torch.cat([p.detach().flatten() for p in trainer.model.parameters()])
    torch.save({"params": flat, "names": names}, Path(out) / f"rank{rank}.pt")
    torch.distributed.destroy_process_group()


@pytest.mark.slow(seconds=20)
def test_two_process_gloo_ddp_keeps_ranks_in_sync(tiny_corpus: Path, tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(
        _worker, args=(2, port, str(tiny_corpus), str(tmp_path / "work"), str(tmp_path)), nprocs=2, join=True
    )
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert r0["names"] != r1["names"]  # each rank trained on its own shard of the sequences
    assert torch.equal(r0["params"], r1["params"])  # gradients were averaged: identical models


def _grid_worker(rank: int, world: int, port: int, corpus: str, work: str, results: str) -> None:
    _rank_env(rank, world, port)
    from talkbench.config import load_config
    from talkbench.run import run_grid

    config = load_config(
        "smoke",
        (
            "data.protocol=synth",
            "render.camera_scale=8.0",
            "expert.pretrained=synth-av-v1",
            "reader.judge=synth-video-v1",
            "data.corpus_size=tiny",
            "training.max_frames=20",
            "data.generate=false",
            f"data.root={corpus}",
            f"work_dir={work}",
            "training.steps=2",
            "seeds=[0]",
            "variants=[baseline]",
            "eval.max_styles=1",
            "eval.max_sentences_per_speaker=1",
            "sample_videos=false",
            "torch_threads=1",
        ),
    )
    config = config.model_copy(update={"animators": config.animators[:1]})
    run_grid(config, results, progress=False, say=lambda _: None)
    torch.distributed.destroy_process_group()


@pytest.mark.slow(seconds=18)
def test_a_grid_under_two_ranks_trains_together_and_rank0_writes(tiny_corpus: Path, tmp_path: Path) -> None:
    from talkbench.results import load_result

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    results = tmp_path / "results"
    mp.spawn(
        _grid_worker,
        args=(2, port, str(tiny_corpus), str(tmp_path / "work"), str(results)),
        nprocs=2,
        join=True,
    )  # a rank waiting on the other's task lock would hang here
    names = sorted(p.name for p in (results / "synth").iterdir())
    assert names == ["faceformer-baseline", "ground-truth", "template"]
    assert load_result(results / "synth" / "faceformer-baseline" / "result.json").seeds == [0]
