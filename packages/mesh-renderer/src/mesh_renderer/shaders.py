"""Shaders: turn fragments into RGBA images ``(N, H, W, 4)`` (pytorch3d's layout).

Every shader receives a :class:`ShadingInputs` with the world vertices (for normals), the screen vertices
(for soft coverage) and the shared faces. Vertex normals are recomputed from the world vertices on every
call, so shading is differentiable with respect to the vertices.

- Lambert: ``c = albedo * (ambient + intensity * mean_l clamp(n . l_l, 0, 1))`` (the light model of the
  AV-guidance renderer, ``methods.md`` section 1.5).
- Phong: Lambert plus ``specular * intensity * mean_l clamp(r_l . v, 0, 1) ** shininess`` with
  ``r_l = 2 (n . l_l) n - l_l`` and ``v`` the unit vector towards the viewer (Phong 1975).
- ``two_sided=True`` (Lambert and Phong): the normal of a candidate whose triangle faces away from the
  viewer (the inside of an open mesh seen through a hole: eyelid openings, nostrils, the neck) is flipped
  before shading, so back faces are lit like front faces instead of getting the ambient term only (black
  with the AV-guidance lights, whose ambient is 0). Facing is the sign of the geometric face normal
  ``(v1 - v0) x (v2 - v0)`` against the view direction, as OpenGL's ``gl_FrontFacing``.
- Soft silhouette: alpha of the composited soft coverage.
- Depth: ``zbuf`` of the nearest covering candidate, ``background`` elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch

from .blending import BlendParams, packed_composite, packed_contour_coverage
from .cameras import Camera
from .fragments import Fragments, PackedFragments
from .lights import DirectionalLights
from .normals import vertex_normals

__all__ = [
    "DepthShader",
    "LambertShader",
    "PhongShader",
    "ShadingInputs",
    "SoftSilhouetteShader",
    "interpolate_vertex_attributes",
    "packed_interpolate",
]


@dataclass
class ShadingInputs:
    """What a shader may need besides the fragments."""

    vertices: torch.Tensor  # (N, V, 3) world space
    screen: torch.Tensor  # (N, V, 3) window pixels + depth
    faces: torch.Tensor  # (F, 3)
    camera: Camera
    pixels_per_ndc: float
    soft: bool  # True when the rasterizer was run with a blur radius
    normal_faces: torch.Tensor | None = None  # faces around the visible vertices (all faces when None)

    def vertex_normals(self) -> torch.Tensor:
        """``(N, V, 3)`` vertex normals (valid at least for the vertices of visible triangles)."""
        return vertex_normals(self.vertices, self.faces if self.normal_faces is None else self.normal_faces)


def interpolate_vertex_attributes(
    fragments: Fragments, faces: torch.Tensor, attrs: torch.Tensor
) -> torch.Tensor:
    """``(N, H, W, K, D)`` barycentric interpolation of per-vertex ``(N, V, D)`` attributes (0: empty)."""
    n, h, w, k = fragments.pix_to_face.shape
    packed = fragments.packed_entries(faces, attrs.shape[1])
    out = packed_interpolate(packed, attrs)
    return (
        attrs.new_zeros(n * h * w * k, attrs.shape[-1]).index_put((packed.index,), out).view(n, h, w, k, -1)
    )


def packed_interpolate(packed: PackedFragments, attrs: torch.Tensor) -> torch.Tensor:
    """``(M, D)`` interpolation of ``(N, V, D)`` vertex attributes at the packed candidates."""
    d = attrs.shape[-1]
    rows = packed.vertex_rows.reshape(-1)
    vals = attrs.reshape(-1, d).index_select(0, rows).view(-1, 3, d)  # (M, 3, D)
    b = packed.bary_coords
    out = vals[:, 0] * b[:, 0:1]
    out = out.addcmul(vals[:, 1], b[:, 1:2])
    return out.addcmul(vals[:, 2], b[:, 2:3])


def _coverage(fragments: Fragments, inputs: ShadingInputs, blend: BlendParams) -> torch.Tensor:
    """``(M,)`` coverage of the packed candidates."""
    if inputs.soft:
        return packed_contour_coverage(
            fragments, inputs.screen, inputs.faces, blend.sigma, inputs.pixels_per_ndc
        )
    packed = fragments.packed_entries(inputs.faces, inputs.screen.shape[1])
    return (packed.dists <= 0).to(inputs.screen.dtype)


def _view_dirs(points: torch.Tensor, camera: Camera) -> torch.Tensor:
    if camera.is_perspective:
        eye = torch.tensor(
            [camera.center[0], camera.center[1], camera.distance],  # type: ignore[attr-defined]
            dtype=points.dtype,
            device=points.device,
        )
        return torch.nn.functional.normalize(eye - points, dim=-1, eps=1e-12)
    return torch.tensor([0.0, 0.0, 1.0], dtype=points.dtype, device=points.device).expand_as(points)


def _facing_sign(packed: PackedFragments, inputs: ShadingInputs) -> torch.Tensor:
    """``(M,)`` +1 where the candidate's triangle faces the viewer, -1 where it faces away (no gradient)."""
    with torch.no_grad():
        rows = packed.vertex_rows.reshape(-1)
        corners = inputs.vertices.detach().reshape(-1, 3).index_select(0, rows).view(-1, 3, 3)
        fn = torch.linalg.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0], dim=-1)
        view = _view_dirs(corners.mean(1), inputs.camera)
        facing = (fn * view).sum(-1)
        return torch.where(facing < 0, -torch.ones_like(facing), torch.ones_like(facing))


