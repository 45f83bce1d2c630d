"""Phones → articulation-rig trajectories with the Cohen–Massaro coarticulation model.

Cohen, M. M. & Massaro, D. W. (1993), "Modeling coarticulation in synthetic visual speech", in
*Models and Techniques in Computer Animation*, Springer, pp. 139–156. Each segment ``s`` (a phone,
or silence) has, per rig parameter ``p``, a target ``T[s,p]`` and a dominance function

    D[s,p](t) = α[s,p] · exp(−θ[s,p] · |t − c_s|^κ)

centred at the segment's midpoint ``c_s``, with separate rates before (anticipatory, ``θ←``) and
after (carry-over, ``θ→``) the centre. The parameter track is the dominance-weighted average

    F_p(t) = Σ_s D[s,p](t) · T[s,p] / Σ_s D[s,p](t).

Targets and dominances are given per viseme class (15 OVRLipSync classes, reference/methods.md §5.1);
parameters a viseme does not constrain get a low dominance, so they follow the neighbours (e.g. lip
rounding of /u/ spreading over the preceding consonants). ``κ = 1`` as in the original paper.
Pauses (silence segments, which can last seconds) measure ``t − c_s`` from the nearest edge of the
pause instead of its centre, so the rest pose holds throughout a pause and the dominance decays only
outside it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .phonemes import ARPABET_TO_VISEME
from .rig import SPEECH_CHANNELS

__all__ = [
    "DOMINANCE",
    "HEAD_DOMINANCE",
    "HEAD_TARGETS",
    "TARGETS",
    "TRACK_CHANNELS",
    "CoarticulationStyle",
    "speech_tracks",
]

_J, _C, _R, _S, _T, _U = range(6)  # jaw, close, round, spread, tuck, upper raise

#: viseme → (targets for SPEECH_CHANNELS, dominance α for SPEECH_CHANNELS)
_TABLE: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    #          jaw   close round spread tuck  raise        jaw  close round spread tuck raise
    "sil": ((0.00, 0.55, 0.00, 0.00, 0.00, 0.00), (0.6, 0.6, 0.4, 0.4, 0.4, 0.4)),
    "PP": ((0.08, 1.00, 0.05, 0.00, 0.00, 0.00), (0.8, 8.0, 0.3, 0.3, 1.0, 0.5)),
    "FF": ((0.10, 0.00, 0.00, 0.05, 1.00, 0.30), (0.8, 2.0, 0.3, 0.3, 8.0, 1.0)),
    "TH": ((0.20, 0.00, 0.00, 0.10, 0.25, 0.20), (0.8, 2.0, 0.3, 0.3, 2.0, 0.5)),
    "DD": ((0.18, 0.00, 0.00, 0.15, 0.00, 0.05), (0.7, 2.0, 0.2, 0.3, 0.5, 0.3)),
    "kk": ((0.28, 0.00, 0.00, 0.00, 0.00, 0.00), (0.5, 2.0, 0.1, 0.1, 0.5, 0.3)),
    "CH": ((0.15, 0.00, 0.65, 0.00, 0.00, 0.40), (0.8, 2.0, 2.0, 1.0, 0.5, 1.0)),
    "SS": ((0.07, 0.00, 0.00, 0.45, 0.00, 0.10), (2.0, 2.0, 0.3, 1.0, 0.5, 0.3)),
    "nn": ((0.18, 0.00, 0.00, 0.05, 0.00, 0.00), (0.6, 2.0, 0.1, 0.2, 0.5, 0.3)),
    "RR": ((0.20, 0.00, 0.50, 0.00, 0.00, 0.15), (0.7, 2.0, 1.2, 0.5, 0.5, 0.5)),
    "aa": ((0.75, 0.00, 0.00, 0.10, 0.00, 0.10), (2.0, 2.0, 0.8, 0.8, 0.5, 0.5)),
    "E": ((0.50, 0.00, 0.00, 0.45, 0.00, 0.10), (1.6, 2.0, 0.8, 1.2, 0.5, 0.5)),
    "ih": ((0.28, 0.00, 0.00, 0.80, 0.00, 0.10), (1.4, 2.0, 0.8, 2.0, 0.5, 0.5)),
    "oh": ((0.55, 0.00, 0.80, 0.00, 0.00, 0.05), (1.6, 2.0, 2.0, 1.0, 0.5, 0.5)),
    "ou": ((0.25, 0.00, 1.00, 0.00, 0.00, 0.05), (1.2, 2.0, 3.0, 1.2, 0.5, 0.5)),
}
#: viseme -> (target, dominance) of the tongue tip (``synth-head-v2``'s ``tongue_tip`` channel, the
#: seventh column): between the teeth for /th dh/, raised behind them for /t d n l/, otherwise at
#: rest with a low dominance so that it follows its neighbours.
_TONGUE: dict[str, tuple[float, float]] = {
    "TH": (1.0, 8.0),
    "DD": (0.25, 1.5),
    "nn": (0.2, 1.0),
    "SS": (0.1, 1.0),
}
TARGETS = {k: np.array((*v[0], _TONGUE.get(k, (0.0, 0.3))[0])) for k, v in _TABLE.items()}
DOMINANCE = {k: np.array((*v[1], _TONGUE.get(k, (0.0, 0.3))[1])) for k, v in _TABLE.items()}
#: the columns of TARGETS / DOMINANCE: the speech channels of synth-face-v1, then the tongue tip
TRACK_CHANNELS = (*SPEECH_CHANNELS, "tongue_tip")
if any(len(v) != len(TRACK_CHANNELS) for v in (*TARGETS.values(), *DOMINANCE.values())):
    raise RuntimeError("coarticulation table rows must have one value per track channel")

#: ``synth-head-v2``'s tables: as above, except that /f v/ hold the jaw nearly closed (target 0.05,
#: dominance 5) and the lips unrounded (target 0, dominance 4): a labiodental needs the lower lip at the
#: upper incisors, which a jaw opened, or lips pushed forward, by the neighbouring vowels would keep
#: from them on a head with teeth.
HEAD_TARGETS = {k: v.copy() for k, v in TARGETS.items()}
HEAD_DOMINANCE = {k: v.copy() for k, v in DOMINANCE.items()}
HEAD_TARGETS["FF"][0], HEAD_DOMINANCE["FF"][0] = 0.05, 5.0
HEAD_TARGETS["FF"][2], HEAD_DOMINANCE["FF"][2] = 0.0, 4.0


@dataclass(frozen=True)
class CoarticulationStyle:
    """A speaker's articulation style.

    Attributes:
        theta_anticipatory / theta_carryover: dominance decay rates (1/s) before / after a centre.
        gains: multiplier per speech channel (jaw, close, round, spread, tuck, raise); the tongue
            tip (a seventh track) has gain 1.
        lead_s: visual lead: the face moves this much before the sound (typically 0–40 ms).
    """

    theta_anticipatory: float = 22.0
    theta_carryover: float = 28.0
    gains: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0, 1.0, 1.0)
    lead_s: float = 0.02


def speech_tracks(
    phones: list[tuple[str, float, float]],
    times: np.ndarray,
    style: CoarticulationStyle = CoarticulationStyle(),
    kappa: float = 1.0,
    targets: dict[str, np.ndarray] | None = None,
    dominance: dict[str, np.ndarray] | None = None,
) -> np.ndarray:
    """Track values ``(len(times), 7)`` (:data:`TRACK_CHANNELS`) for ARPAbet ``phones``
    ``[(label, start_s, end_s)]``. Each column is computed on its own: the first six are those of
    ``synth-face-v1``'s speech channels, whatever the seventh. ``targets`` / ``dominance`` default to
    :data:`TARGETS` / :data:`DOMINANCE`.

    Silence segments (target: lips lightly closed, jaw at rest) fill the time before the first
    phone, the gaps, and after the last phone.
    """
    segs: list[tuple[str, float, float]] = []
    t_end = float(times[-1]) + 1.0 if len(times) else 0.0
    cursor = -1.0
    for label, start, end in phones:
        if start - cursor > 0.04:
            segs.append(("sil", cursor, start))
        segs.append((ARPABET_TO_VISEME[label], start, end))
        cursor = end
    segs.append(("sil", cursor, max(t_end, cursor + 0.5)))
    t = np.asarray(times, dtype=np.float64)[:, None] + style.lead_s
    target_table = TARGETS if targets is None else targets
    dominance_table = DOMINANCE if dominance is None else dominance
    num = np.zeros((len(times), len(TRACK_CHANNELS)))
    den = np.zeros_like(num)
    for vis, start, end in segs:
        if vis == "sil":
            # a pause holds its rest pose over its whole extent: distance to the interval, not its centre
            dt = np.where(t < start, t - start, np.where(t > end, t - end, 0.0))
        else:
            dt = t - 0.5 * (start + end)
        rate = np.where(dt < 0, style.theta_anticipatory, style.theta_carryover)
        dom = dominance_table[vis][None, :] * np.exp(-rate * np.abs(dt) ** kappa)
        num += dom * target_table[vis][None, :]
        den += dom
    tracks = num / np.maximum(den, 1e-12)
    gains = np.ones(len(TRACK_CHANNELS))
    gains[: len(style.gains)] = style.gains
    return tracks * gains[None, :]
