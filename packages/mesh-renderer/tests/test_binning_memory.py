"""The candidate search keeps its memory bounded on crumpled geometry and gives the same fragments."""

from __future__ import annotations

import torch

from mesh_renderer.backends import _binning


def _crumpled(n: int = 2, f: int = 300, size: int = 40, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Large random triangles covering the whole window many times (an untrained animator's output)."""
    g = torch.Generator().manual_seed(seed)
    screen = torch.rand(n, 3 * f, 3, generator=g)
    screen[..., :2] *= size
    screen[..., 2] += 0.5  # positive depth
    faces = torch.arange(3 * f).reshape(f, 3)
    return screen, faces


def test_chunked_search_equals_single_pass(monkeypatch) -> None:
    screen, faces = _crumpled()
    size = (40, 40)
    one_pass = _binning.find_candidates(screen, faces, size, 1.5, 4, cull_backfaces=False)
    total = int(
        _binning._bbox_pair_counts(
            screen[..., 0][:, faces].reshape(-1, 3),
            screen[..., 1][:, faces].reshape(-1, 3),
            torch.ones(screen.shape[0] * faces.shape[0], dtype=torch.bool),
            1.5,
            *size,
        ).sum()
    )
    limit = 5000
    assert total > 20 * limit  # the case really needs many chunks

    evaluated: list[int] = []
    original = _binning._enumerate_pairs

    def counting(*args, **kwargs):
        out = original(*args, **kwargs)
        evaluated.append(out[0].numel())
        return out

    monkeypatch.setattr(_binning, "MAX_PAIRS", limit)
    monkeypatch.setattr(_binning, "_enumerate_pairs", counting)
    chunked = _binning.find_candidates(screen, faces, size, 1.5, 4, cull_backfaces=False)

    assert torch.equal(chunked, one_pass)
    assert len(evaluated) > 20
    # one face's box never exceeds the window, so a chunk holds at most MAX_PAIRS + one window
    assert max(evaluated) <= limit + size[0] * size[1]
