import numpy as np
import pytest

from talkbench.datasets.synth import build_face, build_rig, vocabulary
from talkbench.datasets.synth.coarticulation import (
    DOMINANCE,
    TARGETS,
    TRACK_CHANNELS,
    CoarticulationStyle,
    speech_tracks,
)
from talkbench.datasets.synth.espeak import synthesize
from talkbench.datasets.synth.phonemes import espeak_to_arpabet, is_pause
from talkbench.datasets.synth.rig import CHANNELS, SPEECH_CHANNELS


def test_face_mesh_is_a_valid_surface_with_a_mouth_hole() -> None:
    face = build_face()
    assert 1000 < face.num_vertices < 5000
    assert face.faces.min() == 0 and face.faces.max() == face.num_vertices - 1
    assert len(face.mouth_triangles()) <= 3000
    # every vertex is used; no triangle is spanned by inner-lip points only (that is the mouth opening)
    assert len(np.unique(face.faces)) == face.num_vertices
    ring0 = set(face.mouth_ring_index[0].tolist())
    assert not any(all(v in ring0 for v in tri) for tri in face.faces.tolist())
    # an edge shared by 3+ triangles would make the surface non-manifold
    edges = np.sort(face.faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    assert counts.max() <= 2


def test_rig_jaw_opens_and_closure_meets() -> None:
    face, rig = build_face(), build_rig()
    ring0 = face.mouth_ring_index[0]
    up, lo = ring0[12], ring0[36]
    params = np.zeros((3, len(CHANNELS)), np.float32)
    params[1, CHANNELS.index("jaw_open")] = 0.5
    params[2, CHANNELS.index("jaw_open")] = 1.0
    v = rig.apply(face.vertices, params)
    gaps = v[:, up, 1] - v[:, lo, 1]
    assert gaps[0] < gaps[1] < gaps[2] and 0.008 < gaps[2] < 0.02
    params[:, CHANNELS.index("lip_close")] = 1.0
    v = rig.apply(face.vertices, params)
    np.testing.assert_allclose(v[:, rig.close_upper[0], 1], v[:, rig.close_lower[0], 1], atol=1e-6)


def test_cohen_massaro_blend_worked_by_hand() -> None:
    style = CoarticulationStyle(theta_anticipatory=20.0, theta_carryover=20.0, gains=(1.0,) * 6, lead_s=0.0)
    # two adjacent phones: AA (viseme aa) centred at 1.1 s and UW (viseme ou) centred at 1.3 s
    phones = [("AA", 1.0, 1.2), ("UW", 1.2, 1.4)]
    t = np.array([1.2])
    got = speech_tracks(phones, t, style)[0]
    # pauses before (ends 1.0 s) and after (starts 1.4 s): distance from their nearest edge, 0.2 s each
    segs = [("sil", 0.2), ("aa", 0.1), ("ou", 0.1), ("sil", 0.2)]
    d = np.array([DOMINANCE[v] * np.exp(-20.0 * dist) for v, dist in segs])
    expected = (d * np.array([TARGETS[v] for v, _ in segs])).sum(0) / d.sum(0)
    np.testing.assert_allclose(got, expected, rtol=1e-9)
    # far inside a long phone the track reaches that phone's target
    long = speech_tracks([("AA", 1.0, 3.0)], np.array([2.0]), style)[0]
    np.testing.assert_allclose(long, TARGETS["aa"], atol=1e-3)
    assert got.shape == (len(TRACK_CHANNELS),) and TRACK_CHANNELS[: len(SPEECH_CHANNELS)] == SPEECH_CHANNELS
    # inside a pause the rest pose holds exactly where no phone is near
    rest = speech_tracks([("AA", 5.0, 5.2)], np.array([1.0]), style)[0]
    np.testing.assert_allclose(rest, TARGETS["sil"], atol=1e-6)


def test_espeak_events_cover_the_vocabulary() -> None:
    text = " ".join(vocabulary())
    res = synthesize(text, voice="en-us+m3")
    assert res.sample_rate == 22050 and res.audio.dtype == np.float32
    words = [e for e in res.events if e.kind == "word"]
    assert len(words) == len(vocabulary())
    phon = [e for e in res.events if e.kind == "phoneme"]
    samples = [e.sample for e in phon]
    assert samples == sorted(samples) and samples[-1] <= len(res.audio)
    for e in phon:
        if not is_pause(e.label):
            espeak_to_arpabet(e.label)  # raises on an unmapped phoneme
    with pytest.raises(KeyError, match="no ARPAbet mapping"):
        espeak_to_arpabet("Q!")
    with pytest.raises(ValueError, match="no voice"):
        synthesize("hello", voice="no-such-voice-xyz")


def test_point_in_polygon_even_odd() -> None:
    from talkbench.datasets.synth.face import _inside_polygon

    square = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    pts = np.array([[0.5, 0.5], [1.5, 0.5], [0.5, -0.1], [0.99, 0.01]])
    assert _inside_polygon(pts, square).tolist() == [True, False, False, True]


def test_figures_are_written(tmp_path) -> None:
    pytest.importorskip("matplotlib")
    from PIL import Image

    from talkbench.datasets.synth.figures import save_viseme_figure

    out = tmp_path / "v.png"
    save_viseme_figure(out, visemes=("sil", "aa"))
    img = np.asarray(Image.open(out).convert("L"), dtype=np.float64)
    # two panels of a lit face on black: a good share of the pixels is neither black nor white
    assert img.shape[1] > img.shape[0] and 0.2 < (img > 40).mean() < 0.95


def test_probe_regression_helpers_by_hand() -> None:
    from talkbench.datasets.synth.probes import r2_score, ridge_fit

    y = np.array([1.0, 2.0, 3.0, 4.0])
    # R^2 = 1 - SS_res / SS_tot: SS_tot = 5, predictions off by 0.5 everywhere -> SS_res = 1
    assert r2_score(y, y + 0.5) == pytest.approx(1 - 1.0 / 5.0)
    assert r2_score(y, np.full(4, 2.5)) == pytest.approx(0.0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 2))
    target = (3.0 * x[:, 0] - 2.0 * x[:, 1] + 1.0)[:, None]
    mu, sd, w, b = ridge_fit(x, target, alpha=1e-9)
    pred = ((x - mu) / sd) @ w + b
    np.testing.assert_allclose(pred, target, atol=1e-6)
