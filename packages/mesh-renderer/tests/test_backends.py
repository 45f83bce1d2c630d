"""The optional pytorch3d backend: a clear ImportError without it, the same fragments with it."""

import pytest
import torch

from mesh_renderer import (
    MeshRenderer,
    OrthographicCamera,
    RasterSettings,
    blur_radius_for_pixels,
    get_rasterizer,
    lip_sheets,
    pytorch3d_available,
)

needs_pytorch3d = pytest.mark.skipif(
    not pytorch3d_available(),
    reason="pytorch3d is not installed (pip install mesh-renderer[pytorch3d]; see pytorch3d's INSTALL.md)",
)


@pytest.mark.skipif(
    pytorch3d_available(), reason="pytorch3d is installed: the missing-backend error cannot occur"
)
def test_selecting_pytorch3d_without_it_says_how_to_install():
    with pytest.raises(ImportError, match=r"pip install mesh-renderer\[pytorch3d\]") as err:
        get_rasterizer("pytorch3d", RasterSettings(64))
    assert "INSTALL.md" in str(err.value)


def test_unknown_backend_is_rejected():
    with pytest.raises(ValueError, match="unknown rasterizer backend"):
        get_rasterizer("opengl")


@needs_pytorch3d
@pytest.mark.parametrize("blur_pixels", [0.0, 1.0])
def test_pytorch3d_fragments_match_torch_backend(blur_pixels):
    v, f, _ = lip_sheets(rows=6, cols=10, opening=0.1)
    size = 48
    blur = blur_radius_for_pixels(blur_pixels, size) if blur_pixels else 0.0
    settings = RasterSettings(size, blur_radius=blur, faces_per_pixel=2, contour_only=False)
    cam = OrthographicCamera(scale=0.8, image_size=size)
    ours, _ = MeshRenderer(cam, get_rasterizer("torch", settings)).rasterize(v[None], f)
    theirs, _ = MeshRenderer(cam, get_rasterizer("pytorch3d", settings)).rasterize(v[None], f)
    same = (ours.pix_to_face[..., 0] == theirs.pix_to_face[..., 0]).float().mean()
    assert same > 0.99  # ties on shared edges may go either way
    both = (ours.pix_to_face[..., 0] >= 0) & (ours.pix_to_face[..., 0] == theirs.pix_to_face[..., 0])
    torch.testing.assert_close(ours.zbuf[..., 0][both], theirs.zbuf[..., 0][both], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(ours.dists[..., 0][both], theirs.dists[..., 0][both], atol=1e-5, rtol=1e-3)
    torch.testing.assert_close(
        ours.bary_coords[..., 0, :][both], theirs.bary_coords[..., 0, :][both], atol=1e-4, rtol=1e-3
    )
