"""The candidate search keeps its cost bounded on crumpled geometry and gives the same fragments.

The chunking and row spans are the vectorised search's (``search="torch"``); the brute-force reference
also checks the compiled search (``search="compiled"``, numba), which runs the same jobs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mesh_renderer import MeshRenderer, OrthographicCamera
from mesh_renderer.backends import _binning


def _torch_search(*args, **kwargs) -> torch.Tensor:
    return _binning.find_candidates(*args, **kwargs, search="torch")


def _crumpled(n: int = 2, f: int = 300, size: int = 40, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Large random triangles covering the whole window many times (an untrained animator's output)."""
    g = torch.Generator().manual_seed(seed)
    screen = torch.rand(n, 3 * f, 3, generator=g)
    screen[..., :2] *= size
    screen[..., 2] += 0.5  # positive depth
    faces = torch.arange(3 * f).reshape(f, 3)
    return screen, faces


def _count_enumerated(monkeypatch) -> list[int]:
    """Record the number of cells of every enumeration (tiles and pixel pairs) of the search."""
    evaluated: list[int] = []
    original = _binning._enumerate_rects

    def counting(*args, **kwargs):
        out = original(*args, **kwargs)
        evaluated.append(out[0].numel())
        return out

    monkeypatch.setattr(_binning, "_enumerate_rects", counting)
    return evaluated


def _brute_force_nearest(screen: np.ndarray, faces: np.ndarray, h: int, w: int, k: int) -> np.ndarray:
    """(H, W, K) ids of the K nearest triangles covering each pixel centre (float64, no binning, -1 empty)."""
    tri = screen[faces]  # (F, 3, 3)
    px, py = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    p = np.stack([px.ravel(), py.ravel()], -1)[:, None]  # (P, 1, 2)
    a, b, c = (tri[None, :, i, :2] for i in range(3))

    def cross(u, v, q):
        return (v[..., 0] - u[..., 0]) * (q[..., 1] - u[..., 1]) - (v[..., 1] - u[..., 1]) * (
            q[..., 0] - u[..., 0]
        )

    area = cross(a, b, c)
    with np.errstate(invalid="ignore", divide="ignore"):  # faces repeating a vertex have no area: NaN
        w0, w1 = cross(b, c, p) / area, cross(c, a, p) / area
        w2 = 1.0 - w0 - w1
        depth = w0 * tri[None, :, 0, 2] + w1 * tri[None, :, 1, 2] + w2 * tri[None, :, 2, 2]
    depth = np.where((w0 >= 0) & (w1 >= 0) & (w2 >= 0), depth, np.inf)  # (P, F)
    order = np.argsort(depth, axis=1, kind="stable")[:, :k]
    ids = np.where(np.isfinite(np.take_along_axis(depth, order, 1)), order, -1)
    return ids.reshape(h, w, k)


def test_chunked_search_equals_single_pass(monkeypatch) -> None:
    screen, faces = _crumpled()
    size = (40, 40)
    one_pass = _torch_search(screen, faces, size, 1.5, 4, cull_backfaces=False)
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

    evaluated = _count_enumerated(monkeypatch)
    monkeypatch.setattr(_binning, "MAX_PAIRS", limit)
    chunked = _torch_search(screen, faces, size, 1.5, 4, cull_backfaces=False)

    assert torch.equal(chunked, one_pass)
    assert len(evaluated) > 20
    # one face's box never exceeds the window, so a chunk holds at most MAX_PAIRS + one window
    assert max(evaluated) <= limit + size[0] * size[1]


