"""``MeshRenderer``: camera -> rasterizer -> shader, for batches and sequences sharing one topology."""

from __future__ import annotations

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
    """

    def __init__(
        self, camera: Camera, rasterizer: Rasterizer | None = None, shader: Shader | None = None
    ) -> None:
        from .shaders import LambertShader

        self.camera = camera
        self.rasterizer = (
            rasterizer
            if rasterizer is not None
            else TorchRasterizer(RasterSettings(image_size=camera.image_size))
        )
        self.shader = shader if shader is not None else LambertShader()

    def rasterize(
        self, vertices: torch.Tensor, faces: torch.Tensor, offsets: torch.Tensor | None = None
    ) -> tuple[Fragments, ShadingInputs]:
        """Fragments and shading inputs for ``(N, V, 3)`` world vertices."""
        if vertices.ndim != 3 or vertices.shape[-1] != 3:
            raise ValueError(f"vertices must have shape (N, V, 3), got {tuple(vertices.shape)}")
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
        fragments = self.rasterizer(screen, faces, perspective=self.camera.is_perspective)
        inputs = ShadingInputs(
            vertices=vertices,
            screen=screen,
            faces=faces.to(device=vertices.device, dtype=torch.int64),
            camera=self.camera,
            pixels_per_ndc=settings.pixels_per_ndc,
            soft=settings.blur_radius > 0,
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
