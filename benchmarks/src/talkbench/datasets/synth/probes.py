"""Quick probes that the synthetic corpus carries the signal the benchmark relies on.

* :func:`alignment_agreement`: pocketsphinx forced alignment vs the synthesiser's phoneme events.
* :func:`lip_opening_probe`: ridge regression from log-mel audio features (±2 video frames of
  context) to the inner-lip opening (distance between the mid points of the upper and lower inner
  lip, from the vertices), trained on the train speakers, R² on the unseen test speakers; a
  constant predictor (the train mean) is the baseline.
* :func:`upper_face_probe`: the same regression to the upper-face motion (displacement of the
  upper-face vertices from the template, projected on its 3 leading principal components of the
  train split), from the audio features and from the mood one-hot (the text attribute).

R² = 1 − Σ(y − ŷ)² / Σ(y − ȳ)² over all test frames and target dimensions (ȳ: test mean), the
coefficient of determination as in scikit-learn's ``r2_score`` with ``multioutput="variance_weighted"``.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from scipy.signal import stft

from ..alignment import Aligner, compare_onsets
from ..sample import AUDIO_RATE, Sample
from .dataset import load_synth_masks, synth_dataset
from .face import build_face
from .grammar import MOODS
from .head import HEAD_TOPOLOGY

__all__ = [
    "alignment_agreement",
    "lip_opening_probe",
    "log_mel_frames",
    "r2_score",
    "ridge_fit",
    "upper_face_probe",
]


def _mel_filterbank(n_mels: int, n_fft: int, sr: int) -> np.ndarray:
    def hz_to_mel(f: np.ndarray) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + f / 700.0)

    mels = np.linspace(hz_to_mel(np.array(0.0)), hz_to_mel(np.array(sr / 2)), n_mels + 2)
    hz = 700.0 * (10 ** (mels / 2595.0) - 1.0)
    bins = np.fft.rfftfreq(n_fft, 1.0 / sr)
    fb = np.zeros((n_mels, len(bins)))
    for m in range(n_mels):
        lo, mid, hi = hz[m], hz[m + 1], hz[m + 2]
        fb[m] = np.clip(np.minimum((bins - lo) / (mid - lo), (hi - bins) / (hi - mid)), 0.0, None)
    return fb


def log_mel_frames(
    audio: np.ndarray, num_frames: int, fps: float, n_mels: int = 40, context: int = 2
) -> np.ndarray:
    """Log-mel features (25 ms Hann windows, 10 ms hop, HTK mel scale) averaged per video frame and
    stacked over ``±context`` video frames: ``(num_frames, n_mels * (2 * context + 1))``."""
    _, _, spec = stft(
        audio, fs=AUDIO_RATE, window="hann", nperseg=400, noverlap=240, nfft=512, boundary=None, padded=True
    )
    power = np.abs(spec) ** 2  # (bins, n)
    logmel = np.log(_mel_filterbank(n_mels, 512, AUDIO_RATE) @ power + 1e-8).T  # (n, n_mels)
    t_audio = (np.arange(logmel.shape[0]) * 160 + 200) / AUDIO_RATE
    idx = np.clip((t_audio * fps).astype(int), 0, num_frames - 1)
    per_frame = np.zeros((num_frames, n_mels))
    counts = np.bincount(idx, minlength=num_frames)[:, None]
    np.add.at(per_frame, idx, logmel)
    per_frame = per_frame / np.maximum(counts, 1)
    per_frame[counts[:, 0] == 0] = np.log(1e-8)
    padded = np.pad(per_frame, ((context, context), (0, 0)), mode="edge")
    return np.concatenate([padded[k : k + num_frames] for k in range(2 * context + 1)], axis=1)


def ridge_fit(
    x: np.ndarray, y: np.ndarray, alpha: float = 1.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Ridge regression on standardised features: returns ``(mean, std, weights, bias)``."""
    mu, sd = x.mean(0), x.std(0) + 1e-8
    xs = (x - mu) / sd
    w = np.linalg.solve(xs.T @ xs + alpha * np.eye(xs.shape[1]), xs.T @ (y - y.mean(0)))
    return mu, sd, w, y.mean(0)


def _predict(model: tuple[np.ndarray, ...], x: np.ndarray) -> np.ndarray:
    mu, sd, w, b = model
    return ((x - mu) / sd) @ w + b


def r2_score(y: np.ndarray, pred: np.ndarray) -> float:
    """Variance-weighted coefficient of determination (see the module docstring)."""
    y, pred = np.atleast_2d(y.T).T, np.atleast_2d(pred.T).T
    return float(1.0 - ((y - pred) ** 2).sum() / ((y - y.mean(0)) ** 2).sum())