@dataclass
class LambertShader:
    """Diffuse shading with constant (or per-vertex) albedo and several directional lights."""

    lights: DirectionalLights = field(default_factory=DirectionalLights.av_guidance)
    albedo: tuple[float, float, float] = (180 / 255, 180 / 255, 180 / 255)
    blend: BlendParams = field(default_factory=BlendParams)
    vertex_colors: torch.Tensor | None = None  # optional (N, V, 3) or (V, 3) albedo per vertex
    two_sided: bool = False  # light back faces like front faces (flip normals facing away from the viewer)

    def _albedo(self, packed: PackedFragments, inputs: ShadingInputs) -> torch.Tensor:
        if self.vertex_colors is not None:
            vc = self.vertex_colors.to(inputs.vertices)
            if vc.ndim == 2:
                vc = vc.unsqueeze(0).expand(inputs.vertices.shape[0], -1, -1)
            return packed_interpolate(packed, vc)
        return torch.tensor(self.albedo, dtype=inputs.vertices.dtype, device=inputs.vertices.device)

    def _normals(self, packed: PackedFragments, inputs: ShadingInputs) -> tuple[torch.Tensor, torch.Tensor]:
        vn = inputs.vertex_normals()
        normals = torch.nn.functional.normalize(packed_interpolate(packed, vn), dim=-1, eps=1e-12)
        if self.two_sided:
            normals = normals * _facing_sign(packed, inputs).unsqueeze(-1)
        dirs = self.lights.unit_directions(inputs.vertices)  # (L, 3)
        return normals, normals @ dirs.T  # (M, 3), (M, L)

    def _diffuse(self, packed: PackedFragments, inputs: ShadingInputs) -> torch.Tensor:
        """``(M, 1)``: ambient plus the lights' mean clamped ``n · l``, the factor of the albedo."""
        _, ndotl = self._normals(packed, inputs)
        return self.lights.ambient + self.lights.intensity * ndotl.clamp(0.0, 1.0).mean(-1, keepdim=True)

    def shade(self, packed: PackedFragments, inputs: ShadingInputs) -> torch.Tensor:
        """``(M, 3)`` colour of each packed candidate before compositing."""
        return self._albedo(packed, inputs) * self._diffuse(packed, inputs)

    def __call__(self, fragments: Fragments, inputs: ShadingInputs) -> torch.Tensor:
        packed = fragments.packed_entries(inputs.faces, inputs.vertices.shape[1])
        colors = self.shade(packed, inputs)
        shape = tuple(fragments.pix_to_face.shape)
        rgb, alpha = packed_composite(
            colors, _coverage(fragments, inputs, self.blend), packed.index, shape, self.blend.background
        )
        return torch.cat([rgb, alpha.unsqueeze(-1)], dim=-1)

    def colourings(
        self, fragments: Fragments, inputs: ShadingInputs, colour_sets: list[torch.Tensor | None]
    ) -> list[torch.Tensor]:
        """The images this shader gives with each per-vertex colouring of ``colour_sets`` as its
        ``vertex_colors`` (``None``: its uniform ``albedo``), the candidates' packing, lighting and
        coverage computed once: the same pixels as one call per colouring (an albedo and an error heat
        map of one geometry, say). Diffuse shading only: a subclass that adds light (Phong) refuses."""
        if type(self).shade is not LambertShader.shade:
            raise TypeError(f"{type(self).__name__} shades beyond albedo x diffuse; call it per colouring")
        packed = fragments.packed_entries(inputs.faces, inputs.vertices.shape[1])
        diffuse = self._diffuse(packed, inputs)
        coverage = _coverage(fragments, inputs, self.blend)
        shape = tuple(fragments.pix_to_face.shape)
        out = []
        for colours in colour_sets:
            albedo = replace(self, vertex_colors=colours)._albedo(packed, inputs)
            bg = self.blend.background
            rgb, alpha = packed_composite(albedo * diffuse, coverage, packed.index, shape, bg)
            out.append(torch.cat([rgb, alpha.unsqueeze(-1)], dim=-1))
        return out


