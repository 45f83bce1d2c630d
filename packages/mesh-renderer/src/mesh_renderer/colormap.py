"""Colour map and colour bar for per-vertex error heat maps (no plotting library needed)."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["VIRIDIS_ANCHORS", "apply_colormap", "colorbar_image"]

#: viridis at 0, 0.25, 0.5, 0.75, 1 (matplotlib's published values, #440154 #3b528b #21918c #5ec962 #fde725)
VIRIDIS_ANCHORS = (
    (0x44 / 255, 0x01 / 255, 0x54 / 255),
    (0x3B / 255, 0x52 / 255, 0x8B / 255),
    (0x21 / 255, 0x91 / 255, 0x8C / 255),
    (0x5E / 255, 0xC9 / 255, 0x62 / 255),
    (0xFD / 255, 0xE7 / 255, 0x25 / 255),
)


def apply_colormap(values: torch.Tensor, vmin: float, vmax: float) -> torch.Tensor:
    """``(...,)`` values -> ``(..., 3)`` RGB in [0, 1], piecewise linear through :data:`VIRIDIS_ANCHORS`."""
    if not vmax > vmin:
        raise ValueError(f"vmax ({vmax}) must be greater than vmin ({vmin})")
    anchors = torch.tensor(VIRIDIS_ANCHORS, dtype=torch.float32, device=values.device)
    t = ((values.float() - vmin) / (vmax - vmin)).clamp(0.0, 1.0) * (len(VIRIDIS_ANCHORS) - 1)
    i0 = torch.floor(t).long().clamp(max=len(VIRIDIS_ANCHORS) - 2)
    a = (t - i0.float()).unsqueeze(-1)
    return anchors[i0] * (1 - a) + anchors[i0 + 1] * a


def colorbar_image(height: int, vmin: float, vmax: float, label: str = "", width: int = 72) -> np.ndarray:
    """``(height, width, 3)`` uint8 vertical colour bar (high values on top) with tick labels.

    Labels are drawn with Pillow when it is installed (the ``video`` extra); otherwise the bar is unlabelled.
    """
    bar_w = 14
    img = np.zeros((height, width, 3), dtype=np.uint8)
    margin = 10
    span = max(height - 2 * margin, 2)
    vals = torch.linspace(1.0, 0.0, span)
    colours = (apply_colormap(vals, 0.0, 1.0).numpy() * 255).astype(np.uint8)
    img[margin : margin + span, 4 : 4 + bar_w] = colours[:, None, :]
    try:
        from PIL import Image, ImageDraw
    except ImportError:  # pragma: no cover - pillow is part of the video extra
        return img
    pil = Image.fromarray(img)
    draw = ImageDraw.Draw(pil)
    for frac in (1.0, 0.5, 0.0):
        y = margin + round((1.0 - frac) * (span - 1))
        value = vmin + frac * (vmax - vmin)
        draw.line([(4 + bar_w, y), (4 + bar_w + 3, y)], fill=(255, 255, 255))
        draw.text((4 + bar_w + 5, max(0, y - 5)), f"{value:.3g}", fill=(255, 255, 255))
    if label:
        draw.text((2, height - margin + 0), label[:12], fill=(255, 255, 255))
    return np.asarray(pil)
