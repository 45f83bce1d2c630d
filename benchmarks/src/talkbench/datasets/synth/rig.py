"""Articulation rig of ``synth-face-v1``: named channels → vertex displacements.

Every channel except ``lip_close`` is a linear displacement field (a blendshape) built from smooth
weights on the neutral template; ``lip_close`` is applied last and pulls each upper inner-lip point
and its mirrored lower point towards their common midline, so the lips meet whatever the jaw does.
Displacements are computed on the shared template and added to a speaker's identity shape.

Channels and their size at value 1 (metres):

* speech: ``jaw_open`` (rotation of the lower face by 10° about an axis 9 cm behind the lips; the
  lips part by ≈ 16 mm), ``lip_close``, ``lip_round`` (mouth narrows 35 %, lips protrude 8 mm),
  ``lip_spread`` (corners out 18 %), ``lower_lip_tuck`` (lower lip up 6 mm, back 6 mm),
  ``upper_lip_raise`` (upper lip up 4 mm);
* expression: ``smile``, ``frown`` (mouth corners ±4 mm, cheeks), ``brow_raise`` (6 mm),
  ``brow_lower`` (inner brows down 4 mm and together), ``brow_inner_up`` (5 mm), ``blink``
  (upper lids close), ``eye_wide`` (upper lids up 2 mm).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .face import EYE_Y, LIP_RINGS, MOUTH_RHO, MOUTH_Y, FaceMesh, build_face

__all__ = ["CHANNELS", "EXPRESSION_CHANNELS", "SPEECH_CHANNELS", "Rig", "build_rig"]

SPEECH_CHANNELS = ("jaw_open", "lip_close", "lip_round", "lip_spread", "lower_lip_tuck", "upper_lip_raise")
EXPRESSION_CHANNELS = ("smile", "frown", "brow_raise", "brow_lower", "brow_inner_up", "blink", "eye_wide")
CHANNELS = SPEECH_CHANNELS + EXPRESSION_CHANNELS


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


class Rig:
    """Linear blendshapes plus the lip-closure constraint (see the module docstring)."""

    def __init__(self, face: FaceMesh) -> None:
        self.face = face
        v = face.vertices.astype(np.float64)
        x, y, z = v[:, 0], v[:, 1], v[:, 2]
        n = len(v)
        ring, th = face.mouth_ring, face.mouth_theta
        on_mouth = ring >= 0
        s, c = np.sin(th), np.cos(th)
        # ring falloff: 1 on the lips, decaying over the perioral rings
        rho = np.where(on_mouth, np.take(np.array(MOUTH_RHO), np.clip(ring, 0, None)), 9.0)
        lipw = np.where(on_mouth, np.exp(-0.9 * rho), 0.0)
        g = lambda dx, dy, sx, sy: np.exp(-((dx / sx) ** 2 + (dy / sy) ** 2))  # noqa: E731
        around_mouth = g(x, y - MOUTH_Y, 0.04, 0.03)
        basis = {name: np.zeros((n, 3)) for name in CHANNELS if name != "lip_close"}

        # jaw: rotate the lower face about the x axis through (y=MOUTH_Y+0.01, z=-0.02), ~9 cm behind the lips
        # weight: 1 on the chin, fading to 0 a few mm above the mouth line and towards the jaw angle;
        # lower lip 1, upper lip 0, corners 0.5, the perioral rings blend into the skin weight
        below = _smoothstep((MOUTH_Y + 0.004 - y) / 0.03)
        w_jaw = below * _smoothstep((0.085 - np.abs(x)) / 0.05)
        lip_w = np.clip(0.5 - 0.5 * s / 0.35, 0.0, 1.0)  # 1 below the corners, 0 above
        ring_blend = np.clip((rho - 1.0) / 1.0, 0.0, 1.0)  # 0 on the lips, 0.9 on the outer ring
        w_jaw = np.where(on_mouth, (1 - ring_blend) * lip_w + ring_blend * w_jaw, w_jaw)
        ang = np.deg2rad(10.0)
        py, pz = y - (MOUTH_Y + 0.01), z + 0.02
        ry = py * np.cos(ang) - pz * np.sin(ang)
        rz = py * np.sin(ang) + pz * np.cos(ang)
        basis["jaw_open"][:, 1] = w_jaw * (ry - py)
        basis["jaw_open"][:, 2] = w_jaw * (rz - pz)

        dx = x
        dym = y - MOUTH_Y
        basis["lip_round"][:, 0] = -0.35 * dx * (lipw + 0.3 * around_mouth * ~on_mouth)
        basis["lip_round"][:, 2] = 0.008 * (lipw + 0.4 * around_mouth * ~on_mouth)
        basis["lip_round"][:, 1] = 0.05 * dym * lipw  # a rounder opening
        basis["lip_spread"][:, 0] = 0.18 * dx * (lipw + 0.3 * around_mouth * ~on_mouth)
        basis["lip_spread"][:, 2] = -0.003 * np.abs(c) * lipw
        basis["lip_spread"][:, 1] = 0.001 * np.abs(c) * lipw
        lower = on_mouth & (s < 0)
        upper = on_mouth & (s > 0)
        tuck_w = np.where(lower, np.exp(-1.5 * rho) * np.abs(s) ** 0.5, 0.0)
        basis["lower_lip_tuck"][:, 1] = 0.006 * tuck_w
        basis["lower_lip_tuck"][:, 2] = -0.006 * tuck_w
        raise_w = np.where(upper, np.exp(-1.2 * rho) * np.abs(s) ** 0.5, 0.0)
        basis["upper_lip_raise"][:, 1] = 0.004 * raise_w
        basis["upper_lip_raise"][:, 2] = 0.001 * raise_w

        corners = g(np.abs(x) - 0.026, y - MOUTH_Y, 0.012, 0.012)
        cheeks = g(np.abs(x) - 0.04, y + 0.015, 0.018, 0.015)
        basis["smile"][:, 1] = 0.004 * corners + 0.003 * cheeks
        basis["smile"][:, 0] = 0.004 * np.sign(x) * corners
        basis["frown"][:, 1] = -0.004 * corners - 0.001 * cheeks
        brows = g(np.abs(x) - 0.032, y - 0.05, 0.03, 0.02)
        forehead = _smoothstep((y - 0.04) / 0.03) * _smoothstep((0.11 - y) / 0.05)
        basis["brow_raise"][:, 1] = 0.006 * np.maximum(brows, 0.6 * forehead)
        inner = g(np.abs(x) - 0.015, y - 0.048, 0.015, 0.012)
        basis["brow_lower"][:, 1] = -0.004 * inner
        basis["brow_lower"][:, 0] = -0.003 * np.sign(x) * inner
        basis["brow_lower"][:, 2] = 0.001 * inner
        basis["brow_inner_up"][:, 1] = 0.005 * inner

        eye = face.eye_ring >= 0
        es = np.sin(face.eye_theta)
        upper_lid = eye & (es > 0.05)
        lid_w = np.where(upper_lid, np.exp(-1.2 * face.eye_ring) * es, 0.0)
        basis["blink"][:, 1] = -lid_w * (y - EYE_Y) * 1.0
        lower_lid = eye & (es < -0.05)
        basis["blink"][:, 1] += np.where(lower_lid, 0.15 * np.exp(-1.5 * face.eye_ring) * (EYE_Y - y), 0.0)
        basis["eye_wide"][:, 1] = 0.002 * lid_w

        self.basis = np.stack([basis[name] for name in CHANNELS if name != "lip_close"]).astype(np.float32)
        self.linear_channels = tuple(name for name in CHANNELS if name != "lip_close")
        # lip closure pairs: ring k, angle j (upper, 0 < j < N/2) with its mirror N - j (lower)
        idx = face.mouth_ring_index
        nm = idx.shape[1]
        j = np.arange(1, nm // 2)
        self.close_upper = idx[:LIP_RINGS][:, j]
        self.close_lower = idx[:LIP_RINGS][:, nm - j]
        self.close_weight = np.array([1.0, 0.85, 0.55, 0.25, 0.05])[:, None] * np.ones((1, len(j)))

    def displacements(self, params: np.ndarray) -> np.ndarray:
        """Offsets ``(T, V, 3)`` from the template for channel values ``params`` ``(T, len(CHANNELS))``."""
        params = np.asarray(params, dtype=np.float32)
        if params.ndim != 2 or params.shape[1] != len(CHANNELS):
            raise ValueError(f"params must be (T, {len(CHANNELS)}), got {params.shape}")
        lin = np.array([CHANNELS.index(c) for c in self.linear_channels])
        return np.einsum("tk,kvd->tvd", params[:, lin], self.basis, optimize=True)

    def apply(self, template: np.ndarray, params: np.ndarray) -> np.ndarray:
        """Vertices ``float32 (T, V, 3)`` of a speaker's ``template`` driven by ``params``."""
        verts = template[None].astype(np.float32) + self.displacements(params)
        close = np.clip(params[:, CHANNELS.index("lip_close")], 0.0, 1.0).astype(np.float32)
        up, lo = self.close_upper, self.close_lower
        # midline from the inner lip line (ring 0) of each angle column
        mid = 0.5 * (verts[:, up[0], 1] + verts[:, lo[0], 1])  # (T, J)
        w = close[:, None, None] * self.close_weight[None].astype(np.float32)  # (T, K, J)
        gap_u = verts[:, up[0], 1] - mid  # how far ring 0 sits above the midline
        gap_l = mid - verts[:, lo[0], 1]
        verts[:, up, 1] -= w * gap_u[:, None, :]
        verts[:, lo, 1] += w * gap_l[:, None, :]
        return verts


@lru_cache(maxsize=1)
def build_rig() -> Rig:
    """The rig of :func:`build_face` (cached)."""
    return Rig(build_face())
