"""Gradients reach the vertices: gradcheck, a non-zero gradient from the mouth pipeline, and recovery of a
mouth opening from a target image by gradient descent on the vertices."""

import pytest
import torch

from mesh_renderer import (
    BlendParams,
    DirectionalLights,
    LambertShader,
    MeshRenderer,
    OrthographicCamera,
    PhongShader,
    RasterSettings,
    SoftSilhouetteShader,
    TorchRasterizer,
    blur_radius_for_pixels,
    lip_sheets,
    render_mouth_video,
)


def _small_scene():
    # a bent quad (two triangles) and a tilted triangle partly in front of it: interior edges, mesh
    # boundaries and an occlusion boundary all fall on the 12 x 12 image
    v = torch.tensor(
        [
            [-0.71, -0.63, 0.05],
            [0.68, -0.52, 0.12],
            [0.62, 0.66, -0.07],
            [-0.58, 0.61, 0.21],
            [-0.23, -0.31, 0.53],
            [0.47, 0.09, 0.41],
            [-0.05, 0.44, 0.62],
        ],
        dtype=torch.float64,
    )
    f = torch.tensor([[0, 1, 2], [0, 2, 3], [4, 5, 6]])
    return v, f


@pytest.mark.parametrize("shader_name", ["lambert", "phong", "silhouette"])
def test_gradcheck_rasterize_and_shade(shader_name):
    v, f = _small_scene()
    size = 12
    blur = blur_radius_for_pixels(1.5, size)
    blend = BlendParams(sigma=blur / 6.0)
    lights = DirectionalLights(directions=((0.3, 0.4, 1.0), (-0.5, 0.2, 0.8)), intensity=1.2, ambient=0.1)
    shader = {
        "lambert": LambertShader(lights=lights, blend=blend),
        "phong": PhongShader(lights=lights, blend=blend, specular=0.5, shininess=3.0),
        "silhouette": SoftSilhouetteShader(blend=blend),
    }[shader_name]
    renderer = MeshRenderer(
        OrthographicCamera(scale=0.9, image_size=size),
        TorchRasterizer(RasterSettings(image_size=size, blur_radius=blur, faces_per_pixel=3)),
        shader,
    )
    v = v.clone().requires_grad_(True)
    img = renderer(v[None], f)
    assert img[..., 3].max() > 0.99 and img[..., 3].min() < 0.01
    assert torch.autograd.gradcheck(
        lambda x: renderer(x[None], f), (v,), eps=1e-6, atol=1e-5, rtol=1e-3, fast_mode=True
    )


def test_mouth_video_sends_gradient_to_lip_vertices():
    # the gradient-flow caveat of the AV-guidance code: ours must give a non-zero vertex gradient
    v, f, lips = lip_sheets(rows=8, cols=12, opening=0.1)
    seq = v.expand(1, 6, -1, -1).clone().requires_grad_(True)
    frames = render_mouth_video(seq, f, lips, OrthographicCamera(scale=0.4), fps_in=30.0, fps_out=25.0)
    assert frames.shape == (1, 5, 1, 88, 88)
    frames.square().mean().backward()
    grad = seq.grad.norm(dim=-1)  # (1, 6, V)
    assert (grad[0, :, lips] > 0).float().mean() > 0.5
    assert torch.isfinite(seq.grad).all()


def test_gradient_descent_on_vertices_opens_the_mouth():
    size = 40
    closed, f, lips = lip_sheets(rows=4, cols=10, opening=0.0)
    half = lips.numel() // 2
    upper, lower = lips[:half], lips[half:]
    target = closed.clone()  # lip contour parted by 0.15 * (1 - x^2): about 2.5 pixels per lip
    target[upper, 1] += 0.15 * (1 - closed[upper, 0] ** 2)
    target[lower, 1] -= 0.15 * (1 - closed[lower, 0] ** 2)
    blur = blur_radius_for_pixels(1.5, size)
    renderer = MeshRenderer(
        OrthographicCamera(scale=0.85, image_size=size),
        TorchRasterizer(RasterSettings(image_size=size, blur_radius=blur, faces_per_pixel=3)),
        LambertShader(blend=BlendParams(sigma=blur / 9.21)),
    )
    target_img = renderer(target[None], f).detach()

    xy = closed[lips, :2].clone().requires_grad_(True)  # the lip vertices' in-image coordinates

    def vertices():
        return closed.index_put((lips,), torch.cat([xy, closed[lips, 2:]], dim=-1))

    opt = torch.optim.SGD([xy], lr=1.0, momentum=0.8)
    step = None
    for _ in range(40):
        opt.zero_grad()
        loss = (renderer(vertices()[None], f)[..., :3] - target_img[..., :3]).square().sum()
        loss.backward()
        if step is None:  # fixed step size: the first update moves a vertex by at most 0.004
            step = 0.004 / xy.grad.abs().max().item()
        xy.grad.mul_(step)
        opt.step()
    err0 = (closed - target)[lips].norm(dim=-1).mean().item()
    err = (vertices().detach() - target)[lips].norm(dim=-1).mean().item()
    assert err0 == pytest.approx(0.09, abs=1e-3)
    assert err < 0.25 * err0, f"lip vertex error {err:.4f} (start {err0:.4f})"


def test_coverage_gradient_matches_the_area_derivative():
    # scaling a triangle by s about its centroid scales its area by s^2, so d(area)/ds = 2 * area at s = 1;
    # the soft coverage sum tracks the area, and its gradient must track this derivative
    size = 96
    pts = torch.tensor([[-0.55, -0.4, 0.0], [0.6, -0.3, 0.0], [-0.1, 0.65, 0.0]], dtype=torch.float64)
    centroid = pts.mean(0)
    blur = blur_radius_for_pixels(1.5, size)
    renderer = MeshRenderer(
        OrthographicCamera(scale=1.0, image_size=size),
        TorchRasterizer(RasterSettings(image_size=size, blur_radius=blur, faces_per_pixel=2)),
        SoftSilhouetteShader(BlendParams(sigma=blur / 9.21)),
    )
    s = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    verts = centroid + s * (pts - centroid)
    coverage = renderer(verts[None], torch.tensor([[0, 1, 2]]))[0, ..., 3].sum()
    coverage.backward()
    (x0, y0), (x1, y1), (x2, y2) = (pts[:, :2] * size / 2).tolist()
    area = abs((x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)) / 2  # in pixels
    assert s.grad.item() == pytest.approx(2 * area, rel=0.01), (s.grad.item(), 2 * area)
