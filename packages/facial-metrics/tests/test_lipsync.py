"""Lip-sync metrics (MTM, SLCC, LOC) against hand-worked cases, NumPy and SciPy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from facial_metrics import (
    LipOpeningCorrelation,
    SpeechLipCorrelation,
    TemporalMisalignment,
    frame_rms_energy,
    lip_opening,
    lip_opening_correlation,
    speech_lip_correlation,
    temporal_misalignment,
)
from facial_metrics.mtm import ddtw_path, find_extrema, gaussian_smooth

scipy_ndimage = pytest.importorskip("scipy.ndimage")
scipy_signal = pytest.importorskip("scipy.signal")
scipy_stats = pytest.importorskip("scipy.stats")

V = 6
UP, LO = [1, 2], [3, 4]


def _mesh(opening: np.ndarray, drift: float = 0.0) -> torch.Tensor:
    """Frames whose upper-lip centroid sits ``opening`` above the lower one (y axis), plus an x drift."""
    t = len(opening)
    x = np.zeros((t, V, 3))
    x[:, 1, 1] = opening + 0.002  # upper-lip vertices at +0.002 / -0.002 around the opening
    x[:, 2, 1] = opening - 0.002
    x[:, 3, 1] = 0.001
    x[:, 4, 1] = -0.001
    x[:, :, 0] += drift * np.arange(t)[:, None]
    return torch.tensor(x)


def _bumps(n: int, period: float = 23.0) -> np.ndarray:
    t = np.arange(n)
    return 0.01 + 0.005 * (1 + np.sin(2 * np.pi * t / period)) * (1 + 0.3 * np.sin(2 * np.pi * t / 71))


# ---------------------------------------------------------------- lip opening


def test_lip_opening_hand_case():
    x = torch.zeros(2, V, 3, dtype=torch.float64)
    x[0, 1] = torch.tensor([0.0, 3.0, 0.0])
    x[0, 2] = torch.tensor([0.0, 5.0, 0.0])  # upper centroid (0, 4, 0)
    x[0, 3] = torch.tensor([3.0, 0.0, 0.0])
    x[0, 4] = torch.tensor([3.0, 0.0, 0.0])  # lower centroid (3, 0, 0)
    o = lip_opening(x, UP, LO)
    assert o.shape == (1, 2)
    assert o[0, 0].item() == pytest.approx(5.0)  # 3-4-5 triangle
    assert o[0, 1].item() == 0.0
    assert lip_opening(x, UP, LO, axis=1)[0, 0].item() == pytest.approx(4.0)
    with pytest.raises(ValueError, match="axis"):
        lip_opening(x, UP, LO, axis=3)
    with pytest.raises(ValueError, match="out of range"):
        lip_opening(x, [1, 99], LO)


# ---------------------------------------------------------------- LOC


def test_loc_perfect_and_anti_correlation():
    o = _bumps(60)
    gt = _mesh(o)
    assert lip_opening_correlation(_mesh(2.0 * o + 0.003), gt, UP, LO).item() == pytest.approx(1.0)
    assert lip_opening_correlation(_mesh(0.03 - o), gt, UP, LO, axis=1).item() == pytest.approx(-1.0)


def test_loc_matches_numpy_and_streaming():
    g = torch.Generator().manual_seed(0)
    seqs = [(torch.randn(n, V, 3, generator=g), torch.randn(n, V, 3, generator=g)) for n in (7, 12, 30)]
    m = LipOpeningCorrelation(UP, LO)
    expected = []
    for p, gt in seqs:
        m.update(p, gt)
        op = np.linalg.norm(p[:, UP].double().mean(1).numpy() - p[:, LO].double().mean(1).numpy(), axis=-1)
        og = np.linalg.norm(gt[:, UP].double().mean(1).numpy() - gt[:, LO].double().mean(1).numpy(), axis=-1)
        expected.append(np.corrcoef(op, og)[0, 1])
        assert lip_opening_correlation(p, gt, UP, LO).item() == pytest.approx(expected[-1])
    assert m.compute().item() == pytest.approx(float(np.mean(expected)))
    assert LipOpeningCorrelation.higher_is_better is True and LipOpeningCorrelation.report_key == "loc"


def test_loc_degenerate_inputs():
    o = _bumps(20)
    with pytest.raises(ValueError, match="constant"):
        lip_opening_correlation(_mesh(o), _mesh(np.full(20, 0.01)), UP, LO)
    # a frozen predicted mouth scores 0, not NaN
    assert lip_opening_correlation(_mesh(np.full(20, 0.01)), _mesh(o), UP, LO).item() == 0.0
    with pytest.raises(ValueError, match="at least 2 frames"):
        lip_opening_correlation(_mesh(o[:1]), _mesh(o[:1]), UP, LO)
    with pytest.raises(ValueError, match="frames"):
        lip_opening_correlation(_mesh(o), _mesh(o[:10]), UP, LO)


# ---------------------------------------------------------------- MTM building blocks


def test_smoothing_and_extrema_match_scipy():
    rng = np.random.default_rng(3)
    for n in (3, 5, 9, 40):
        x = rng.normal(size=n)
        for sigma in (0.5, 2.0, 3.0):
            np.testing.assert_allclose(gaussian_smooth(x, sigma), scipy_ndimage.gaussian_filter1d(x, sigma))
    x = np.round(rng.normal(size=300))  # many plateaus
    mx, mn = find_extrema(x)
    np.testing.assert_array_equal(mx, scipy_signal.find_peaks(x)[0])
    np.testing.assert_array_equal(mn, scipy_signal.find_peaks(-x)[0])


def test_ddtw_path_is_optimal():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=9), rng.normal(size=7)
    dx, dy = np.diff(x, prepend=x[0]), np.diff(y, prepend=y[0])
    # brute-force DTW recursion, cell by cell
    acc = np.full((10, 8), np.inf)
    acc[0, 0] = 0
    for i in range(1, 10):
        for j in range(1, 8):
            acc[i, j] = abs(dx[i - 1] - dy[j - 1]) + min(acc[i - 1, j], acc[i, j - 1], acc[i - 1, j - 1])
    path = ddtw_path(x, y)
    assert tuple(path[-1]) == (8, 6) and tuple(path[0]) == (0, 0)
    steps = np.diff(path, axis=0)
    assert set(map(tuple, steps.tolist())) <= {(1, 1), (1, 0), (0, 1)}
    assert sum(abs(dx[i] - dy[j]) for i, j in path) == pytest.approx(acc[9, 7])


# ---------------------------------------------------------------- MTM


@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_mtm_shift_by_k_frames(k):
    n, fps = 150, 25.0
    s = _bumps(n + k)
    gt, pred = _mesh(s[k : k + n]), _mesh(s[:n])  # pred[t] = gt[t - k]: the prediction lags by k
    assert temporal_misalignment(pred, gt, UP, LO, fps=fps).item() == pytest.approx(k * 1000.0 / fps)
    # lead instead of lag: the same absolute offset
    assert temporal_misalignment(gt, pred, UP, LO, fps=30.0).item() == pytest.approx(k * 1000.0 / 30.0)


def test_mtm_streaming_equals_functional_and_counts_unmatched():
    n = 120
    s = _bumps(n + 3)
    pairs = [(_mesh(s[:n]), _mesh(s[k : k + n])) for k in (1, 2, 3)]
    m = TemporalMisalignment(UP, LO, fps=30.0)
    for p, g in pairs:
        m.update(p, g)
    batch = temporal_misalignment(torch.stack([p for p, _ in pairs]), torch.stack([g for _, g in pairs]),
                                  UP, LO, fps=30.0)
    assert m.compute().item() == pytest.approx(batch.item()) == pytest.approx(2 * 1000.0 / 30.0)
    flat = _mesh(np.linspace(0.01, 0.02, 40))  # monotonic opening: no extremum, no match
    m.update(flat, flat)
    assert m.state()["num_unmatched"].item() == 1
    assert m.compute().item() == pytest.approx(2 * 1000.0 / 30.0)
    with pytest.raises(ValueError, match="no sequence has a matched"):
        temporal_misalignment(flat, flat, UP, LO, fps=30.0)
    assert TemporalMisalignment.higher_is_better is False and TemporalMisalignment.unit == "ms"


def test_mtm_bad_inputs():
    o = _mesh(_bumps(30))
    with pytest.raises(ValueError, match="at least 3 frames"):
        temporal_misalignment(o[:2], o[:2], UP, LO, fps=30.0)
    with pytest.raises(ValueError, match="fps"):
        temporal_misalignment(o, o, UP, LO, fps=0.0)
    with pytest.raises(ValueError, match="frames"):
        temporal_misalignment(o, o[:20], UP, LO, fps=30.0)
    with pytest.raises(RuntimeError, match="no sequence"):
        TemporalMisalignment(UP, LO, fps=30.0).compute()


# ---------------------------------------------------------------- SLCC


def _audio_with_frame_rms(rms: np.ndarray, fps: float, sr: int = 16_000) -> torch.Tensor:
    """A square wave whose RMS over each frame's samples is exactly ``rms[t]`` (frames of sr/fps samples)."""
    per = int(sr / fps)
    sign = np.where(np.arange(per) % 2 == 0, 1.0, -1.0)
    return torch.tensor(np.concatenate([r * sign for r in rms]))