@dataclass
class PhongShader(LambertShader):
    """Lambert plus a Phong specular lobe (``specular`` strength, ``shininess`` exponent)."""

    specular: float = 0.2
    shininess: float = 10.0

    def shade(self, packed: PackedFragments, inputs: ShadingInputs) -> torch.Tensor:
        normals, ndotl = self._normals(packed, inputs)
        diffuse = self.lights.ambient + self.lights.intensity * ndotl.clamp(0.0, 1.0).mean(-1, keepdim=True)
        points = packed_interpolate(packed, inputs.vertices)
        view = _view_dirs(points, inputs.camera)  # (M, 3)
        dirs = self.lights.unit_directions(inputs.vertices)  # (L, 3)
        # r . v = 2 (n . l)(n . v) - l . v
        ndotv = (normals * view).sum(-1, keepdim=True)
        rdotv = 2.0 * ndotl * ndotv - view @ dirs.T
        spec = rdotv.clamp(0.0, 1.0).pow(self.shininess) * (ndotl > 0)
        spec = self.specular * self.lights.intensity * spec.mean(-1, keepdim=True)
        return self._albedo(packed, inputs) * diffuse + spec


@dataclass
class SoftSilhouetteShader:
    """RGBA with white RGB and alpha = soft coverage ``1 - prod_k (1 - p_k)``."""

    blend: BlendParams = field(default_factory=BlendParams)

    def __call__(self, fragments: Fragments, inputs: ShadingInputs) -> torch.Tensor:
        n, h, w, k = fragments.pix_to_face.shape
        packed = fragments.packed_entries(inputs.faces, inputs.screen.shape[1])
        cov = _coverage(fragments, inputs, self.blend)
        dense = cov.new_zeros(n * h * w * k).index_put((packed.index,), cov).view(n, h, w, k)
        alpha = 1.0 - torch.prod(1.0 - dense, dim=-1)
        return torch.stack([alpha, alpha, alpha, alpha], dim=-1)


@dataclass
class DepthShader:
    """RGBA whose RGB channels hold the depth of the nearest covering candidate (``background`` elsewhere)."""

    background: float = 0.0

    def __call__(self, fragments: Fragments, inputs: ShadingInputs) -> torch.Tensor:
        covered = fragments.mask[..., 0] & (fragments.dists[..., 0] <= 0)
        z = torch.where(
            covered, fragments.zbuf[..., 0], torch.full_like(fragments.zbuf[..., 0], self.background)
        )
        a = covered.to(z.dtype)
        return torch.stack([z, z, z, a], dim=-1)