def _lip_opening(s: Sample) -> np.ndarray:
    """Inner-lip opening per frame: the ring-0 points at the midline (``synth-face-v1``), or the midline
    lip gap of ``synth-head-v2`` (lowest upper-lip point minus highest lower-lip point, at least 0)."""
    if s.topology == HEAD_TOPOLOGY:
        from .head_rig import build_head_rig

        rig = build_head_rig()
        v = s.vertices
        gap = v[:, rig.gap_upper, 1].min(axis=1) - v[:, rig.gap_lower, 1].max(axis=1)
        return np.maximum(gap, 0.0)
    ring0 = build_face().mouth_ring_index[0]
    n = len(ring0)
    up, lo = ring0[n // 4], ring0[3 * n // 4]
    return np.linalg.norm(s.vertices[:, up] - s.vertices[:, lo], axis=1)


def _collect(root: str | os.PathLike[str], split: str) -> list[Sample]:
    ds = synth_dataset(root, split)
    return [ds[i] for i in range(len(ds))]


def lip_opening_probe(root: str | os.PathLike[str], alpha: float = 10.0) -> dict[str, Any]:
    """R² of audio → lip opening (ridge) and of a constant, on the test speakers."""
    train, test = _collect(root, "train"), _collect(root, "test")
    xtr = np.concatenate([log_mel_frames(s.audio, s.num_frames, s.fps) for s in train])
    ytr = np.concatenate([_lip_opening(s) for s in train])[:, None]
    xte = np.concatenate([log_mel_frames(s.audio, s.num_frames, s.fps) for s in test])
    yte = np.concatenate([_lip_opening(s) for s in test])[:, None]
    model = ridge_fit(xtr, ytr, alpha)
    return {
        "r2_audio": r2_score(yte, _predict(model, xte)),
        "r2_constant": r2_score(yte, np.full_like(yte, ytr.mean())),
        "train_frames": len(ytr),
        "test_frames": len(yte),
        "lip_opening_mm_mean": float(yte.mean() * 1000),
        "lip_opening_mm_std": float(yte.std() * 1000),
    }


def upper_face_probe(root: str | os.PathLike[str], alpha: float = 10.0) -> dict[str, Any]:
    """R² of audio → upper-face motion and of the mood one-hot → upper-face motion (test speakers)."""
    upper = load_synth_masks(root)["upper_face"].indices
    train, test = _collect(root, "train"), _collect(root, "test")

    def target(samples: list[Sample]) -> np.ndarray:
        return np.concatenate(
            [(s.vertices[:, upper] - s.template[upper]).reshape(s.num_frames, -1) for s in samples]
        )

    def mood(samples: list[Sample]) -> np.ndarray:
        return np.concatenate(
            [
                np.tile(np.eye(len(MOODS))[MOODS.index(s.attributes["mood"])], (s.num_frames, 1))
                for s in samples
            ]
        )

    def audio(samples: list[Sample]) -> np.ndarray:
        return np.concatenate([log_mel_frames(s.audio, s.num_frames, s.fps) for s in samples])

    ytr_full, yte_full = target(train), target(test)
    centre = ytr_full.mean(0)
    _, _, vt = np.linalg.svd(ytr_full - centre, full_matrices=False)
    basis = vt[:3].T
    ytr, yte = (ytr_full - centre) @ basis, (yte_full - centre) @ basis
    m_audio = ridge_fit(audio(train), ytr, alpha)
    m_text = ridge_fit(mood(train), ytr, 1e-3)
    return {
        "r2_audio": r2_score(yte, _predict(m_audio, audio(test))),
        "r2_text_attribute": r2_score(yte, _predict(m_text, mood(test))),
        "r2_constant": r2_score(yte, np.zeros_like(yte) + ytr.mean(0)),
        "components": 3,
        "test_frames": len(yte),
    }


def alignment_agreement(
    root: str | os.PathLike[str], split: str = "test", limit: int | None = None
) -> dict[str, Any]:
    """Phone-onset differences between pocketsphinx and the synthesiser on ``split`` (ms)."""
    ds = synth_dataset(root, split)
    aligner = Aligner()
    diffs, fallback, n = [], 0, 0
    for i in range(len(ds) if limit is None else min(limit, len(ds))):
        s = ds[i]
        if s.phones is None or s.transcript is None:
            raise ValueError(f"{s.name}: no synthesiser alignment or transcript; is {root} a synth corpus?")
        _, phones = aligner.align(s.audio, s.transcript, source=s.name)
        diffs.append(compare_onsets(s.phones, phones))
        fallback += not aligner.last_used_fillers
        n += 1
    d = np.concatenate(diffs) * 1000.0
    return {
        "utterances": n,
        "matched_phones": int(d.size),
        "median_ms": float(np.median(d)),
        "p90_ms": float(np.percentile(d, 90)),
        "mean_ms": float(d.mean()),
        "no_filler_fallbacks": fallback,
    }