def test_frame_rms_energy_hand_case():
    audio = torch.tensor([3.0, 4.0, 0.0, 0.0, 1.0, 1.0, 1.0])  # 2 samples per frame at fps = sr / 2
    e = frame_rms_energy(audio, fps=8000.0, sample_rate=16_000)
    np.testing.assert_allclose(e.numpy(), [np.sqrt(12.5), 0.0, 1.0])  # the 7th sample is a partial frame
    with pytest.raises(ValueError, match="covers 3 frames"):
        frame_rms_energy(audio, fps=8000.0, sample_rate=16_000, num_frames=4)


def test_slcc_frame_perfect_and_anti_correlation():
    fps, o = 25.0, _bumps(50)
    verts = _mesh(o)
    up = _audio_with_frame_rms(3.0 * o, fps)
    down = _audio_with_frame_rms(0.05 - o, fps)
    assert speech_lip_correlation(verts, up, UP, LO, fps=fps).item() == pytest.approx(1.0)
    assert speech_lip_correlation(verts, down, UP, LO, fps=fps).item() == pytest.approx(-1.0)
    m = SpeechLipCorrelation(UP, LO, fps=fps)
    m.update([verts, verts], [up, down])
    assert m.compute().item() == pytest.approx(0.0, abs=1e-12)
    assert SpeechLipCorrelation.higher_is_better is True and SpeechLipCorrelation.report_key == "slcc"


