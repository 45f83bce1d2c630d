"""The overdraw budget bounds the rasterizer's work for any geometry (issue: evaluation time of an untrained
animator's crumpled output) and leaves real meshes exact."""

import pytest
import torch

import mesh_renderer.backends._binning as binning
from mesh_renderer import (
    OVERDRAW_BUDGET,
    MeshRenderer,
    OrthographicCamera,
    RasterSettings,
    RenderBudgetWarning,
    SoftSilhouetteShader,
    TorchRasterizer,
    blur_radius_for_pixels,
)


def _stack(layers: int, half: float = 2.0):
    """``layers`` window-covering quads at depths 0.5 + i / layers (nearest first in index order)."""
    verts, faces = [], []
    for i in range(layers):
        z = 0.5 - i / layers  # the orthographic camera looks down -z: larger z is nearer
        verts += [[-half, -half, z], [half, -half, z], [half, half, z], [-half, half, z]]
        b = 4 * i
        faces += [[b, b + 1, b + 2], [b, b + 2, b + 3]]
    return torch.tensor(verts), torch.tensor(faces)


@pytest.fixture()
def spent(monkeypatch):
    """Pairs each image enumerates after the budget, recorded by a spy on the budget step."""
    record: list[list[float]] = []
    original = binning._within_budget

    def spy(ids, band, i0, j0, ny, nx, cnt, zs, f, n, pixels):
        out = original(ids, band, i0, j0, ny, nx, cnt, zs, f, n, pixels)
        image = torch.div(out[0], f, rounding_mode="floor")
        per_image = torch.zeros(n, dtype=out[6].dtype).index_add_(0, image, out[6])
        record.append([float(x) / pixels for x in per_image])
        return out

    monkeypatch.setattr(binning, "_within_budget", spy)
    return record


def _render(v, f, size=32, k=3):
    blur = blur_radius_for_pixels(0.75, size)
    cam = OrthographicCamera(scale=1.0, image_size=size)
    r = MeshRenderer(cam, TorchRasterizer(RasterSettings(size, blur, k)), SoftSilhouetteShader())
    fr, _ = r.rasterize(v if v.dim() == 3 else v[None], f)
    return fr.pix_to_face, fr.zbuf


def test_deep_stack_is_cut_to_the_budget_and_keeps_the_nearest_layers(spent):
    layers = 3 * OVERDRAW_BUDGET  # each quad's two triangles box the whole window (about 2 pairs per pixel)
    v, f = _stack(layers)
    with pytest.warns(RenderBudgetWarning, match="budget"):
        p2f, zbuf = _render(v, f)
    # the work: at most the budget plus one window (the job that crosses it) per image
    assert spent[-1][0] <= OVERDRAW_BUDGET + 1
    # the K nearest layers are what a full render shows: the first quads of the stack, nearest first
    near_v, near_f = _stack(layers)[0][:40], _stack(layers)[1][:20]
    ref_p2f, ref_zbuf = _render(near_v, near_f)
    assert torch.equal(zbuf, ref_zbuf)
    assert torch.equal(p2f // 2, ref_p2f // 2)  # the same quads (layer = face // 2)
    assert set((p2f[..., 0] // 2).unique().tolist()) == {0}


def test_a_real_sized_mesh_is_exact_and_renders_the_same_in_any_batch(spent):
    v, f = _stack(4)
    alone = _render(v, f)
    assert spent[-1][0] < OVERDRAW_BUDGET
    deep_v, deep_f = _stack(3 * OVERDRAW_BUDGET)
    # one batch: the light mesh (padded with copies of its last quad outside the window) beside the deep stack
    pad = torch.cat([v, v[-4:].repeat(deep_v.shape[0] // 4 - 4, 1) - torch.tensor([100.0, 0.0, 0.0])])
    with pytest.warns(RenderBudgetWarning, match=r"\[1\]"):
        both = _render(torch.stack([pad, deep_v]), deep_f)
    assert torch.equal(both[0][0], alone[0][0]) and torch.equal(both[1][0], alone[1][0])
