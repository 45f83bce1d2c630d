import pytest
import torch

from mesh_renderer import (
    MeshRenderer,
    OrthographicCamera,
    RasterSettings,
    SoftSilhouetteShader,
    TorchRasterizer,
    blur_radius_for_pixels,
)
from mesh_renderer.backends.torch_backend import rasterize_screen
from mesh_renderer.blending import BlendParams, edge_neighbours


def _tri_screen(pts, depth=5.0, dtype=torch.float32):
    v = torch.tensor([[x, y, depth] for x, y in pts], dtype=dtype)
    return v.unsqueeze(0), torch.tensor([[0, 1, 2]])


def _shoelace(pts):
    (x0, y0), (x1, y1), (x2, y2) = pts
    return abs((x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)) / 2.0


def _perimeter(pts):
    return sum(((pts[i][0] - pts[i - 1][0]) ** 2 + (pts[i][1] - pts[i - 1][1]) ** 2) ** 0.5 for i in range(3))


TRIANGLES = [
    [(10.3, 12.7), (70.1, 20.2), (30.5, 80.9)],
    [(5.5, 5.5), (90.25, 40.75), (12.0, 93.3)],
    [(50.0, 3.1), (51.7, 95.2), (20.4, 60.6)],
]


@pytest.mark.parametrize("pts", TRIANGLES)
def test_hard_coverage_matches_exact_area(pts):
    screen, faces = _tri_screen(pts)
    frags = rasterize_screen(screen, faces, RasterSettings(image_size=(100, 100)))
    count = int((frags.pix_to_face[..., 0] >= 0).sum())
    # pixel-centre sampling: the error is bounded by the pixels crossed by the outline (half-pixel band)
    assert abs(count - _shoelace(pts)) <= 0.5 * _perimeter(pts)
    assert abs(count - _shoelace(pts)) <= 1.0 + 0.1 * _perimeter(pts)


@pytest.mark.parametrize("pts", TRIANGLES)
def test_soft_coverage_sums_to_exact_area(pts):
    size = (100, 100)
    blur = blur_radius_for_pixels(1.5, size)
    settings = RasterSettings(image_size=size, blur_radius=blur, faces_per_pixel=2)
    screen, faces = _tri_screen(pts)
    renderer = MeshRenderer(
        OrthographicCamera(image_size=size),
        TorchRasterizer(settings),
        SoftSilhouetteShader(BlendParams(sigma=blur / 9.21)),
    )
    frags, inputs = renderer.rasterize(_world_from_screen(screen, size), faces)
    alpha = renderer.shader(frags, inputs)[..., 3]
    # sigmoid(-d|d| / sigma) is odd about the edge, so the soft sum tracks the exact area closely
    assert abs(float(alpha.sum()) - _shoelace(pts)) <= 0.1 * _perimeter(pts)


def _world_from_screen(screen, size):
    """World vertices that the unit orthographic camera projects onto ``screen`` (pixels, depth)."""
    h, w = size
    half = min(h, w) / 2
    x = (screen[..., 0] - w / 2) / half
    y = (h / 2 - screen[..., 1]) / half
    z = 10.0 - screen[..., 2]
    return torch.stack([x, y, z], -1)


def test_depth_order_zbuf_and_barycentrics():
    # a near triangle (depth 2) over a far one (depth 4 .. 6, tilted) covering the same pixels
    screen = torch.tensor(
        [
            [
                [0.0, 0.0, 2.0],
                [32.0, 0.0, 2.0],
                [0.0, 32.0, 2.0],
                [0.0, 0.0, 4.0],
                [32.0, 0.0, 6.0],
                [0.0, 32.0, 4.0],
            ]
        ]
    )
    faces = torch.tensor([[3, 4, 5], [0, 1, 2]])
    frags = rasterize_screen(screen, faces, RasterSettings(image_size=(32, 32), faces_per_pixel=2))
    i, j = 5, 9  # pixel centre (9.5, 5.5), inside both triangles
    assert frags.pix_to_face[0, i, j].tolist() == [1, 0]
    assert frags.zbuf[0, i, j, 0].item() == pytest.approx(2.0)
    # far plane: depth = 4 + 2 * x / 32 at x = 9.5
    assert frags.zbuf[0, i, j, 1].item() == pytest.approx(4.0 + 2 * 9.5 / 32, rel=1e-5)
    # barycentrics reproduce the pixel centre from the triangle corners
    b = frags.bary_coords[0, i, j, 0]
    corners = screen[0, faces[1], :2]
    torch.testing.assert_close(b @ corners, torch.tensor([9.5, 5.5]))
    assert b.sum().item() == pytest.approx(1.0)
    # outside both triangles: empty
    assert frags.pix_to_face[0, 30, 30].tolist() == [-1, -1]
    assert frags.zbuf[0, 30, 30, 0].item() == -1


