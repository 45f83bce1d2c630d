"""Shaders: turn fragments into RGBA images ``(N, H, W, 4)`` (pytorch3d's layout).

Every shader receives a :class:`ShadingInputs` with the world vertices (for normals), the screen vertices
(for soft coverage) and the shared faces. Vertex normals are recomputed from the world vertices on every
call, so shading is differentiable with respect to the vertices.

- Lambert: ``c = albedo * (ambient + intensity * mean_l clamp(n . l_l, 0, 1))`` (the light model of the
  AV-guidance renderer, ``methods.md`` section 1.5).
- Phong: Lambert plus ``specular * intensity * mean_l clamp(r_l . v, 0, 1) ** shininess`` with
  ``r_l = 2 (n . l_l) n - l_l`` and ``v`` the unit vector towards the viewer (Phong 1975).
- Soft silhouette: alpha of the composited soft coverage.
- Depth: ``zbuf`` of the nearest covering candidate, ``background`` elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .blending import BlendParams, composite, contour_coverage, hard_coverage
from .cameras import Camera
from .fragments import Fragments
from .lights import DirectionalLights
from .normals import vertex_normals

__all__ = [
    "DepthShader",
    "LambertShader",
    "PhongShader",
    "ShadingInputs",
    "SoftSilhouetteShader",
    "interpolate_vertex_attributes",
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


def interpolate_vertex_attributes(
    fragments: Fragments, faces: torch.Tensor, attrs: torch.Tensor
) -> torch.Tensor:
    """``(N, H, W, K, D)`` barycentric interpolation of per-vertex ``(N, V, D)`` attributes (0 where empty)."""
    n, h, w, k = fragments.pix_to_face.shape
    v = attrs.shape[1]
    faces = faces.to(device=attrs.device, dtype=torch.int64)
    f = faces.shape[0]
    flat = fragments.pix_to_face.reshape(-1)
    idx = torch.nonzero(flat >= 0, as_tuple=True)[0]
    packed = flat[idx]
    batch = torch.div(packed, f, rounding_mode="floor")
    vid = faces[packed - batch * f] + (batch * v).unsqueeze(-1)  # (M, 3)
    vals = attrs.reshape(n * v, -1)[vid]  # (M, 3, D)
    bary = fragments.bary_coords.reshape(-1, 3)[idx]
    out = (bary.unsqueeze(-1) * vals).sum(1)
    return attrs.new_zeros(n * h * w * k, attrs.shape[-1]).index_put((idx,), out).view(n, h, w, k, -1)


def _coverage(fragments: Fragments, inputs: ShadingInputs, blend: BlendParams) -> torch.Tensor:
    if inputs.soft:
        return contour_coverage(fragments, inputs.screen, inputs.faces, blend.sigma, inputs.pixels_per_ndc)
    return hard_coverage(fragments)


def _view_dirs(points: torch.Tensor, camera: Camera) -> torch.Tensor:
    if camera.is_perspective:
        eye = torch.tensor(
            [camera.center[0], camera.center[1], camera.distance],  # type: ignore[attr-defined]
            dtype=points.dtype,
            device=points.device,
        )
        return torch.nn.functional.normalize(eye - points, dim=-1, eps=1e-12)
    return torch.tensor([0.0, 0.0, 1.0], dtype=points.dtype, device=points.device).expand_as(points)


@dataclass
class LambertShader:
    """Diffuse shading with constant (or per-vertex) albedo and several directional lights."""

    lights: DirectionalLights = field(default_factory=DirectionalLights.av_guidance)
    albedo: tuple[float, float, float] = (180 / 255, 180 / 255, 180 / 255)
    blend: BlendParams = field(default_factory=BlendParams)
    vertex_colors: torch.Tensor | None = None  # optional (N, V, 3) albedo per vertex

    def _albedo(self, fragments: Fragments, inputs: ShadingInputs) -> torch.Tensor:
        if self.vertex_colors is not None:
            vc = self.vertex_colors.to(inputs.vertices)
            if vc.ndim == 2:
                vc = vc.unsqueeze(0).expand(inputs.vertices.shape[0], -1, -1)
            return interpolate_vertex_attributes(fragments, inputs.faces, vc)
        return torch.tensor(self.albedo, dtype=inputs.vertices.dtype, device=inputs.vertices.device)

    def _normals(self, fragments: Fragments, inputs: ShadingInputs) -> tuple[torch.Tensor, torch.Tensor]:
        vn = vertex_normals(inputs.vertices, inputs.faces)
        normals = interpolate_vertex_attributes(fragments, inputs.faces, vn)
        normals = torch.nn.functional.normalize(normals, dim=-1, eps=1e-12)
        dirs = self.lights.unit_directions(inputs.vertices)  # (L, 3)
        ndotl = normals @ dirs.T  # (N, H, W, K, L)
        return normals, ndotl

    def shade(self, fragments: Fragments, inputs: ShadingInputs) -> torch.Tensor:
        """``(N, H, W, K, 3)`` colour of each candidate before compositing."""
        _, ndotl = self._normals(fragments, inputs)
        diffuse = self.lights.ambient + self.lights.intensity * ndotl.clamp(0.0, 1.0).mean(-1, keepdim=True)
        return self._albedo(fragments, inputs) * diffuse

    def __call__(self, fragments: Fragments, inputs: ShadingInputs) -> torch.Tensor:
        colors = self.shade(fragments, inputs)
        rgb, alpha = composite(colors, _coverage(fragments, inputs, self.blend), self.blend.background)
        return torch.cat([rgb, alpha.unsqueeze(-1)], dim=-1)


@dataclass
class PhongShader(LambertShader):
    """Lambert plus a Phong specular lobe (``specular`` strength, ``shininess`` exponent)."""

    specular: float = 0.2
    shininess: float = 10.0

    def shade(self, fragments: Fragments, inputs: ShadingInputs) -> torch.Tensor:
        normals, ndotl = self._normals(fragments, inputs)
        diffuse = self.lights.ambient + self.lights.intensity * ndotl.clamp(0.0, 1.0).mean(-1, keepdim=True)
        points = interpolate_vertex_attributes(fragments, inputs.faces, inputs.vertices)
        view = _view_dirs(points, inputs.camera)  # (N, H, W, K, 3)
        dirs = self.lights.unit_directions(inputs.vertices)  # (L, 3)
        # r . v = 2 (n . l)(n . v) - l . v
        ndotv = (normals * view).sum(-1, keepdim=True)
        rdotv = 2.0 * ndotl * ndotv - view @ dirs.T
        spec = rdotv.clamp(0.0, 1.0).pow(self.shininess) * (ndotl > 0)
        spec = self.specular * self.lights.intensity * spec.mean(-1, keepdim=True)
        return self._albedo(fragments, inputs) * diffuse + spec


@dataclass
class SoftSilhouetteShader:
    """RGBA with white RGB and alpha = soft coverage ``1 - prod_k (1 - p_k)``."""

    blend: BlendParams = field(default_factory=BlendParams)

    def __call__(self, fragments: Fragments, inputs: ShadingInputs) -> torch.Tensor:
        cov = _coverage(fragments, inputs, self.blend)
        alpha = 1.0 - torch.prod(1.0 - cov, dim=-1)
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
