"""Golden images (tests/data/golden/*.png) rendered once and compared with a tolerance.

``DEBUG=1`` writes the rendered images as ``DEBUG_<name>.png`` next to the goldens for inspection.
"""

import pytest
import torch

from mesh_renderer import (
    BlendParams,
    DepthShader,
    LambertShader,
    MeshRenderer,
    OrthographicCamera,
    PerspectiveCamera,
    PhongShader,
    RasterSettings,
    SoftSilhouetteShader,
    TorchRasterizer,
    blur_radius_for_pixels,
    lip_sheets,
)


def _u8(x: torch.Tensor):
    return (x.clamp(0, 1) * 255).round().to(torch.uint8).numpy()


def _soft(size):
    blur = blur_radius_for_pixels(1.0, size)
    return RasterSettings(image_size=size, blur_radius=blur, faces_per_pixel=4), BlendParams(
        sigma=blur / 9.21
    )


def test_golden_biwi_lambert(biwi, golden):
    verts, faces, _ = biwi
    settings, blend = _soft(224)
    r = MeshRenderer(OrthographicCamera.preset("biwi"), TorchRasterizer(settings), LambertShader(blend=blend))
    img = r(verts[None], faces)[0]
    golden("biwi_lambert_224", _u8(img[..., :3]))
    # face centred in the frame: the nose tip pixel is lit, the corners are background
    assert img[112, 112, 3] == pytest.approx(1.0)
    assert img[0, 0, 3] == 0 and img[-1, -1, 3] == 0


def test_golden_biwi_phong_perspective(biwi, golden):
    verts, faces, _ = biwi
    settings, blend = _soft(160)
    settings = RasterSettings(160, settings.blur_radius, 4, perspective_correct=True)
    cam = PerspectiveCamera(fov=30.0, distance=2.5, center=(0.0, 0.05), image_size=160)
    shader = PhongShader(blend=blend, specular=0.3, shininess=12.0)
    img = MeshRenderer(cam, TorchRasterizer(settings), shader)(verts[None], faces)[0]
    golden("biwi_phong_perspective_160", _u8(img[..., :3]))


def test_golden_biwi_depth(biwi, golden):
    verts, faces, _ = biwi
    cam = OrthographicCamera.preset("biwi", image_size=128)
    img = MeshRenderer(cam, TorchRasterizer(RasterSettings(128)), DepthShader(background=0.0))(
        verts[None], faces
    )[0]
    z = img[..., 0]
    covered = img[..., 3] > 0
    # depth = 10 - s z with s = 1.6 and z in [-0.241, 0.226] (BIWI.ply extent)
    assert z[covered].min() >= 10 - 1.6 * 0.2260 - 1e-4 and z[covered].max() <= 10 + 1.6 * 0.2410 + 1e-4
    shown = torch.where(covered, (10.4 - z) / 0.8, torch.zeros_like(z))
    golden("biwi_depth_128", _u8(shown))


def test_golden_lip_sheets_silhouette_and_lambert(golden):
    v, f, _ = lip_sheets(rows=10, cols=16, opening=0.1)
    settings, blend = _soft(64)
    cam = OrthographicCamera(scale=0.9, image_size=64)
    sil = MeshRenderer(cam, TorchRasterizer(settings), SoftSilhouetteShader(blend))(v[None], f)[0, ..., 3]
    lam = MeshRenderer(cam, TorchRasterizer(settings), LambertShader(blend=blend))(v[None], f)[0, ..., :3]
    golden("lips_silhouette_64", _u8(sil))
    golden("lips_lambert_64", _u8(lam))
    # opening at the centre, lips covered, no seams inside the lips
    assert sil[32, 32] < 0.05 and sil[20, 32] == pytest.approx(1.0) and sil[44, 32] == pytest.approx(1.0)
