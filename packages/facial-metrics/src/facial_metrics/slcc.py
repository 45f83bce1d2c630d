r"""Speech–lip correlation (SLCC): does the mouth move more when the speech is louder?

Source: the Speech-Lip Intensity Correlation Coefficient of Chae-Yeon et al., "Perceptually Accurate
3D Talking Head Generation", CVPR 2025 (facts from the released ``evaluation/extract_rms.py``,
``extract_lip_intensity.py``, ``evaluate_SLCC.py``; re-implemented here). Two variants:

* ``"clip"`` — the paper's definition. Per clip :math:`c`: the speech intensity
  :math:`s_c = \sqrt{\frac1S\sum_n a_n^2}` (RMS of the whole waveform) and the lip intensity
  :math:`\ell_c = \sqrt{\frac1{T-1}\sum_{t} m_t^2}` with
  :math:`m_t = \frac1{|M|}\sum_{v\in M}\lVert x_{t+1,v}-x_{t,v}\rVert_2` the mean frame-to-frame
  displacement of the mouth vertices :math:`M` (here :math:`M` = upper ∪ lower lip set; the reference
  uses its own FLAME mouth list). Both are z-normalised within each speaker group (sample std,
  ddof 1) and SLCC is the Pearson correlation over all clips of the z-scores. Because z-scores have
  zero mean and :math:`\sum z^2 = n_g-1` per group, this equals
  :math:`\sum_g (n_g-1)\,r_g / \sum_g (n_g-1)`, the :math:`(n_g-1)`-weighted mean of the per-group
  correlations :math:`r_g`, which is how it is computed from sum-reducible per-group moments. Groups
  with fewer than 2 clips or a constant intensity are left out (the reference drops their NaN rows).
* ``"frame"`` (default) — a per-frame adaptation for one sequence: the RMS of the audio samples of
  each motion frame (frame :math:`t` covers samples :math:`[\lfloor tR/f\rfloor, \lfloor (t+1)R/f\rfloor)`
  at sample rate :math:`R = 16` kHz and animation rate :math:`f`) correlated (Pearson, over frames)
  with the lip opening :math:`o_t` (:func:`~facial_metrics.lip_opening.lip_opening`); the mean over
  sequences. Frames the audio does not fully cover are dropped (and audio after the last frame is
  ignored); at least 2 frames must remain.

How it is reported and compared: the paper's code computes SLCC of the **predicted** meshes against
the speech alone — no ground-truth mesh enters — and tables report the raw correlation, higher
meaning more expressive (lip intensity that follows speech intensity). The GT meshes have an SLCC of
their own, computed by the same class on the GT; print it beside the methods as the reference level
(a value far above the GT's is over-articulation, not a better model). Unit: correlation in [-1, 1],
reported ×1. ``higher_is_better = True``.

Degenerate inputs: constant audio energy over a sequence (``"frame"``; e.g. digital silence) raises
``ValueError`` (the correlation is undefined); a constant lip opening (a frozen mouth) scores
:math:`r = 0`. ``compute`` of ``"clip"`` raises ``RuntimeError`` when no group has 2 clips with
non-constant intensities.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import torch

from .lip_opening import _check_axis, _is_constant, lip_opening, pearson_r
from .vertex_core import MaskLike, StreamingMetric, as_vertices, mask_key, resolve_indices

__all__ = [
    "SLCC_VARIANTS",
    "SlccVariant",
    "SpeechLipCorrelation",
    "clip_lip_intensity",
    "frame_rms_energy",
    "speech_lip_correlation",
]

SlccVariant = Literal["frame", "clip"]
SLCC_VARIANTS: tuple[str, ...] = ("frame", "clip")

ClipVertices = torch.Tensor | np.ndarray | Sequence[torch.Tensor | np.ndarray]
ClipAudio = torch.Tensor | np.ndarray | Sequence[torch.Tensor | np.ndarray]


def _as_audio(a: torch.Tensor | np.ndarray, name: str) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(a) if not isinstance(a, torch.Tensor) else a)
    if not torch.is_floating_point(t):
        raise TypeError(f"{name}: expected a floating-point waveform, got dtype {t.dtype}")
    if t.ndim != 1 or t.numel() == 0:
        raise ValueError(f"{name}: expected a non-empty mono waveform (S,), got shape {tuple(t.shape)}")
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name}: contains NaN/Inf samples")
    return t.to(torch.float64)


def frame_rms_energy(
    audio: torch.Tensor | np.ndarray, fps: float, sample_rate: int = 16_000, num_frames: int | None = None
) -> torch.Tensor:
    r"""RMS of the samples of each motion frame, ``(T,)`` float64; see the module docstring.

    ``T`` is ``num_frames`` if given (``ValueError`` if the audio does not cover that many frames),
    otherwise the number of frames the audio covers fully, :math:`\lfloor S f / R\rfloor`.
    """
    a = _as_audio(audio, "audio")
    if not (fps > 0 and sample_rate > 0):
        raise ValueError(f"fps and sample_rate must be positive, got {fps!r} and {sample_rate!r}")
    covered = int(np.floor(a.numel() * fps / sample_rate + 1e-9))
    n = covered if num_frames is None else int(num_frames)
    if n > covered:
        raise ValueError(f"audio of {a.numel()} samples covers {covered} frames at {fps} fps, not {n}")
    edges = np.floor(np.arange(n + 1) * sample_rate / fps + 1e-9).astype(np.int64)
    csum = torch.cat([a.new_zeros(1), a.pow(2).cumsum(0)])
    e = torch.from_numpy(edges)
    return ((csum[e[1:]] - csum[e[:-1]]) / (e[1:] - e[:-1]).to(torch.float64)).clamp_min(0.0).sqrt()


def clip_lip_intensity(vertices: torch.Tensor | np.ndarray, mouth: MaskLike) -> torch.Tensor:
    r"""Lip intensity :math:`\ell` of each clip of a batch ``(B,)`` (float64): RMS over frame
    transitions of the mean displacement of the ``mouth`` vertices (the paper's per-clip value)."""
    x = as_vertices(vertices, "vertices")
    if x.shape[1] < 2:
        raise ValueError(f"lip intensity needs at least 2 frames, got {x.shape[1]}")
    idx = resolve_indices(mouth, x.shape[2], x.device)
    if idx is None:
        raise ValueError("mouth must be a vertex set, got None")
    m = x.index_select(2, idx).to(torch.float64).diff(dim=1).pow(2).sum(-1).sqrt().mean(-1)  # (B, T-1)
    return m.pow(2).mean(-1).sqrt()


def _clips(vertices: ClipVertices, audio: ClipAudio) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Pair vertices and audio clip by clip: a batch ``(B, T, V, 3)`` + ``(B, S)``, one clip
    ``(T, V, 3)`` + ``(S,)``, or equally long lists of clips."""
    if isinstance(vertices, (list, tuple)):
        if not isinstance(audio, (list, tuple)) or len(audio) != len(vertices):
            raise ValueError("with a list of vertex clips, audio must be a list of the same length")
        vs = [as_vertices(v, f"vertices[{i}]") for i, v in enumerate(vertices)]
        return [(v[0], _as_audio(a, f"audio[{i}]")) for i, (v, a) in enumerate(zip(vs, audio))]
    x = as_vertices(vertices, "vertices")  # type: ignore[arg-type]
    a = torch.as_tensor(audio) if not isinstance(audio, torch.Tensor) else audio
    if a.ndim == 1:
        a = a.unsqueeze(0)
    if a.ndim != 2 or a.shape[0] != x.shape[0]:
        raise ValueError(
            f"audio: expected shape (S,) or ({x.shape[0]}, S) to match the vertices, got {tuple(a.shape)}"
        )
    return [(x[b], _as_audio(a[b], f"audio[{b}]")) for b in range(x.shape[0])]


def _frame_correlations(
    clips: list[tuple[torch.Tensor, torch.Tensor]],
    upper_lip: MaskLike,
    lower_lip: MaskLike,
    fps: float,
    sample_rate: int,
    axis: int | None,
) -> torch.Tensor:
    out = []
    for i, (x, a) in enumerate(clips):
        n = min(x.shape[0], int(np.floor(a.numel() * fps / sample_rate + 1e-9)))
        if n < 2:
            raise ValueError(
                f"clip {i}: SLCC needs at least 2 frames covered by both audio and motion, got {n}"
            )
        energy = frame_rms_energy(a, fps, sample_rate, n)
        opening = lip_opening(x[:n], upper_lip, lower_lip, axis).squeeze(0).cpu()
        if bool(_is_constant(energy)):
            raise ValueError(f"clip {i}: the audio's frame energy is constant; its correlation is undefined")
        frozen = bool(_is_constant(opening))
        out.append(torch.zeros((), dtype=torch.float64) if frozen else pearson_r(energy, opening))
    return torch.stack(out)


def _group_moments(
    clips: list[tuple[torch.Tensor, torch.Tensor]],
    mouth: list[int] | MaskLike,
    groups: Sequence[int] | None,
    num_groups: int,
) -> torch.Tensor:
    """Per-group sums ``(G, 6)``: count, Σs, Σℓ, Σs², Σℓ², Σsℓ of speech and lip intensities."""
    gids = [0] * len(clips) if groups is None else [int(g) for g in groups]
    if len(gids) != len(clips):
        raise ValueError(f"got {len(gids)} group ids for {len(clips)} clips")
    mom = torch.zeros(num_groups, 6, dtype=torch.float64)
    for (x, a), g in zip(clips, gids):
        if not 0 <= g < num_groups:
            raise ValueError(f"group id {g} out of range for num_groups={num_groups}")
        s = a.pow(2).mean().sqrt().cpu()
        ell = clip_lip_intensity(x, mouth).squeeze(0).cpu()  # type: ignore[arg-type]
        mom[g] += torch.stack([torch.ones((), dtype=torch.float64), s, ell, s * s, ell * ell, s * ell])
    return mom


def _pooled_from_moments(mom: torch.Tensor) -> tuple[torch.Tensor, int]:
    """``(Σ_g (n_g-1) r_g / Σ_g (n_g-1), number of groups used)`` from per-group sums."""
    n, s1, l1, s2, l2, sl = mom.unbind(-1)
    sxx = s2 - s1 * s1 / n.clamp_min(1)
    syy = l2 - l1 * l1 / n.clamp_min(1)
    sxy = sl - s1 * l1 / n.clamp_min(1)
    tol_s = 1e-12 * (s2.clamp_min(0) / n.clamp_min(1)).sqrt() * n.clamp_min(1).sqrt()
    tol_l = 1e-12 * (l2.clamp_min(0) / n.clamp_min(1)).sqrt() * n.clamp_min(1).sqrt()
    ok = (n >= 2) & (sxx.clamp_min(0).sqrt() > tol_s) & (syy.clamp_min(0).sqrt() > tol_l)
    if not bool(ok.any()):
        return torch.tensor(float("nan"), dtype=torch.float64), 0
    r = (sxy[ok] / (sxx[ok].sqrt() * syy[ok].sqrt())).clamp(-1.0, 1.0)
    w = n[ok] - 1
    return (w * r).sum() / w.sum(), int(ok.sum())


def _union(upper_lip: MaskLike, lower_lip: MaskLike, num_vertices: int) -> list[int]:
    up = resolve_indices(upper_lip, num_vertices, torch.device("cpu"))
    lo = resolve_indices(lower_lip, num_vertices, torch.device("cpu"))
    if up is None or lo is None:
        raise ValueError("upper_lip and lower_lip must both be vertex sets, got None")
    return sorted(set(up.tolist()) | set(lo.tolist()))


def _check(variant: str, fps: float, sample_rate: int, axis: int | None) -> None:
    if variant not in SLCC_VARIANTS:
        raise ValueError(f"SLCC variant must be one of {SLCC_VARIANTS}, got {variant!r}")
    if not (isinstance(fps, (int, float)) and fps > 0):
        raise ValueError(f"fps must be a positive number, got {fps!r}")
    if not (isinstance(sample_rate, int) and sample_rate > 0):
        raise ValueError(f"sample_rate must be a positive int, got {sample_rate!r}")
    _check_axis(axis)


def speech_lip_correlation(
    vertices: ClipVertices,
    audio: ClipAudio,
    upper_lip: MaskLike,
    lower_lip: MaskLike,
    fps: float,
    variant: SlccVariant = "frame",
    sample_rate: int = 16_000,
    axis: int | None = None,
    groups: Sequence[int] | None = None,
) -> torch.Tensor:
    """SLCC of clips (float64 scalar); see the module docstring for both ``variant`` forms.

    Args:
        vertices: a clip ``(T, V, 3)``, a batch ``(B, T, V, 3)`` or a list of clips ``(T_i, V, 3)``.
        audio: the matching 16 kHz mono waveforms: ``(S,)``, ``(B, S)`` or a list of ``(S_i,)``.
        upper_lip, lower_lip: vertex ids of the two lips (their union is the mouth set of ``"clip"``).
        fps: animation frame rate.
        variant: ``"frame"`` (per-sequence frame-level correlation, mean over clips) or ``"clip"``
            (the paper's correlation across clips).
        sample_rate: audio sample rate (the project convention is 16 kHz).
        axis: opening axis for ``"frame"`` (see :func:`~facial_metrics.lip_opening.lip_opening`).
        groups: ``"clip"`` only: speaker-group id of each clip for the per-group z-normalisation
            (``None``: one group).
    """
    _check(variant, fps, sample_rate, axis)
    clips = _clips(vertices, audio)
    if variant == "frame":
        if groups is not None:
            raise ValueError("groups apply to variant='clip' only")
        return _frame_correlations(clips, upper_lip, lower_lip, fps, sample_rate, axis).mean()
    gids = None if groups is None else list(groups)
    num_groups = 1 if gids is None else max(gids) + 1
    mouth = _union(upper_lip, lower_lip, clips[0][0].shape[1])
    value, used = _pooled_from_moments(_group_moments(clips, mouth, gids, num_groups))
    if used == 0:
        raise ValueError("SLCC (clip): no speaker group has 2 or more clips with non-constant intensities")
    return value


class SpeechLipCorrelation(StreamingMetric):
    """Streaming SLCC (a :class:`torchmetrics.Metric`, not differentiable).

    ``update(vertices, audio, groups=None)`` takes clips as :func:`speech_lip_correlation` does.
    State (float64, ``dist_reduce_fx="sum"``, size independent of the number of frames and clips):

    * ``"frame"``: ``correlation_sum`` and ``num_sequences`` (scalars);
    * ``"clip"``: ``moments``, ``(num_groups, 6)`` per-group sums of count, s, ℓ, s², ℓ², sℓ; group
      ids passed to ``update`` must be below ``num_groups``.
    """

    higher_is_better = True
    is_differentiable = False
    unit = "correlation"
    report_key = "slcc"

    def __init__(
        self,
        upper_lip: MaskLike,
        lower_lip: MaskLike,
        fps: float,
        variant: SlccVariant = "frame",
        sample_rate: int = 16_000,
        axis: int | None = None,
        num_groups: int = 1,
        **kwargs: Any,
    ) -> None:
        _check(variant, fps, sample_rate, axis)
        if not (isinstance(num_groups, int) and num_groups >= 1):
            raise ValueError(f"num_groups must be a positive int, got {num_groups!r}")
        if variant == "frame" and num_groups != 1:
            raise ValueError("num_groups applies to variant='clip' only")
        self.num_groups = num_groups  # read by _state_shape during super().__init__
        self.state_names = ("correlation_sum", "num_sequences") if variant == "frame" else ("moments",)  # type: ignore[misc]
        super().__init__(**kwargs)
        self.upper_lip = upper_lip
        self.lower_lip = lower_lip
        self.fps = float(fps)
        self.variant: SlccVariant = variant
        self.sample_rate = sample_rate
        self.axis = axis

    def _state_shape(self, name: str) -> tuple[int, ...]:
        return (self.num_groups, 6) if name == "moments" else ()

    def _settings(self) -> tuple[object, ...]:
        return (mask_key(self.upper_lip), mask_key(self.lower_lip), self.fps, self.variant, self.sample_rate,
                self.axis, self.num_groups)

    def update(self, vertices: ClipVertices, audio: ClipAudio, groups: Sequence[int] | None = None) -> None:
        """Add clips (and, for ``"clip"``, their speaker-group ids)."""
        clips = _clips(vertices, audio)
        if self.variant == "frame":
            if groups is not None:
                raise ValueError("groups apply to variant='clip' only")
            r = _frame_correlations(
                clips, self.upper_lip, self.lower_lip, self.fps, self.sample_rate, self.axis
            )
            self._add("correlation_sum", r.sum())
            self._add("num_sequences", float(r.numel()))
            return
        mouth = _union(self.upper_lip, self.lower_lip, clips[0][0].shape[1])
        self._add("moments", _group_moments(clips, mouth, groups, self.num_groups))

    def compute(self) -> torch.Tensor:
        """SLCC over everything seen (float64 scalar); ``RuntimeError`` when undefined."""
        if self.variant == "frame":
            if float(self.num_sequences) == 0:
                raise RuntimeError("SpeechLipCorrelation.compute() called before any update()")
            return self.correlation_sum / self.num_sequences
        value, used = _pooled_from_moments(self.moments)
        if used == 0:
            raise RuntimeError(
                "SpeechLipCorrelation.compute(): no speaker group has 2 or more clips with "
                "non-constant intensities (SLCC 'clip' is undefined)"
            )
        return value
