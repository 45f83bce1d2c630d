import math

import torch
import trimesh

from mesh_renderer import (
    DirectionalLights,
    LambertShader,
    MeshRenderer,
    OrthographicCamera,
    PhongShader,
    RasterSettings,
    TorchRasterizer,
    face_normals,
    vertex_normals,
)

# a square facing the viewer (+z), counter-clockwise seen from +z, covering the image centre
SQUARE = torch.tensor([[-0.5, -0.5, 0.1], [0.5, -0.5, 0.1], [0.5, 0.5, 0.1], [-0.5, 0.5, 0.1]])
SQUARE_FACES = torch.tensor([[0, 1, 2], [0, 2, 3]])


def _render(shader, verts=SQUARE, faces=SQUARE_FACES, size=32):
    r = MeshRenderer(
        OrthographicCamera(scale=1.0, image_size=size), TorchRasterizer(RasterSettings(size)), shader
    )
    return r(verts[None], faces)[0]


def test_lambert_av_guidance_lights_by_hand():
    img = _render(LambertShader())
    # n = (0, 0, 1): n.l = 1/sqrt(3) for the four lights at (+-1, +-1, 1), 1 for (0, 0, 1)
    shade = 1.7 * (4 / math.sqrt(3) + 1) / 5
    expected = 180 / 255 * shade
    torch.testing.assert_close(img[16, 16, :3], torch.full((3,), expected))
    assert img[16, 16, 3].item() == 1.0
    assert img[0, 0].tolist() == [0.0, 0.0, 0.0, 0.0]  # background


def test_lambert_ignores_lights_behind_and_uses_albedo():
    lights = DirectionalLights(directions=((0.0, 0.0, -1.0), (0.0, 0.6, 0.8)), intensity=2.0, ambient=0.05)
    img = _render(LambertShader(lights=lights, albedo=(1.0, 0.5, 0.25)))
    shade = 0.05 + 2.0 * (0.0 + 0.8) / 2
    torch.testing.assert_close(img[10, 20, :3], torch.tensor([1.0, 0.5, 0.25]) * shade)


def test_phong_specular_by_hand():
    lights = DirectionalLights(directions=((0.0, 0.0, 1.0), (0.6, 0.0, 0.8)), intensity=1.0)
    img = _render(PhongShader(lights=lights, albedo=(0.5, 0.5, 0.5), specular=0.4, shininess=5.0))
    # n = v = (0, 0, 1); r = 2 (n.l) n - l: r.v = 1 for the frontal light, 2 * 0.8 - 0.8 = 0.8 for the other
    diffuse = 0.5 * (1.0 + 0.8) / 2
    spec = 0.4 * (1.0**5 + 0.8**5) / 2
    torch.testing.assert_close(img[16, 16, :3], torch.full((3,), diffuse + spec))


def test_vertex_normals_of_a_sphere_are_radial_and_differentiable():
    sphere = trimesh.creation.icosphere(subdivisions=3)
    v = torch.tensor(sphere.vertices, dtype=torch.float64, requires_grad=True)
    f = torch.tensor(sphere.faces)
    n = vertex_normals(v, f)
    radial = v.detach() / v.detach().norm(dim=-1, keepdim=True)
    assert (n.detach() * radial).sum(-1).min() > 0.999
    fn = face_normals(v.detach(), f)
    torch.testing.assert_close(fn, torch.tensor(sphere.face_normals), atol=1e-9, rtol=0)
    n[:, 0].sum().backward()
    assert v.grad.abs().sum() > 0


def test_shading_responds_to_vertex_depth():
    # with an oblique light, moving corners in z tilts the normals and changes the shade; the camera is
    # orthographic, so this gradient can only come through the recomputed normals
    verts = SQUARE.clone().requires_grad_(True)
    img = _render(LambertShader(lights=DirectionalLights(directions=((0.3, 0.2, 1.0),))), verts=verts)
    img[..., :3].sum().backward()
    assert verts.grad[:, 2].abs().sum() > 0


def test_colourings_are_the_per_colouring_renders():
    """One rasterization of an icosphere, lit once and coloured three ways (uniform grey, per-vertex
    colours, per-frame colours), gives the pixels of one shader call per colouring, bit for bit."""
    import pytest

    from mesh_renderer import BlendParams

    sphere = trimesh.creation.icosphere(subdivisions=2, radius=0.6)
    verts = torch.tensor(sphere.vertices, dtype=torch.float32)
    faces = torch.tensor(sphere.faces, dtype=torch.int64)
    frames = torch.stack([verts, verts * 0.9 + 0.05])
    settings = RasterSettings(24, blur_radius=1e-3, faces_per_pixel=3)
    renderer = MeshRenderer(OrthographicCamera(scale=1.0, image_size=24), TorchRasterizer(settings))
    fragments, inputs = renderer.rasterize(frames, faces)
    g = torch.Generator().manual_seed(0)
    per_vertex = torch.rand(len(verts), 3, generator=g)
    per_frame = torch.rand(2, len(verts), 3, generator=g)
    blend = BlendParams(sigma=1e-4)
    sets = [None, per_vertex, per_frame]
    shared = LambertShader(blend=blend, two_sided=True).colourings(fragments, inputs, sets)
    for colours, image in zip(sets, shared, strict=True):
        alone = LambertShader(vertex_colors=colours, blend=blend, two_sided=True)(fragments, inputs)
        assert torch.equal(image, alone)
    assert not torch.equal(shared[1], shared[2])
    with pytest.raises(TypeError, match="PhongShader"):
        PhongShader().colourings(fragments, inputs, sets)
