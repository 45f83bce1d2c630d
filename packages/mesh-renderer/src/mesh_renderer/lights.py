"""Directional lights and the light rig of the AV-guidance renderer."""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["DirectionalLights"]


@dataclass(frozen=True)
class DirectionalLights:
    """``L`` directional lights; ``directions`` point from the surface towards each light (world space).

    ``intensity`` scales every light; the Lambert term is ``clamp(n . l, 0, 1)`` averaged over the lights.
    """

    directions: tuple[tuple[float, float, float], ...] = ((0.0, 0.0, 1.0),)
    intensity: float = 1.0
    ambient: float = 0.0

    def __post_init__(self) -> None:
        if len(self.directions) == 0:
            raise ValueError("DirectionalLights needs at least one direction")
        for d in self.directions:
            if len(d) != 3 or sum(c * c for c in d) == 0:
                raise ValueError(f"light direction must be a non-zero 3-vector, got {d!r}")

    @classmethod
    def av_guidance(cls) -> DirectionalLights:
        """Five lights at (+-1, +-1, 1) and (0, 0, 1), intensity 1.7 each (``methods.md`` section 1.5)."""
        dirs = ((-1.0, 1.0, 1.0), (1.0, 1.0, 1.0), (-1.0, -1.0, 1.0), (1.0, -1.0, 1.0), (0.0, 0.0, 1.0))
        return cls(directions=dirs, intensity=1.7)

    def unit_directions(self, like: torch.Tensor) -> torch.Tensor:
        """``(L, 3)`` unit directions on the device and dtype of ``like``."""
        d = torch.tensor(self.directions, dtype=like.dtype, device=like.device)
        return torch.nn.functional.normalize(d, dim=-1)
