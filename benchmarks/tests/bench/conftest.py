"""Fixtures of the benchmark-engine tests: a miniature config on the session's tiny synthetic corpus."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from talkbench.config import BenchConfig, load_config

#: a grid small enough for unit tests: nano readers, d = 8 animators, a handful of steps
TINY_OVERRIDES = (
    "training.steps=6",
    "training.checkpoint_every=2",
    "training.vq_steps=2",
    "training.max_frames=20",
    "expert.steps=2",
    "expert.batch_size=2",
    "reader.steps=2",
    "reader.batch_size=2",
    "eval.max_styles=2",
    "eval.max_sentences_per_speaker=1",
    "guidance.av_every=1",
    "data.corpus_size=tiny",
    "sample_videos=false",
)


@pytest.fixture()
def tiny_config(tiny_corpus: Path, tmp_path: Path, face_v1_overrides: tuple[str, ...]) -> BenchConfig:
    """The smoke preset at unit-test size on the session's tiny corpus (synth-face-v1)."""
    torch.set_num_threads(2)
    return load_config(
        "smoke",
        (*TINY_OVERRIDES, *face_v1_overrides, f"data.root={tiny_corpus}", f"work_dir={tmp_path / 'work'}",
         "data.generate=false"),
    )


@pytest.fixture(scope="session")
def engine_reference(tmp_path_factory: pytest.TempPathFactory):
    """The engines' tiny grid run by the serial engine, once per session (:mod:`.engine_grid`)."""
    from .engine_grid import reference

    return reference(tmp_path_factory)
