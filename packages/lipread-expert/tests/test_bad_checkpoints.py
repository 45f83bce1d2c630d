"""Unreadable checkpoint files raise :class:`CheckpointError` naming the file and what was expected."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch

from lipread_expert import CheckpointError, load_checkpoint, load_official_checkpoint, read_checkpoint


class _RunsCode:
    """Pickles to a call of ``os.system`` (what a malicious checkpoint carries)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _bad_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    good = tmp_path / "good.pt"
    torch.save({"encoder.weight": torch.zeros(64, 64)}, good)
    data = good.read_bytes()
    files = {
        "truncated": (data[: len(data) // 2], "truncated or corrupt"),
        "empty": (b"", "empty"),
        "text": (b"this is not a checkpoint\n", "not a torch.save file"),
        "code": (pickle.dumps(_RunsCode(tmp_path / "pwned"), protocol=2), "refused by weights-only"),
    }
    out = {}
    for name, (payload, problem) in files.items():
        p = tmp_path / f"{name}.pth"
        p.write_bytes(payload)
        out[name] = (p, problem)
    return out


@pytest.mark.parametrize("kind", ["truncated", "empty", "text", "code"])
def test_official_checkpoint_errors_name_file_and_problem(tmp_path: Path, kind: str) -> None:
    path, problem = _bad_files(tmp_path)[kind]
    with pytest.raises(CheckpointError) as info:
        load_official_checkpoint(torch.nn.Linear(1, 1), path)
    msg = str(info.value)
    assert str(path) in msg
    assert "auto-avsr checkpoint" in msg
    assert problem in msg
    assert "\n" not in msg
    assert isinstance(info.value, ValueError)  # callers catching ValueError keep working
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("kind", ["truncated", "empty", "text", "code"])
def test_native_checkpoint_errors_name_file_and_problem(tmp_path: Path, kind: str) -> None:
    path, problem = _bad_files(tmp_path)[kind]
    for load in (read_checkpoint, load_checkpoint):
        with pytest.raises(CheckpointError) as info:
            load(path)
        msg = str(info.value)
        assert str(path) in msg and "lipread-expert checkpoint" in msg and problem in msg
    assert not (tmp_path / "pwned").exists()


def test_plain_tensor_file_is_not_a_native_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "weights.pt"
    torch.save({"a": torch.zeros(2)}, path)
    with pytest.raises(CheckpointError, match="is not a lipread-expert checkpoint"):
        read_checkpoint(path)
    listed = tmp_path / "list.pt"
    torch.save([1, 2], listed)
    with pytest.raises(CheckpointError, match=r"list\.pt: expected a mapping of parameter names"):
        load_official_checkpoint(torch.nn.Linear(1, 1), listed)