def test_slcc_frame_degenerate_inputs():
    fps, o = 25.0, _bumps(20)
    with pytest.raises(ValueError, match="energy is constant"):
        speech_lip_correlation(_mesh(o), torch.zeros(20 * 640), UP, LO, fps=fps)
    audio = _audio_with_frame_rms(o, fps)
    assert speech_lip_correlation(_mesh(np.full(20, 0.01)), audio, UP, LO, fps=fps).item() == 0.0
    with pytest.raises(ValueError, match="at least 2 frames"):
        speech_lip_correlation(_mesh(o), audio[:700], UP, LO, fps=fps)
    with pytest.raises(ValueError, match=r"audio: expected shape \(S,\)"):
        speech_lip_correlation(_mesh(o), torch.zeros(2, 3, 4), UP, LO, fps=fps)
    with pytest.raises(ValueError, match="variant"):
        SpeechLipCorrelation(UP, LO, fps=fps, variant="sequence")


def test_slcc_clip_equals_zscored_pearson():
    """The paper's pipeline by hand: per-clip intensities, z-scores per speaker (ddof 1), scipy pearsonr."""
    rng = np.random.default_rng(5)
    fps = 25.0
    clips, audios, groups = [], [], []
    for g, count in ((0, 4), (1, 5), (2, 1)):  # group 2 has one clip: left out, as NaN rows are
        for _ in range(count):
            n = int(rng.integers(10, 30))
            clips.append(torch.tensor(rng.normal(scale=0.01, size=(n, V, 3))))
            audios.append(torch.tensor(rng.normal(scale=rng.uniform(0.1, 1.0), size=n * 640)))
            groups.append(g)
    mouth = sorted(set(UP) | set(LO))
    s = np.array([np.sqrt(np.mean(a.numpy() ** 2)) for a in audios])
    ell = []
    for c in clips:
        d = np.linalg.norm(np.diff(c.numpy()[:, mouth], axis=0), axis=-1).mean(-1)
        ell.append(np.sqrt(np.mean(d**2)))
    ell = np.array(ell)
    gid = np.array(groups)
    zs, zl = [], []
    for g in (0, 1):
        sel = gid == g
        zs.append((s[sel] - s[sel].mean()) / s[sel].std(ddof=1))
        zl.append((ell[sel] - ell[sel].mean()) / ell[sel].std(ddof=1))
    expected = scipy_stats.pearsonr(np.concatenate(zs), np.concatenate(zl))[0]
    got = speech_lip_correlation(clips, audios, UP, LO, fps=fps, variant="clip", groups=groups)
    assert got.item() == pytest.approx(expected, rel=1e-9)
    m = SpeechLipCorrelation(UP, LO, fps=fps, variant="clip", num_groups=3)
    m.update(clips[:5], audios[:5], groups=groups[:5])
    m.update(clips[5:], audios[5:], groups=groups[5:])
    assert m.compute().item() == pytest.approx(expected, rel=1e-9)
    assert m.state()["moments"].shape == (3, 6)
    with pytest.raises(ValueError, match="out of range"):
        m.update(clips[:1], audios[:1], groups=[3])
    lone = SpeechLipCorrelation(UP, LO, fps=fps, variant="clip")
    lone.update(clips[:1], audios[:1])
    with pytest.raises(RuntimeError, match="2 or more clips"):
        lone.compute()