def test_crumpled_flame_sized_mesh_matches_brute_force_within_budget(monkeypatch) -> None:
    """5,023 random vertices and 9,976 random faces spread over and beyond a 24 x 24 window."""
    g = torch.Generator().manual_seed(1)
    h = w = 24
    screen = torch.rand(1, 5023, 3, generator=g)
    screen[..., :2] = screen[..., :2] * 3 * w - w  # from one window left/above to one right/below
    screen[..., 2] += 0.5
    faces = torch.randint(0, 5023, (9976, 3), generator=g)
    budget = 20_000
    total = int(
        _binning._bbox_pair_counts(
            screen[0, :, 0][faces], screen[0, :, 1][faces], torch.ones(9976, dtype=torch.bool), 0.0, h, w
        ).sum()
    )
    assert total > 50 * budget

    evaluated = _count_enumerated(monkeypatch)
    monkeypatch.setattr(_binning, "MAX_PAIRS", budget)
    # the exactness of the chunked search itself: no overdraw budget (tested in test_overdraw_budget.py)
    monkeypatch.setattr(_binning, "OVERDRAW_BUDGET", total)
    got = _torch_search(screen, faces, (h, w), 0.0, 4, cull_backfaces=False)[0]

    want = _brute_force_nearest(screen[0].double().numpy(), faces.numpy(), h, w, 4)
    np.testing.assert_array_equal(got.numpy(), want)
    assert max(evaluated) <= budget + h * w  # the documented bound of one evaluation
    assert sum(evaluated) < total / 4  # front-to-back depth culling skips most pairs
    if _binning._numba_available():  # the compiled search: every job's pairs, no chunks
        compiled = _binning.find_candidates(screen, faces, (h, w), 0.0, 4, False, search="compiled")
        np.testing.assert_array_equal(compiled[0].numpy(), want)


@pytest.mark.parametrize("search", ["torch", "compiled"])
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_vertices_are_refused(bad: float, search: str) -> None:
    if search == "compiled":
        pytest.importorskip("numba", reason="the compiled search needs numba")
    screen, faces = _crumpled(n=1, f=4)
    screen[0, 5, 1] = bad
    with pytest.raises(ValueError, match=r"NaN or infinite \(first: image 0, vertex 5\)"):
        _binning.find_candidates(screen, faces, (8, 8), 0.0, 1, cull_backfaces=False, search=search)
    verts = torch.zeros(1, 3, 3)
    verts[0, 1, 0] = bad
    renderer = MeshRenderer(OrthographicCamera(scale=1.0, image_size=16))
    with pytest.raises(ValueError, match=r"vertices hold NaN or infinite values"):
        renderer(verts, torch.tensor([[0, 1, 2]]))


@pytest.mark.parametrize("blur,k,cull", [(0.0, 1, False), (1.0, 2, False), (1.5, 4, True), (0.75, 3, True)])
def test_row_spans_find_what_whole_boxes_find(monkeypatch, blur: float, k: int, cull: bool) -> None:
    """Enumerating large boxes row by row (only the span each row's slice of the triangle can reach) keeps
    every pair that enumerating the whole box keeps: the same fragments, also through the chunked search."""
    screen, faces = _crumpled(n=3, f=200, size=48, seed=3)
    # add thin slivers and near-horizontal edges, where a row's slice is narrow or degenerate
    g = torch.Generator().manual_seed(4)
    sliver = torch.rand(3, 60, 3, generator=g) * torch.tensor([48.0, 48.0, 1.0]) + torch.tensor([0, 0, 0.5])
    sliver[:, 1::3, 1] = sliver[:, 0::3, 1] + 1e-7
    screen = torch.cat([screen, sliver], dim=1)
    faces = torch.cat([faces, torch.arange(60).reshape(20, 3) + 600])
    args = (screen, faces, (48, 48), blur, k, cull)
    monkeypatch.setattr(_binning, "SPAN_MIN_SIDE", 10**9)  # every box whole
    whole = _torch_search(*args)
    monkeypatch.setattr(_binning, "MAX_PAIRS", 3000)
    whole_chunked = _torch_search(*args)
    monkeypatch.setattr(_binning, "SPAN_MIN_SIDE", 1)  # every box row by row
    assert torch.equal(_torch_search(*args), whole_chunked)
    monkeypatch.setattr(_binning, "MAX_PAIRS", 1 << 21)
    assert torch.equal(_torch_search(*args), whole)
    assert (whole >= 0).sum() > 0.5 * whole.numel() / k  # the case covers much of the window
