"""Differentiable temporal resampling of frame sequences (e.g. 30 fps renders to the 25 fps lip reader).

Output frame ``j`` sits at time ``t_j = j / fps_out``, i.e. at source position ``u = j fps_in / fps_out``;
its value is the linear interpolation ``(1 - a) x[i] + a x[i + 1]`` with ``i = floor(u)``, ``a = u - i``.
The result is exact for signals linear in time, and the operation is a fixed ``(T_out, T_in)`` matrix, so
gradients flow to every contributing input frame. By default the output covers the input's time span
``[0, (T_in - 1) / fps_in]``: ``T_out = floor((T_in - 1) fps_out / fps_in) + 1``.
"""

from __future__ import annotations

import math

import torch

__all__ = ["resample_matrix", "resampled_length", "temporal_resample"]


def resampled_length(num_in: int, fps_in: float, fps_out: float) -> int:
    """Number of output frames whose times lie within the input's span."""
    if num_in < 1:
        raise ValueError(f"need at least one input frame, got {num_in}")
    if fps_in <= 0 or fps_out <= 0:
        raise ValueError(f"fps must be positive, got fps_in={fps_in}, fps_out={fps_out}")
    return math.floor((num_in - 1) * fps_out / fps_in + 1e-9) + 1


def resample_matrix(
    num_in: int,
    fps_in: float,
    fps_out: float,
    num_out: int | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """``(T_out, T_in)`` linear-interpolation weights (rows sum to 1).

    Output frames past the last input frame (when ``num_out`` asks for more) repeat the last frame.
    """
    n_out = resampled_length(num_in, fps_in, fps_out) if num_out is None else int(num_out)
    if n_out < 1:
        raise ValueError(f"num_out must be >= 1, got {num_out}")
    u = torch.arange(n_out, dtype=torch.float64) * (fps_in / fps_out)
    u = u.clamp(max=num_in - 1)
    i0 = torch.floor(u).long().clamp(max=num_in - 1)
    i1 = (i0 + 1).clamp(max=num_in - 1)
    a = u - i0.double()
    m = torch.zeros(n_out, num_in, dtype=torch.float64)
    rows = torch.arange(n_out)
    m.index_put_((rows, i0), 1.0 - a, accumulate=True)
    m.index_put_((rows, i1), a, accumulate=True)
    return m.to(dtype=dtype, device=device)


def temporal_resample(
    frames: torch.Tensor, fps_in: float, fps_out: float, dim: int = 1, num_out: int | None = None
) -> torch.Tensor:
    """Resample ``frames`` along ``dim`` (the time axis) from ``fps_in`` to ``fps_out``; differentiable."""
    if not frames.is_floating_point():
        raise TypeError(f"frames must be a floating tensor, got {frames.dtype}")
    dim = dim % frames.ndim
    if fps_in == fps_out and num_out in (None, frames.shape[dim]):
        return frames
    m = resample_matrix(frames.shape[dim], fps_in, fps_out, num_out, frames.dtype, frames.device)
    moved = frames.movedim(dim, -1)
    out = moved @ m.T
    return out.movedim(-1, dim)
