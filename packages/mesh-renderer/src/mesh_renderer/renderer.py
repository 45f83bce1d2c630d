"""``MeshRenderer``: camera -> rasterizer -> shader, for batches and sequences sharing one topology."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Protocol

import torch

from .backends.pytorch3d_backend import Pytorch3dRasterizer
from .backends.torch_backend import TorchRasterizer
from .cameras import Camera
from .fragments import Fragments, RasterSettings
from .shaders import ShadingInputs

__all__ = ["MeshRenderer", "Rasterizer", "Shader", "get_rasterizer"]


class Rasterizer(Protocol):
    settings: RasterSettings

    def __call__(self, screen: torch.Tensor, faces: torch.Tensor, perspective: bool = False) -> Fragments: ...


class Shader(Protocol):
    def __call__(self, fragments: Fragments, inputs: ShadingInputs) -> torch.Tensor: ...


@torch.no_grad()
def _faces_in_window(
    screen: torch.Tensor, faces: torch.Tensor, settings: RasterSettings
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Cull triangles that lie beyond one window side (plus the blur radius) in every image of the batch,
    and with ``settings.cull_backfaces`` those that face away from the viewer in every image.

    Returns ``(live face ids, faces needed for the normals of their vertices)``, or ``(None, None)`` when
    culling would keep most triangles. Uses Cohen-Sutherland outcodes: a triangle is outside when its three
    corners share an outside bit. Facing is the sign of the projected area, as the rasterizer's own test.
    """
    h, w = settings.image_size
    margin = settings.blur_radius_pixels + 1.0
    # contiguous (N, V) coordinates: gathers from the strided (N, V, 3) view cost several times more
    x, y = screen[..., 0].contiguous(), screen[..., 1].contiguous()
    codes = (
        (x < -margin).to(torch.uint8)
        | ((x > w + margin).to(torch.uint8) << 1)
        | ((y < -margin).to(torch.uint8) << 2)
        | ((y > h + margin).to(torch.uint8) << 3)
    )  # (N, V)
    corner = [faces[:, i].contiguous() for i in range(3)]
    out = codes.index_select(1, corner[0])
    out &= codes.index_select(1, corner[1])
    out &= codes.index_select(1, corner[2])
    keep = out == 0  # (N, F)
    if settings.cull_backfaces:
        (ax, ay), (bx, by), (cx, cy) = ((x.index_select(1, c), y.index_select(1, c)) for c in corner)
        area2 = (bx - ax) * (cy - ay) - (cx - ax) * (by - ay)
        keep &= area2 < 0  # counter-clockwise to a viewer with y up: negative with the window's y down
    live = torch.nonzero(keep.any(0), as_tuple=True)[0]
    if live.numel() > 0.7 * faces.shape[0]:
        return None, None
    used = torch.zeros(screen.shape[1], dtype=torch.bool, device=screen.device)
    used[faces.index_select(0, live).reshape(-1)] = True
    touching = torch.nonzero(used[faces].any(-1), as_tuple=True)[0]
    return live, faces.index_select(0, touching)


def _restore_covering_candidates(fragments: Fragments, hard: Callable[[], Fragments]) -> Fragments:
    """Put back the covering triangle of pixels whose ``K`` slots hold only outside (blur-band) candidates.

    With a blur radius, the ``K`` nearest candidates of a pixel may all be triangles that merely pass
    within the blur radius (small triangles along an occluding fold or an open boundary: nostrils,
    eyelids, lip line, jaw outline). The triangle that actually covers the pixel, farther away, is then
    dropped and the pixel composites to the background: dark specks inside the silhouette. For those
    pixels the nearest covering triangle of a hard pass (``hard()``) replaces the last slot; it is farther
    than every kept candidate (it was pushed out), so the depth order stays nearest first. Returns
    ``fragments`` itself when no pixel needs it.
    """
    p2f = fragments.pix_to_face
    if p2f.shape[-1] < 1:
        return fragments
    full = (p2f >= 0).all(-1)
    if not bool(full.any()):
        return fragments
    dists = fragments.dists
    starved = full & ~(dists <= 0).any(-1)
    if not bool(starved.any()):
        return fragments
    h = hard()
    fix = starved & (h.pix_to_face[..., 0] >= 0) & (h.dists[..., 0] <= 0)
    if not bool(fix.any()):
        return fragments
    k = p2f.shape[-1]
    last = torch.zeros(k, dtype=torch.bool, device=p2f.device)
    last[-1] = True
    sel = fix.unsqueeze(-1) & last  # (N, H, W, K)
    return Fragments(
        pix_to_face=torch.where(sel, h.pix_to_face[..., :1], p2f),
        zbuf=torch.where(sel, h.zbuf[..., :1], fragments.zbuf),
        bary_coords=torch.where(sel.unsqueeze(-1), h.bary_coords[..., :1, :], fragments.bary_coords),
        dists=torch.where(sel, h.dists[..., :1], dists),
    )


def get_rasterizer(backend: str = "torch", settings: RasterSettings | None = None) -> Rasterizer:
    """``"torch"`` (default, pure PyTorch) or ``"pytorch3d"`` (ImportError with install steps if missing)."""
    if backend == "torch":
        return TorchRasterizer(settings)
    if backend == "pytorch3d":
        return Pytorch3dRasterizer(settings)
    raise ValueError(f"unknown rasterizer backend {backend!r}; choose 'torch' or 'pytorch3d'")


