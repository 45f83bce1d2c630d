"""Unreadable talkbench checkpoints and render caches raise CheckpointError naming the file."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from talkbench.config import RenderConfig
from talkbench.datasets import Sample
from talkbench.renders import _key, render_samples
from talkbench.training.checkpoint import CheckpointError, load_training_state, save_training_state


class _RunsCode:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


KINDS = {
    "truncated": "truncated or corrupt",
    "empty": "the file is empty",
    "text": "not a torch.save file",
    "code": "refused by weights-only loading",
}


def _write_bad(path: Path, kind: str, tmp_path: Path) -> Path:
    good = tmp_path / "good.pt"
    save_training_state(good, {"step": 1, "w": torch.zeros(64, 64)})
    data = good.read_bytes()
    path.write_bytes(
        {
            "truncated": data[: len(data) // 2],
            "empty": b"",
            "text": b"step: 1\n",
            "code": pickle.dumps(_RunsCode(tmp_path / "pwned"), protocol=2),
        }[kind]
    )
    return path


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_training_checkpoint_errors(tmp_path: Path, kind: str) -> None:
    path = _write_bad(tmp_path / "ckpt.pt", kind, tmp_path)
    with pytest.raises(CheckpointError) as info:
        load_training_state(path)
    msg = str(info.value)
    assert str(path) in msg and "talkbench training checkpoint" in msg and KINDS[kind] in msg
    assert isinstance(info.value, ValueError)
    assert not (tmp_path / "pwned").exists()


def test_training_checkpoint_must_hold_a_dict(tmp_path: Path) -> None:
    path = tmp_path / "list.pt"
    torch.save([1, 2], path)
    expected = r"list\.pt: expected a talkbench training checkpoint \(a dict\)"
    with pytest.raises(CheckpointError, match=expected):
        load_training_state(path)


def _sample() -> Sample:
    return Sample(
        subject="s",
        sentence="s001",
        vertices=np.zeros((3, 4, 3), np.float32),
        template=np.zeros((4, 3), np.float32),
        audio=np.zeros(1600, np.float32),
        fps=30.0,
        topology="t",
        faces=np.array([[0, 1, 2]]),
    )


@pytest.mark.parametrize("kind", ["truncated", "code"])
def test_renders_cache_errors(tmp_path: Path, kind: str) -> None:
    samples, cfg = [_sample()], RenderConfig()
    path = tmp_path / f"renders-gt-{_key(samples, cfg, 'h')}.pt"
    _write_bad(path, kind, tmp_path)
    with pytest.raises(CheckpointError) as info:
        render_samples(samples, np.arange(3), cfg, tmp_path, "h", "gt")
    msg = str(info.value)
    assert str(path) in msg and "renders cache" in msg and KINDS[kind] in msg
    assert not (tmp_path / "pwned").exists()


def test_renders_cache_of_other_samples_is_refused(tmp_path: Path) -> None:
    samples, cfg = [_sample()], RenderConfig()
    path = tmp_path / f"renders-gt-{_key(samples, cfg, 'h')}.pt"
    save_training_state(path, {"videos": [torch.zeros(2, 1, 8, 8), torch.zeros(2, 1, 8, 8)], "names": []})
    with pytest.raises(CheckpointError, match="renders cache of 1 videos"):
        render_samples(samples, np.arange(3), cfg, tmp_path, "h", "gt")