def test_dists_signed_squared_ndc():
    screen, faces = _tri_screen([(4.0, 10.0), (60.0, 10.0), (32.0, 60.0)])
    blur = blur_radius_for_pixels(2.0, 64)
    frags = rasterize_screen(
        screen, faces, RasterSettings(image_size=(64, 64), blur_radius=blur, faces_per_pixel=1)
    )
    ndc = 32.0  # pixels per NDC unit
    # pixel (row 9, col 32): centre (32.5, 9.5), 0.5 px outside the top edge y = 10
    assert frags.dists[0, 9, 32, 0].item() == pytest.approx((0.5 / ndc) ** 2, rel=1e-4)
    # pixel (row 10, col 32): centre 0.5 px inside the top edge; the other edges are further
    assert frags.dists[0, 10, 32, 0].item() == pytest.approx(-((0.5 / ndc) ** 2), rel=1e-4)
    # pixel (row 6, col 32): 3.5 px away, beyond the 2-pixel blur radius
    assert frags.pix_to_face[0, 6, 32, 0].item() == -1


def test_batch_packed_face_indices_and_window_culling():
    screen, faces = _tri_screen([(1.0, 1.0), (30.0, 1.0), (1.0, 30.0)])
    moved = screen.clone()
    moved[..., 0] += 100.0  # entirely right of the window
    frags = rasterize_screen(torch.cat([screen, moved]), faces, RasterSettings(image_size=(32, 32)))
    assert frags.pix_to_face[0, 2, 2, 0].item() == 0
    assert (frags.pix_to_face[1] == -1).all()


def test_cull_backfaces():
    ccw_for_viewer = [(2.0, 2.0), (2.0, 30.0), (30.0, 2.0)]  # y down: counter-clockwise seen with y up
    screen, faces = _tri_screen(ccw_for_viewer)
    kept = rasterize_screen(screen, faces, RasterSettings(image_size=(32, 32), cull_backfaces=True))
    culled = rasterize_screen(
        screen, faces.flip(-1), RasterSettings(image_size=(32, 32), cull_backfaces=True)
    )
    assert (kept.pix_to_face >= 0).sum() > 100
    assert (culled.pix_to_face >= 0).sum() == 0


def test_edge_neighbours_of_a_quad():
    faces = torch.tensor([[0, 1, 2], [0, 2, 3]])
    nb = edge_neighbours(faces)
    # face 0: (0,1), (1,2) boundary, (2,0) shared with face 1; face 1: (0,2) shared with face 0
    assert nb.tolist() == [[-1, -1, 1], [0, -1, -1]]


def test_bad_inputs_are_reported():
    screen, _faces = _tri_screen([(1.0, 1.0), (30.0, 1.0), (1.0, 30.0)])
    with pytest.raises(ValueError, match="faces index vertices outside"):
        rasterize_screen(screen, torch.tensor([[0, 1, 7]]), RasterSettings(image_size=32))
    with pytest.raises(ValueError, match=r"\(F, 3\)"):
        rasterize_screen(screen, torch.tensor([0, 1, 2]), RasterSettings(image_size=32))
    with pytest.raises(ValueError, match="blur_radius"):
        RasterSettings(blur_radius=-1.0)


@pytest.mark.gpu
def test_cuda_matches_cpu():
    from mesh_renderer import lip_sheets

    v, f, _ = lip_sheets(rows=6, cols=8)
    cam = OrthographicCamera(scale=0.8, image_size=48)
    settings = RasterSettings(image_size=48, blur_radius=blur_radius_for_pixels(1.0, 48), faces_per_pixel=3)
    r = MeshRenderer(cam, TorchRasterizer(settings))
    cpu = r(v[None], f)
    gpu = r(v[None].cuda(), f.cuda()).cpu()
    torch.testing.assert_close(gpu, cpu, atol=1e-4, rtol=1e-4)
