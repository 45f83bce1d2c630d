"""Cameras that map world-space vertices to pixel coordinates and depth.

Screen convention used throughout the package: ``x`` grows to the right and ``y`` grows downwards, in
pixels of the full image; the centre of pixel ``(row i, column j)`` is at ``(j + 0.5, i + 0.5)``. Depth is
positive in front of the camera and smaller depth is closer. Normalised device coordinates (NDC) follow
pytorch3d: the shorter image side spans ``[-1, 1]``; here NDC ``+X`` is right and ``+Y`` is up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = ["Camera", "OrthographicCamera", "PerspectiveCamera", "ndc_to_pixels"]


def _size2(image_size: int | tuple[int, int]) -> tuple[int, int]:
    if isinstance(image_size, int):
        image_size = (image_size, image_size)
    h, w = int(image_size[0]), int(image_size[1])
    if h <= 0 or w <= 0:
        raise ValueError(f"image_size must be positive, got {image_size!r}")
    return h, w


def ndc_to_pixels(
    x: torch.Tensor, y: torch.Tensor, image_size: tuple[int, int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Map NDC ``(X right, Y up)`` to pixel coordinates ``(x right, y down)`` of an ``(H, W)`` image."""
    h, w = image_size
    half = min(h, w) / 2.0
    return w / 2.0 + x * half, h / 2.0 - y * half


class Camera:
    """Base class: ``project`` maps ``(..., V, 3)`` world points to ``(..., V, 3)`` = (px, py, depth)."""

    image_size: tuple[int, int]
    is_perspective: bool = False

    def project(self, vertices: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def __call__(self, vertices: torch.Tensor) -> torch.Tensor:
        if vertices.ndim < 2 or vertices.shape[-1] != 3:
            raise ValueError(f"vertices must have shape (..., V, 3), got {tuple(vertices.shape)}")
        return self.project(vertices)


@dataclass(frozen=True)
class OrthographicCamera(Camera):
    """Scaled orthographic camera of the AV-guidance rendering code (``batch_orth_proj``).

    ``X = s (x + tx)``, ``Y = s (y + ty)`` in NDC and depth ``= z_offset - s z`` (the reference code flips
    the z sign and shifts it by +10), so the face looks along ``-z`` towards a viewer on the ``+z`` side.
    Presets: ``[s, tx, ty] = [8, 0, 0]`` for VOCASET (FLAME, metres) and ``[1.6, 0, 0]`` for BIWI, both
    with a 224 x 224 image (``methods.md`` section 1.5).
    """

    scale: float = 1.0
    translation: tuple[float, float] = (0.0, 0.0)
    image_size: tuple[int, int] = (224, 224)
    z_offset: float = 10.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "image_size", _size2(self.image_size))
        if not self.scale > 0:
            raise ValueError(f"OrthographicCamera.scale must be > 0, got {self.scale}")

    is_perspective = False

    @classmethod
    def preset(cls, name: str, image_size: int | tuple[int, int] = 224) -> OrthographicCamera:
        """Camera of the AV-guidance code: ``"vocaset"`` (s = 8) or ``"biwi"`` (s = 1.6)."""
        presets = {"vocaset": 8.0, "biwi": 1.6}
        key = name.lower()
        if key not in presets:
            raise ValueError(f"unknown camera preset {name!r}; choose one of {sorted(presets)}")
        return cls(scale=presets[key], translation=(0.0, 0.0), image_size=_size2(image_size))

    def project(self, vertices: torch.Tensor) -> torch.Tensor:
        s = self.scale
        x_ndc = s * (vertices[..., 0] + self.translation[0])
        y_ndc = s * (vertices[..., 1] + self.translation[1])
        px, py = ndc_to_pixels(x_ndc, y_ndc, self.image_size)
        depth = self.z_offset - s * vertices[..., 2]
        return torch.stack([px, py, depth], dim=-1)


@dataclass(frozen=True)
class PerspectiveCamera(Camera):
    """Pinhole camera at ``eye = (cx, cy, distance)`` looking along ``-z`` with ``+y`` up.

    ``depth = distance - z``, ``X = f (x - cx) / depth``, ``Y = f (y - cy) / depth`` in NDC with
    ``f = 1 / tan(fov / 2)`` (``fov`` in degrees, across the shorter image side).
    """

    fov: float = 30.0
    distance: float = 1.0
    center: tuple[float, float] = (0.0, 0.0)
    image_size: tuple[int, int] = (224, 224)

    is_perspective = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "image_size", _size2(self.image_size))
        if not 0.0 < self.fov < 180.0:
            raise ValueError(f"PerspectiveCamera.fov must be in (0, 180) degrees, got {self.fov}")

    def project(self, vertices: torch.Tensor) -> torch.Tensor:
        f = 1.0 / math.tan(math.radians(self.fov) / 2.0)
        depth = self.distance - vertices[..., 2]
        safe = torch.where(depth.abs() > 1e-8, depth, torch.full_like(depth, 1e-8))
        x_ndc = f * (vertices[..., 0] - self.center[0]) / safe
        y_ndc = f * (vertices[..., 1] - self.center[1]) / safe
        px, py = ndc_to_pixels(x_ndc, y_ndc, self.image_size)
        return torch.stack([px, py, depth], dim=-1)
