"""The compiled candidate search (numba loops, ``search="compiled"``) gives exactly the vectorised search's
table (``search="torch"``): random and crumpled meshes, degenerate and off-window triangles, the soft
band with and without contour edges, back-face culling, one to four candidates per pixel, several
images, the overdraw budget; and whole renders of the real BIWI head are the same images."""

from __future__ import annotations

import functools

import pytest
import torch

from mesh_renderer import MeshRenderer, OrthographicCamera
from mesh_renderer.backends import _binning, torch_backend
from mesh_renderer.blending import contour_edges

pytest.importorskip("numba", reason="the compiled search needs numba (a mesh-renderer dependency)")


def _both(*args, **kwargs) -> tuple[torch.Tensor, torch.Tensor]:
    return (
        _binning.find_candidates(*args, **kwargs, search="torch"),
        _binning.find_candidates(*args, **kwargs, search="compiled"),
    )


def _scene(n: int, f: int, size: int, spread: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``f`` random triangles per image over a ``size`` px window and ``spread`` windows around it, with
    slivers, degenerate triangles and some behind the camera."""
    g = torch.Generator().manual_seed(seed)
    screen = torch.rand(n, 3 * f, 3, generator=g)
    screen[..., :2] = screen[..., :2] * size * spread - size * (spread - 1) / 2
    screen[..., 2] += 0.25
    screen[:, 3:6, 2] -= 1.0  # a triangle behind the camera
    screen[:, 7] = screen[:, 6]  # a degenerate one
    screen[:, 10, 1] = screen[:, 9, 1] + 1e-7  # a sliver with a flat edge
    return screen, torch.arange(3 * f).reshape(f, 3)


@pytest.mark.parametrize("blur", [0.0, 0.75, 1.5])
@pytest.mark.parametrize("k", [1, 2, 4])
@pytest.mark.parametrize("cull", [False, True])
def test_random_triangles(blur: float, k: int, cull: bool) -> None:
    screen, faces = _scene(n=3, f=120, size=32, spread=1.5, seed=int(10 * blur) + k)
    ref, got = _both(screen, faces, (32, 40), blur, k, cull)
    assert torch.equal(ref, got)
    assert (ref >= 0).any()


@pytest.mark.parametrize("blur", [0.5, 1.0])
def test_soft_band_from_contour_edges_only(blur: float) -> None:
    # a closed mesh seen from the front: its contour edges restrict the soft band
    import trimesh

    mesh = trimesh.creation.icosphere(subdivisions=3)
    v = torch.tensor(mesh.vertices, dtype=torch.float32)
    faces = torch.tensor(mesh.faces, dtype=torch.int64)
    turns = torch.linspace(0, 1.0, 4)
    cos, sin = torch.cos(turns), torch.sin(turns)
    rot = torch.stack([torch.stack([c, torch.zeros(()), s]) for c, s in zip(cos, sin, strict=True)])
    x = v[None, :, 0] * rot[:, None, 0] + v[None, :, 2] * rot[:, None, 2]
    z = -v[None, :, 0] * rot[:, None, 2] + v[None, :, 2] * rot[:, None, 0]
    screen = torch.stack([x * 20 + 24, v[None, :, 1].expand_as(x) * 20 + 24, z + 3.0], dim=-1)
    contour = contour_edges(screen, faces)
    for cull in (False, True):
        ref, got = _both(screen, faces, (48, 48), blur, 3, cull, contour)
        assert torch.equal(ref, got)


def test_nothing_in_the_window() -> None:
    screen, faces = _scene(n=2, f=20, size=16, spread=1.0, seed=5)
    screen[..., 0] += 100.0
    ref, got = _both(screen, faces, (16, 16), 1.0, 2, False)
    assert torch.equal(ref, got) and bool((got == -1).all())


def test_the_overdraw_budget_drops_the_same_triangles(monkeypatch: pytest.MonkeyPatch) -> None:
    screen, faces = _scene(n=2, f=400, size=24, spread=1.0, seed=6)
    screen[0, :, :2] = screen[0, :, :2] * 0.05 + 10.0  # image 0 stays small; image 1 overdraws
    monkeypatch.setattr(_binning, "OVERDRAW_BUDGET", 8)
    with pytest.warns(_binning.RenderBudgetWarning, match=r"\[1\]"):
        ref = _binning.find_candidates(screen, faces, (24, 24), 1.0, 3, False, search="torch")
    with pytest.warns(_binning.RenderBudgetWarning, match=r"\[1\]"):
        got = _binning.find_candidates(screen, faces, (24, 24), 1.0, 3, False, search="compiled")
    assert torch.equal(ref, got)


def test_the_result_does_not_depend_on_the_thread_count() -> None:
    screen, faces = _scene(n=4, f=200, size=32, spread=1.2, seed=7)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = _binning.find_candidates(screen, faces, (32, 32), 1.0, 3, False, search="compiled")
        torch.set_num_threads(2)
        two = _binning.find_candidates(screen, faces, (32, 32), 1.0, 3, False, search="compiled")
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(one, two)


def test_a_bad_search_is_refused() -> None:
    screen, faces = _scene(n=1, f=4, size=8, spread=1.0, seed=0)
    with pytest.raises(ValueError, match="search must be one of 'auto', 'torch', 'compiled'"):
        _binning.find_candidates(screen, faces, (8, 8), 0.0, 1, False, search="fast")


@pytest.mark.parametrize("two_sided,cull", [(True, False), (False, True)])
def test_renders_of_the_biwi_head_are_the_same_images(
    biwi, monkeypatch: pytest.MonkeyPatch, two_sided: bool, cull: bool
) -> None:
    from mesh_renderer import LambertShader, RasterSettings, get_rasterizer

    verts, faces, _ = biwi
    centred = verts - verts.mean(0)
    frames = torch.stack([centred * (1.0 + 0.02 * i) for i in range(3)])
    half = float(centred[:, :2].abs().max())
    camera = OrthographicCamera(scale=1.0 / half, image_size=96)
    settings = RasterSettings(image_size=96, blur_radius=2e-4, faces_per_pixel=3, cull_backfaces=cull)
    images = {}
    for search in ("torch", "compiled"):
        monkeypatch.setattr(
            torch_backend, "find_candidates", functools.partial(_binning.find_candidates, search=search)
        )
        renderer = MeshRenderer(camera, get_rasterizer("torch", settings), LambertShader(two_sided=two_sided))
        images[search] = renderer(frames, faces)
    assert torch.equal(images["torch"], images["compiled"])
    assert float(images["torch"][..., 3].mean()) > 0.2  # the head fills much of the view
