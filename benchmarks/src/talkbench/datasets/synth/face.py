"""The procedural template mesh ``synth-face-v1`` and per-speaker identity shapes.

Coordinates: x to the face's left-right (right of the image is +x), y up, z towards the viewer;
units metres at FLAME-like size (about 0.15 m wide, 0.21 m tall). The surface is a height field
``z(x, y)`` over a 2-D point set triangulated by Delaunay:

* **mouth**: 48 points on each of 7 rings around the mouth. Ring 0 is the inner lip line, a slit
  1.6 mm tall at rest; the triangles spanned by ring-0 points only are removed, which leaves a real
  mouth opening that widens when the jaw and lips move. Rings 0–4 are the lips (the ``lips`` region),
  rings 5–6 the skin around them. About 700 triangles lie in the mouth area.
* **eyes**: 3 rings of 32 points around each eye (lids; ring 0 is the lid margin);
* the rest: a hexagonal grid with 4.5 mm spacing inside the face outline (an ellipse).

Depth adds a dome, nose, eye sockets, brow ridge, cheeks, lip protrusion and chin. Regions: ``lips``
(mouth rings 0–4) and ``upper_face`` (every vertex above the nose bridge, y > 15 mm: eyes, lids,
brows, forehead), plus rig-internal labels. The mesh is a pure function of the code: no randomness.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.spatial import Delaunay

__all__ = ["TOPOLOGY", "FaceMesh", "build_face", "identity_shape"]

TOPOLOGY = "synth-face-v1"

MOUTH_Y = -0.045
MOUTH_HALF_WIDTH = 0.024
N_MOUTH = 48
MOUTH_RHO = (0.0, 0.15, 0.35, 0.6, 1.0, 1.4, 1.9)
LIP_RINGS = 5
EYE_X, EYE_Y = 0.033, 0.028
EYE_HALF_W, EYE_HALF_H = 0.013, 0.0045
N_EYE = 32
EYE_RHO = (0.0, 0.5, 1.1)
FACE_HALF_W, FACE_TOP, FACE_BOTTOM = 0.075, 0.10, -0.11
GRID_SPACING = 0.0045
UPPER_FACE_Y = 0.015


@dataclass(frozen=True)
class FaceMesh:
    """Neutral template and its labels.

    Attributes:
        vertices: ``float32 (V, 3)``; faces: ``int64 (F, 3)`` (counter-clockwise seen from +z).
        mouth_ring / mouth_theta: per vertex, its mouth ring (−1 if none) and angle around the mouth.
        eye_ring / eye_theta / eye_side: the same for the eye rings (side −1 = image left, +1 = right).
        mouth_ring_index: ``(7, 48)`` vertex ids of the mouth rings, ring-major.
    """

    vertices: np.ndarray
    faces: np.ndarray
    mouth_ring: np.ndarray
    mouth_theta: np.ndarray
    eye_ring: np.ndarray
    eye_theta: np.ndarray
    eye_side: np.ndarray
    mouth_ring_index: np.ndarray

    @property
    def num_vertices(self) -> int:
        return int(self.vertices.shape[0])

    def region(self, name: str) -> np.ndarray:
        """Sorted vertex ids of ``"lips"`` or ``"upper_face"``."""
        if name == "lips":
            return np.flatnonzero((self.mouth_ring >= 0) & (self.mouth_ring < LIP_RINGS)).astype(np.int64)
        if name == "upper_face":
            return np.flatnonzero(self.vertices[:, 1] > UPPER_FACE_Y).astype(np.int64)
        raise KeyError(f"unknown region {name!r}; synth-face-v1 has 'lips' and 'upper_face'")

    def mouth_triangles(self) -> np.ndarray:
        """Ids of the triangles with at least one vertex on a mouth ring."""
        on_ring = self.mouth_ring[self.faces] >= 0
        return np.flatnonzero(on_ring.any(axis=1))


def _mouth_ring_xy(rho: float, theta: np.ndarray) -> np.ndarray:
    upper = np.sin(theta) >= 0
    height = np.where(upper, 0.0105, 0.0125)  # upper / lower lip height at the centre line
    half_h = 0.0008 + rho * height
    half_w = MOUTH_HALF_WIDTH + rho * 0.006
    return np.stack([half_w * np.cos(theta), MOUTH_Y + half_h * np.sin(theta)], axis=1)


def _eye_ring_xy(rho: float, theta: np.ndarray, side: int) -> np.ndarray:
    half_w = EYE_HALF_W + rho * 0.006
    half_h = EYE_HALF_H + rho * 0.0055
    return np.stack([side * EYE_X + half_w * np.cos(theta), EYE_Y + half_h * np.sin(theta)], axis=1)


def _depth(xy: np.ndarray) -> np.ndarray:
    x, y = xy[:, 0], xy[:, 1]
    g = lambda dx, dy, sx, sy: np.exp(-((dx / sx) ** 2 + (dy / sy) ** 2))  # noqa: E731
    z = 0.065 * np.sqrt(np.clip(1.0 - (x / 0.09) ** 2 - (y / 0.14) ** 2, 0.0, None))
    z += 0.024 * g(x, y + 0.012, 0.008, 0.018) + 0.012 * g(x, y - 0.012, 0.006, 0.02)  # nose tip, bridge
    z += 0.004 * (
        g(x - 0.012, y + 0.02, 0.006, 0.005) + g(x + 0.012, y + 0.02, 0.006, 0.005)
    )  # nostril wings
    z -= 0.009 * (g(x - EYE_X, y - EYE_Y, 0.016, 0.012) + g(x + EYE_X, y - EYE_Y, 0.016, 0.012))  # sockets
    z += 0.005 * g(np.abs(x) - 0.03, y - 0.048, 0.025, 0.007)  # brow ridge
    z += 0.006 * (g(x - 0.042, y + 0.018, 0.016, 0.016) + g(x + 0.042, y + 0.018, 0.016, 0.016))  # cheeks
    z += 0.007 * g(x, y - MOUTH_Y, 0.024, 0.013)  # lips forward
    z += 0.005 * g(x, y + 0.09, 0.02, 0.012)  # chin
    return z


@lru_cache(maxsize=1)
def build_face() -> FaceMesh:
    """Build ``synth-face-v1`` (deterministic; cached)."""
    pts, mring, mtheta, ering, etheta, eside = [], [], [], [], [], []

    def add(
        xy: np.ndarray,
        mr: int = -1,
        mt: np.ndarray | None = None,
        er: int = -1,
        et: np.ndarray | None = None,
        es: int = 0,
    ) -> None:
        n = len(xy)
        pts.append(xy)
        mring.append(np.full(n, mr))
        mtheta.append(mt if mt is not None else np.zeros(n))
        ering.append(np.full(n, er))
        etheta.append(et if et is not None else np.zeros(n))
        eside.append(np.full(n, es))

    theta_m = 2 * np.pi * np.arange(N_MOUTH) / N_MOUTH
    for k, rho in enumerate(MOUTH_RHO):
        add(_mouth_ring_xy(rho, theta_m), mr=k, mt=theta_m)
    theta_e = 2 * np.pi * np.arange(N_EYE) / N_EYE
    for side in (-1, 1):
        for k, rho in enumerate(EYE_RHO):
            add(_eye_ring_xy(rho, theta_e, side), er=k, et=theta_e, es=side)

    # hexagonal grid inside the face outline, away from the rings
    ys = np.arange(FACE_BOTTOM, FACE_TOP + 1e-9, GRID_SPACING * np.sqrt(3) / 2)
    grid = []
    for i, y in enumerate(ys):
        xs = np.arange(-FACE_HALF_W, FACE_HALF_W + 1e-9, GRID_SPACING) + (GRID_SPACING / 2 if i % 2 else 0.0)
        grid.extend((x, y) for x in xs)
    grid_xy = np.array(grid)
    cy = (FACE_TOP + FACE_BOTTOM) / 2
    half_h = (FACE_TOP - FACE_BOTTOM) / 2
    inside = (grid_xy[:, 0] / FACE_HALF_W) ** 2 + ((grid_xy[:, 1] - cy) / half_h) ** 2 < 0.97
    outer_m = _mouth_ring_xy(MOUTH_RHO[-1] + 0.35, theta_m)
    keep = inside & ~_inside_polygon(grid_xy, outer_m)
    for side in (-1, 1):
        keep &= ~_inside_polygon(grid_xy, _eye_ring_xy(EYE_RHO[-1] + 0.45, theta_e, side))
    add(grid_xy[keep])
    theta_o = 2 * np.pi * np.arange(96) / 96
    add(np.stack([FACE_HALF_W * np.cos(theta_o), cy + half_h * np.sin(theta_o)], axis=1))

    xy = np.concatenate(pts)
    mouth_ring = np.concatenate(mring)
    tri = Delaunay(xy).simplices.astype(np.int64)
    hole = (mouth_ring[tri] == 0).all(axis=1)
    tri = tri[~hole]
    # orient counter-clockwise seen from +z
    a, b, c = xy[tri[:, 0]], xy[tri[:, 1]], xy[tri[:, 2]]
    cross = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    tri[cross < 0] = tri[cross < 0][:, [0, 2, 1]]
    verts = np.concatenate([xy, _depth(xy)[:, None]], axis=1).astype(np.float32)
    ring_index = np.arange(len(MOUTH_RHO) * N_MOUTH).reshape(len(MOUTH_RHO), N_MOUTH)
    return FaceMesh(
        vertices=verts,
        faces=tri,
        mouth_ring=mouth_ring,
        mouth_theta=np.concatenate(mtheta),
        eye_ring=np.concatenate(ering),
        eye_theta=np.concatenate(etheta),
        eye_side=np.concatenate(eside),
        mouth_ring_index=ring_index,
    )


def _inside_polygon(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Even-odd rule (ray casting towards +x) for a closed polygon ``(N, 2)``."""
    x, y = points[:, 0:1], points[:, 1:2]
    x0, y0 = polygon[:, 0][None], polygon[:, 1][None]
    x1, y1 = np.roll(polygon[:, 0], -1)[None], np.roll(polygon[:, 1], -1)[None]
    straddles = (y0 > y) != (y1 > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_cross = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
    return ((straddles & (x < x_cross)).sum(axis=1) % 2) == 1


def identity_shape(face: FaceMesh, rng: np.random.Generator) -> np.ndarray:
    """A speaker's neutral face: the template plus a random mix of smooth identity deformations.

    Deformations (standard deviations): face width ±4 %, face length ±4 %, nose protrusion ±3 mm,
    lip thickness ±15 %, mouth width ±8 %, eye height ±2 mm, chin protrusion ±3 mm, cheek fullness
    ±2.5 mm, brow height ±2 mm. Coefficients are clipped at ±2 standard deviations.
    """
    v = face.vertices.astype(np.float64).copy()
    x, y = v[:, 0], v[:, 1]
    c = np.clip(rng.standard_normal(9), -2.0, 2.0)
    g = lambda dx, dy, s: np.exp(-((dx**2 + dy**2) / s**2))  # noqa: E731
    out = v.copy()
    out[:, 0] *= 1.0 + 0.04 * c[0]
    out[:, 1] *= 1.0 + 0.04 * c[1]
    out[:, 2] += 0.003 * c[2] * g(x, y + 0.005, 0.02)
    lips = (face.mouth_ring >= 0) & (face.mouth_ring < LIP_RINGS)
    out[lips, 1] += 0.15 * c[3] * (y[lips] - MOUTH_Y) * (face.mouth_ring[lips] > 0)
    mouth_w = g(x, y - MOUTH_Y, 0.035)
    out[:, 0] += 0.08 * c[4] * x * mouth_w
    out[:, 1] += 0.002 * c[5] * g(np.abs(x) - EYE_X, y - EYE_Y, 0.02)
    out[:, 2] += 0.003 * c[6] * g(x, y + 0.09, 0.025)
    out[:, 2] += 0.0025 * c[7] * g(np.abs(x) - 0.042, y + 0.018, 0.02)
    out[:, 1] += 0.002 * c[8] * g(np.abs(x) - 0.03, y - 0.048, 0.02)
    return out.astype(np.float32)
