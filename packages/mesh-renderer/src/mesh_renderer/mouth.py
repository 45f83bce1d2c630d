"""Mouth region of interest for the lip reader: locate, crop, grayscale, normalise, resample to 25 fps.

The lip reader (auto-avsr) expects ``(B, T, 1, 88, 88)`` grayscale mouth crops at 25 fps normalised with
mean 0.421 and std 0.165. The AV-guidance code crops a fixed 96 x 96 box out of a 224 x 224 render
(VOCASET rows 107:203, cols 63:159; BIWI rows 107:203, cols 68:164), centre-crops 88 and normalises with
std 0.4 (``methods.md`` section 1.5). Here the 96 x 96 box is centred on the projected lip vertices, and
only the final 88 x 88 window is rasterized (the centre 88 of a 96 box starts 4 pixels in).
Grayscale uses the ITU-R 601 luma weights (0.2989, 0.587, 0.114) of ``torchvision.transforms.Grayscale``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .blending import BlendParams
from .cameras import Camera
from .fragments import RasterSettings, blur_radius_for_pixels
from .renderer import MeshRenderer, get_rasterizer
from .resample import temporal_resample
from .shaders import LambertShader

__all__ = [
    "FIXED_CROPS",
    "MouthCrop",
    "locate_mouth",
    "mouth_window_offsets",
    "render_mouth_video",
    "to_lipreader_input",
]

#: AV-guidance fixed 96 x 96 crops in the 224 x 224 render: (row0, col0) of the box.
FIXED_CROPS: dict[str, tuple[int, int]] = {"vocaset": (107, 63), "biwi": (107, 68)}

_LUMA = (0.2989, 0.587, 0.114)


@dataclass(frozen=True)
class MouthCrop:
    """Crop and normalisation of the lip-reader input (defaults: auto-avsr's)."""

    crop_size: int = 96
    out_size: int = 88
    mean: float = 0.421
    std: float = 0.165

    def __post_init__(self) -> None:
        if self.out_size > self.crop_size:
            raise ValueError(f"out_size ({self.out_size}) must not exceed crop_size ({self.crop_size})")
        if not self.std > 0:
            raise ValueError(f"std must be > 0, got {self.std}")

    @classmethod
    def av_guidance(cls) -> MouthCrop:
        """The AV-guidance code's normalisation (std 0.4 instead of auto-avsr's 0.165)."""
        return cls(std=0.4)


def _lip_index_tensor(lip_indices: torch.Tensor | np.ndarray | list[int], num_vertices: int) -> torch.Tensor:
    if isinstance(lip_indices, torch.Tensor):
        idx = lip_indices.detach().to(device="cpu", dtype=torch.int64).reshape(-1)
    else:  # torch.tensor copies: read-only (memory-mapped) index arrays are fine
        idx = torch.tensor(np.asarray(lip_indices, dtype=np.int64)).reshape(-1)
    if idx.numel() == 0:
        raise ValueError("lip_indices is empty: pass the vertex ids of the lip region")
    if int(idx.min()) < 0 or int(idx.max()) >= num_vertices:
        raise ValueError(
            f"lip_indices must lie in [0, {num_vertices}) for this mesh; got min {int(idx.min())}, "
            f"max {int(idx.max())} (is the mask for another topology?)"
        )
    return idx


@torch.no_grad()
def locate_mouth(
    vertices: torch.Tensor,
    lip_indices: torch.Tensor | np.ndarray | list[int],
    camera: Camera,
    per: str = "sequence",
) -> torch.Tensor:
    """``(B, T, 2)`` mouth centre ``(x, y)`` in pixels of the camera image.

    The centre of the bounding box of the projected lip vertices, per frame (``per="frame"``) or averaged
    over the frames of each sequence (``per="sequence"``, the default: a crop that does not jitter).
    """
    if vertices.ndim != 4 or vertices.shape[-1] != 3:
        raise ValueError(f"vertices must have shape (B, T, V, 3), got {tuple(vertices.shape)}")
    if per not in ("sequence", "frame"):
        raise ValueError(f"per must be 'sequence' or 'frame', got {per!r}")
    idx = _lip_index_tensor(lip_indices, vertices.shape[2]).to(vertices.device)
    xy = camera(vertices[:, :, idx].detach())[..., :2]  # (B, T, L, 2)
    centre = 0.5 * (xy.amin(2) + xy.amax(2))
    if per == "sequence":
        centre = centre.mean(1, keepdim=True).expand_as(centre)
    return centre


def mouth_window_offsets(centres: torch.Tensor, crop: MouthCrop = MouthCrop()) -> torch.Tensor:
    """``(..., 2)`` integer ``(row, col)`` of the top-left pixel of the ``out_size`` window.

    The ``crop_size`` box starts at ``round(centre - crop_size / 2)``; its centre ``out_size`` crop starts
    ``(crop_size - out_size) // 2`` further in (torchvision's ``CenterCrop`` rounding).
    """
    inset = round((crop.crop_size - crop.out_size) / 2.0)
    box = torch.round(centres - crop.crop_size / 2.0).long()
    return torch.stack([box[..., 1], box[..., 0]], dim=-1) + inset


def to_lipreader_input(rgba: torch.Tensor, crop: MouthCrop = MouthCrop()) -> torch.Tensor:
    """``(..., H, W, 3 or 4)`` images in [0, 1] -> ``(..., 1, H, W)`` normalised grayscale."""
    if rgba.shape[-1] not in (3, 4):
        raise ValueError(f"images must end with 3 or 4 channels, got {tuple(rgba.shape)}")
    w = torch.tensor(_LUMA, dtype=rgba.dtype, device=rgba.device)
    gray = rgba[..., :3] @ w
    return ((gray - crop.mean) / crop.std).unsqueeze(-3)


def render_mouth_video(
    vertices: torch.Tensor,
    faces: torch.Tensor,
    lip_indices: torch.Tensor | np.ndarray | list[int],
    camera: Camera,
    fps_in: float,
    fps_out: float = 25.0,
    crop: MouthCrop = MouthCrop(),
    shader: LambertShader | None = None,
    backend: str = "torch",
    blur_pixels: float = 1.0,
    faces_per_pixel: int = 4,
    per: str = "sequence",
    num_out: int | None = None,
    chunk_frames: int = 256,
    vertex_colors: torch.Tensor | np.ndarray | None = None,
    cull_backfaces: bool = False,
) -> torch.Tensor:
    """Differentiable lip-reader input ``(B, T_out, 1, out_size, out_size)`` from ``(B, T, V, 3)`` vertices.

    Renders only the ``out_size`` window around the mouth with soft coverage (``blur_pixels`` wide, SoftRas
    ``sigma`` set so coverage falls from 0.5 to ~0.0001 over that distance) and Lambert shading with the
    AV-guidance lights, converts to normalised grayscale and resamples ``fps_in`` -> ``fps_out``. Frames
    are rasterized ``chunk_frames`` at a time to bound the memory of the candidate search.
    ``vertex_colors``: ``(V, 3)`` albedo per vertex in [0, 1] for the default shader (lips, teeth,
    tongue and a dark mouth interior told apart by colour); ``None`` keeps its uniform grey.
    ``cull_backfaces``: leave out triangles facing away from the camera (a head's mouth interior,
    teeth and tongue behind closed lips, the back of the skull) before the candidate search.
    """
    if vertices.ndim != 4 or vertices.shape[-1] != 3:
        raise ValueError(f"vertices must have shape (B, T, V, 3), got {tuple(vertices.shape)}")
    b, t, v, _ = vertices.shape
    size = (crop.out_size, crop.out_size)
    blur = blur_radius_for_pixels(blur_pixels, size) if blur_pixels > 0 else 0.0
    settings = RasterSettings(
        image_size=size,
        blur_radius=blur,
        faces_per_pixel=faces_per_pixel if blur else 1,
        cull_backfaces=cull_backfaces,
    )
    if shader is None:
        # coverage sigmoid(-d^2 / sigma) reaches 1e-4 at the blur radius: sigma = r^2 / ln(1e4 - 1)
        colors = None
        if vertex_colors is not None:
            colors = torch.as_tensor(np.asarray(vertex_colors, dtype=np.float32)).to(vertices)
            if colors.shape != (v, 3):
                raise ValueError(f"vertex_colors must have shape ({v}, 3), got {tuple(colors.shape)}")
        shader = LambertShader(blend=BlendParams(sigma=max(blur, 1e-12) / 9.21), vertex_colors=colors)
    elif vertex_colors is not None:
        raise ValueError("pass vertex_colors to the shader you give, not to render_mouth_video")
    renderer = MeshRenderer(camera, get_rasterizer(backend, settings), shader)
    offsets = mouth_window_offsets(locate_mouth(vertices, lip_indices, camera, per), crop)
    if chunk_frames < 1:
        raise ValueError(f"chunk_frames must be >= 1, got {chunk_frames}")
    flat_v, flat_o = vertices.reshape(b * t, v, 3), offsets.reshape(b * t, 2)
    images = torch.cat(
        [
            renderer(flat_v[s : s + chunk_frames], faces, flat_o[s : s + chunk_frames])
            for s in range(0, b * t, chunk_frames)
        ]
    )
    frames = to_lipreader_input(images.reshape(b, t, *size, 4), crop)  # (B, T, 1, H, W)
    return temporal_resample(frames, fps_in, fps_out, dim=1, num_out=num_out)
