"""The rasterizer output shared by every backend, in pytorch3d's layout."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = ["Fragments", "PackedFragments", "RasterSettings", "blur_radius_for_pixels"]


@dataclass(frozen=True)
class RasterSettings:
    """What to rasterize and how soft the coverage is.

    - ``image_size``: ``(H, W)`` of the rendered window.
    - ``blur_radius``: squared distance in NDC units (pytorch3d's convention, NDC spans 2 units across the
      shorter side of the window) within which a pixel outside a triangle still receives that triangle as a
      candidate. ``0`` gives a hard rasterization. :func:`blur_radius_for_pixels` converts from pixels.
    - ``faces_per_pixel``: ``K``, how many candidates (nearest first) each pixel keeps.
    - ``perspective_correct``: barycentrics corrected by depth (only meaningful for perspective cameras).
    - ``cull_backfaces``: drop triangles whose vertices appear clockwise to the viewer.
    - ``contour_only`` (PyTorch backend): a pixel outside a triangle keeps it as a candidate only when the
      triangle's edge nearest to the pixel is a contour edge (mesh boundary or occluding contour). Pixels
      near interior edges are covered by the neighbouring triangle anyway; this keeps the ``K`` slots for
      what soft coverage needs even when triangles are smaller than the blur radius. ``False`` gives
      pytorch3d's rule (every triangle within the blur radius).
    """

    image_size: tuple[int, int] = (224, 224)
    blur_radius: float = 0.0
    faces_per_pixel: int = 1
    perspective_correct: bool = False
    cull_backfaces: bool = False
    contour_only: bool = True

    def __post_init__(self) -> None:
        size = self.image_size
        if isinstance(size, int):
            size = (size, size)
        size = (int(size[0]), int(size[1]))
        if size[0] <= 0 or size[1] <= 0:
            raise ValueError(f"RasterSettings.image_size must be positive, got {self.image_size!r}")
        object.__setattr__(self, "image_size", size)
        if self.blur_radius < 0:
            raise ValueError(f"RasterSettings.blur_radius must be >= 0, got {self.blur_radius}")
        if self.faces_per_pixel < 1:
            raise ValueError(f"RasterSettings.faces_per_pixel must be >= 1, got {self.faces_per_pixel}")

    @property
    def pixels_per_ndc(self) -> float:
        """Pixels per NDC unit: half the shorter window side."""
        return min(self.image_size) / 2.0

    @property
    def blur_radius_pixels(self) -> float:
        """The blur radius as a distance in pixels."""
        return math.sqrt(self.blur_radius) * self.pixels_per_ndc


def blur_radius_for_pixels(pixels: float, image_size: int | tuple[int, int]) -> float:
    """The NDC-squared ``blur_radius`` that corresponds to a distance of ``pixels`` in an image."""
    if isinstance(image_size, int):
        image_size = (image_size, image_size)
    return (pixels / (min(image_size) / 2.0)) ** 2


@dataclass
class PackedFragments:
    """The ``M`` non-empty candidates of a :class:`Fragments`, as flat arrays (what shaders work on).

    ``index`` ``(M,)``: position in the flattened ``(N, H, W, K)`` grid; ``vertex_rows`` ``(M, 3)``: rows of
    the triangle's corners in the flattened ``(N * V, ...)`` vertex table; ``bary_coords`` ``(M, 3)`` and
    ``dists`` ``(M,)`` as in :class:`Fragments` (differentiable); ``contour`` ``(M, 3)`` bool, optional:
    which triangle edges are contour edges (edge ``e`` joins corners ``e`` and ``e + 1``); ``edge_dist2``
    ``(M, 3)``, optional: squared NDC distance from the pixel centre to each edge segment.
    """

    index: torch.Tensor
    vertex_rows: torch.Tensor
    bary_coords: torch.Tensor
    dists: torch.Tensor
    contour: torch.Tensor | None = None
    edge_dist2: torch.Tensor | None = None  # (M, 3) squared NDC distances to the three edges, optional


class Fragments:
    """Per-pixel candidates, nearest first (``N`` images of ``H x W`` pixels, ``K`` per pixel).

    - ``pix_to_face`` ``(N, H, W, K)`` int64: packed face index ``n * F + f``, ``-1`` where empty.
    - ``zbuf`` ``(N, H, W, K)``: depth of the surface point seen in the pixel, ``-1`` where empty.
    - ``bary_coords`` ``(N, H, W, K, 3)``: barycentric coordinates of the pixel centre (clipped to the
      triangle for pixels outside it), ``-1`` where empty.
    - ``dists`` ``(N, H, W, K)``: signed squared distance, in NDC units, from the pixel centre to the
      triangle, negative inside, ``-1`` where empty.

    ``zbuf``, ``bary_coords`` and ``dists`` are differentiable with respect to the vertex positions. The
    PyTorch backend also keeps the non-empty candidates as :class:`PackedFragments` (``packed``) and builds
    the dense ``zbuf`` / ``bary_coords`` / ``dists`` tensors only when they are read.
    """

    def __init__(
        self,
        pix_to_face: torch.Tensor,
        zbuf: torch.Tensor | None = None,
        bary_coords: torch.Tensor | None = None,
        dists: torch.Tensor | None = None,
        packed: PackedFragments | None = None,
        packed_depth: torch.Tensor | None = None,
    ) -> None:
        if (zbuf is None or bary_coords is None or dists is None) and (
            packed is None or packed_depth is None
        ):
            raise ValueError(
                "Fragments needs either dense zbuf/bary_coords/dists or packed entries with depth"
            )
        self.pix_to_face = pix_to_face
        self._zbuf, self._bary, self._dists = zbuf, bary_coords, dists
        self.packed = packed
        self._packed_depth = packed_depth

    def _dense(self, values: torch.Tensor, trailing: tuple[int, ...]) -> torch.Tensor:
        assert self.packed is not None
        total = self.pix_to_face.numel()
        out = values.new_full((total, *trailing), -1.0).index_put((self.packed.index,), values)
        return out.view(*self.pix_to_face.shape, *trailing)

    @property
    def zbuf(self) -> torch.Tensor:
        if self._zbuf is None:
            self._zbuf = self._dense(self._packed_depth, ())
        return self._zbuf

    @property
    def bary_coords(self) -> torch.Tensor:
        if self._bary is None:
            self._bary = self._dense(self.packed.bary_coords, (3,))
        return self._bary

    @property
    def dists(self) -> torch.Tensor:
        if self._dists is None:
            self._dists = self._dense(self.packed.dists, ())
        return self._dists

    @property
    def mask(self) -> torch.Tensor:
        """``(N, H, W, K)`` bool: which candidates exist."""
        return self.pix_to_face >= 0

    def packed_entries(self, faces: torch.Tensor, num_vertices: int) -> PackedFragments:
        """The non-empty candidates as :class:`PackedFragments` (cached by the PyTorch backend)."""
        if self.packed is None:
            flat = self.pix_to_face.reshape(-1)
            index = torch.nonzero(flat >= 0, as_tuple=True)[0]
            face_packed = flat[index]
            f = faces.shape[0]
            batch = torch.div(face_packed, f, rounding_mode="floor")
            faces = faces.to(device=flat.device, dtype=torch.int64)
            rows = faces[face_packed - batch * f] + (batch * num_vertices).unsqueeze(-1)
            self.packed = PackedFragments(
                index=index,
                vertex_rows=rows,
                bary_coords=self.bary_coords.reshape(-1, 3)[index],
                dists=self.dists.reshape(-1)[index],
            )
        return self.packed