class MeshRenderer:
    """Render ``(N, V, 3)`` or ``(B, T, V, 3)`` vertices with shared ``(F, 3)`` faces to RGBA images.

    The camera defines the full image; the rasterizer's ``image_size`` is the rendered window, placed at
    ``offsets`` (``(N, 2)`` integer ``(row, col)`` of its top-left pixel in the full image; default
    ``(0, 0)``). Rendering a window directly is how mouth crops are made without rendering the whole face.
    Output: ``(..., H, W, 4)`` with the leading shape of ``vertices`` minus the vertex axes.

    ``restore_covered`` (soft rasterization only): when all ``K`` candidates of a pixel are blur-band
    triangles that do not cover it, put back the covering triangle from a hard pass (see
    :func:`_restore_covering_candidates`), so folds and open boundaries show no background specks inside
    the silhouette. Off by default: the lip-reader mouth renders stay as they were trained on.
    """

    def __init__(
        self,
        camera: Camera,
        rasterizer: Rasterizer | None = None,
        shader: Shader | None = None,
        restore_covered: bool = False,
    ) -> None:
        from .shaders import LambertShader

        self.camera = camera
        self.rasterizer = (
            rasterizer
            if rasterizer is not None
            else TorchRasterizer(RasterSettings(image_size=camera.image_size))
        )
        self.shader = shader if shader is not None else LambertShader()
        self.restore_covered = restore_covered

    def rasterize(
        self, vertices: torch.Tensor, faces: torch.Tensor, offsets: torch.Tensor | None = None
    ) -> tuple[Fragments, ShadingInputs]:
        """Fragments and shading inputs for ``(N, V, 3)`` world vertices."""
        if vertices.ndim != 3 or vertices.shape[-1] != 3:
            raise ValueError(f"vertices must have shape (N, V, 3), got {tuple(vertices.shape)}")
        finite = torch.isfinite(vertices.detach()).all(-1)
        if not bool(finite.all()):
            frame, vertex = (int(i) for i in torch.nonzero(~finite)[0])
            raise ValueError(
                f"vertices hold NaN or infinite values ({int((~finite).sum())} vertices; first: frame "
                f"{frame}, vertex {vertex}), which cannot be rendered; a diverged or broken model produced "
                "them: check the meshes (e.g. torch.isfinite(vertices).all()) before rendering"
            )
        screen = self.camera(vertices)
        if offsets is not None:
            offsets = torch.as_tensor(offsets, device=vertices.device)
            if offsets.shape != (vertices.shape[0], 2):
                raise ValueError(
                    f"offsets must have shape ({vertices.shape[0]}, 2), got {tuple(offsets.shape)}"
                )
            shift = torch.stack([offsets[:, 1], offsets[:, 0]], dim=-1).to(
                screen.dtype
            )  # (col, row) = (x, y)
            screen = torch.cat([screen[..., :2] - shift.unsqueeze(1), screen[..., 2:]], dim=-1)
        settings = self.rasterizer.settings
        faces = faces.to(device=vertices.device, dtype=torch.int64)
        live, normal_faces = _faces_in_window(screen, faces, settings)
        sub = faces if live is None else faces.index_select(0, live)
        perspective = self.camera.is_perspective

        def remap(fragments: Fragments) -> Fragments:
            if live is not None:
                p2f = fragments.pix_to_face
                f_sub = sub.shape[0]
                batch = torch.div(p2f, f_sub, rounding_mode="floor")
                remapped = batch * faces.shape[0] + live[(p2f - batch * f_sub).clamp_min(0)]
                fragments.pix_to_face = torch.where(p2f >= 0, remapped, p2f)
            return fragments

        fragments = remap(self.rasterizer(screen, sub, perspective=perspective))
        if self.restore_covered and settings.blur_radius > 0:
            hard_settings = dataclasses.replace(settings, blur_radius=0.0, faces_per_pixel=1)
            hard_rasterizer = type(self.rasterizer)(hard_settings)  # type: ignore[call-arg]
            fragments = _restore_covering_candidates(
                fragments, lambda: remap(hard_rasterizer(screen, sub, perspective=perspective))
            )
        inputs = ShadingInputs(
            vertices=vertices,
            screen=screen,
            faces=faces,
            camera=self.camera,
            pixels_per_ndc=settings.pixels_per_ndc,
            soft=settings.blur_radius > 0,
            normal_faces=normal_faces,
        )
        return fragments, inputs

    def __call__(
        self, vertices: torch.Tensor, faces: torch.Tensor, offsets: torch.Tensor | None = None
    ) -> torch.Tensor:
        if vertices.ndim < 3 or vertices.shape[-1] != 3:
            raise ValueError(
                f"vertices must have shape (N, V, 3) or (B, T, V, 3), got {tuple(vertices.shape)}"
            )
        lead = vertices.shape[:-2]
        flat = vertices.reshape(-1, *vertices.shape[-2:])
        if offsets is not None:
            offsets = torch.as_tensor(offsets).reshape(-1, 2)
        fragments, inputs = self.rasterize(flat, faces, offsets)
        images = self.shader(fragments, inputs)
        return images.reshape(*lead, *images.shape[1:])
