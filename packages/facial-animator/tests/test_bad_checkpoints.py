"""Unreadable checkpoint files raise :class:`CheckpointError` naming the file and what was expected."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch

from facial_animator import CheckpointError
from facial_animator.codetalker import read_state_dict
from facial_animator.models.faceformer import FaceFormer


class _RunsCode:
    """Pickles to a call of ``os.system`` (what a malicious checkpoint carries)."""

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


def _bad_file(tmp_path: Path, kind: str) -> Path:
    good = tmp_path / "good.pt"
    torch.save({"state_dict": {"w": torch.zeros(64, 64)}}, good)
    data = good.read_bytes()
    payload = {
        "truncated": data[: len(data) // 2],
        "empty": b"",
        "text": b"# not a checkpoint\nweights = [1, 2, 3]\n",
        "code": pickle.dumps(_RunsCode(tmp_path / "pwned"), protocol=2),
    }[kind]
    path = tmp_path / f"{kind}.pth"
    path.write_bytes(payload)
    return path


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_codetalker_checkpoint_errors_name_file_and_problem(tmp_path: Path, kind: str) -> None:
    path = _bad_file(tmp_path, kind)
    with pytest.raises(CheckpointError) as info:
        read_state_dict(path)
    msg = str(info.value)
    assert str(path) in msg and "CodeTalker checkpoint" in msg and KINDS[kind] in msg
    assert "\n" not in msg
    assert isinstance(info.value, ValueError)
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_faceformer_official_checkpoint_errors_name_file_and_problem(tmp_path: Path, kind: str) -> None:
    path = _bad_file(tmp_path, kind)
    model = FaceFormer("vocaset", num_vertices=5, audio_encoder="logmel")
    with pytest.raises(CheckpointError) as info:
        model.load_official_checkpoint(path)
    msg = str(info.value)
    assert str(path) in msg and "FaceFormer vocaset state_dict" in msg and KINDS[kind] in msg
    assert "\n" not in msg
    assert not (tmp_path / "pwned").exists()


def test_wrong_content_is_a_checkpoint_error(tmp_path: Path) -> None:
    path = tmp_path / "list.pth"
    torch.save([torch.zeros(2)], path)
    with pytest.raises(CheckpointError, match=r"list\.pth: expected \{'state_dict'"):
        read_state_dict(path)
    model = FaceFormer("vocaset", num_vertices=5, audio_encoder="logmel")
    with pytest.raises(CheckpointError, match=r"list\.pth: expected a state_dict"):
        model.load_official_checkpoint(path)
