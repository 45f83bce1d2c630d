"""Reading CodeTalker checkpoints in the official layout.

Both stages are saved as ``torch.save({"state_dict": sd})`` (``base/baseTrainer.py:save_checkpoint``);
stage 2 drops every key containing ``"autoencoder"``, so it needs the stage-1 file beside it.
Files are read with ``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

from pathlib import Path

from torch import Tensor, nn

from ..checkpoint_io import CheckpointError, meta_load_assign, torch_load_file

__all__ = ["load_stage1_state", "read_state_dict"]


def read_state_dict(path: str | Path) -> dict[str, Tensor]:
    """The tensor dict of a checkpoint file: the ``"state_dict"`` entry when present, else the file itself."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CodeTalker checkpoint not found: {path}")
    state = torch_load_file(path, "a CodeTalker checkpoint ({'state_dict': {name: tensor}})")
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise CheckpointError(
            f"{path}: expected {{'state_dict': {{name: tensor}}}} (official layout), "
            f"got {type(state).__name__}"
        )
    return state


def load_stage1_state(model: nn.Module, state: dict[str, Tensor], *, source: str = "state_dict") -> None:
    """Strictly load a stage-1 state into a :class:`~facial_animator.codetalker.VQAutoEncoder`.

    Keys prefixed ``autoencoder.`` (a full stage-2 ``state_dict``) are accepted too. A model built on
    the ``meta`` device takes the checkpoint's tensors (``assign=True``).
    """
    if state and all(k.startswith("autoencoder.") for k in state):
        state = {k[len("autoencoder.") :]: v for k, v in state.items()}
    own = model.state_dict()
    mismatched = [
        f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}"
        for k, v in state.items()
        if k in own and tuple(v.shape) != tuple(own[k].shape)
    ]
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if mismatched or missing or unexpected:
        raise ValueError(
            f"{source}: not a matching CodeTalker stage-1 checkpoint: {len(mismatched)} shape mismatches "
            f"{mismatched[:5]}, missing keys {missing[:8]} (total {len(missing)}), unexpected keys "
            f"{unexpected[:8]} (total {len(unexpected)}); build the VQAutoEncoder with the dataset's VQConfig"
        )
    # a model built on the meta device takes the checkpoint's tensors
    model.load_state_dict(state, strict=True, assign=meta_load_assign(model, set(state), source))
