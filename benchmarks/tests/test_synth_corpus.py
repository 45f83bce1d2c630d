import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from facial_metrics import RegionMask
from facial_metrics.protocols import get_protocol
from talkbench.datasets import collate_samples, load_synth_masks, synth_dataset
from talkbench.datasets.synth import MOODS, build_face, generate_corpus
from talkbench.datasets.synth.corpus import CorpusSize
from talkbench.datasets.synth.grammar import MOOD_WORDS, SLOTS
from talkbench.datasets.synth.phonemes import ARPABET_TO_VISEME


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_identical_different_seed_different(tiny_corpus: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    generate_corpus(again, seed=7, size="tiny")
    a, b = _files(tiny_corpus), _files(again)
    assert a.keys() == b.keys()
    assert all(a[k] == b[k] for k in a), [k for k in a if a[k] != b[k]][:5]
    other = tmp_path / "other"
    generate_corpus(other, seed=8, size=CorpusSize(1, 0))
    v7 = np.load(tiny_corpus / "vertices_npy" / "synth01_s001.npy")
    v8 = np.load(other / "vertices_npy" / "synth01_s001.npy")
    assert v7.shape != v8.shape or not np.allclose(v7, v8)
    w7, _ = sf.read(str(tiny_corpus / "wav" / "synth01_s001.wav"))
    w8, _ = sf.read(str(other / "wav" / "synth01_s001.wav"))
    assert w7.shape != w8.shape or not np.allclose(w7, w8)
    t7 = [e["transcript"] for e in json.loads((tiny_corpus / "corpus.json").read_text())["sequences"]]
    t8 = [e["transcript"] for e in json.loads((other / "corpus.json").read_text())["sequences"]]
    assert t7 != t8


def test_splits_match_the_synth_protocol(tiny_corpus: Path) -> None:
    proto = get_protocol("synth")
    for split in ("train", "val", "test"):
        ds = synth_dataset(tiny_corpus, split)
        assert sorted({s for s, _, _ in ds.items}) == sorted(getattr(proto, f"{split}_subjects"))
    pool = synth_dataset(tiny_corpus, "pool")
    assert sorted({s for s, _, _ in pool.items}) == [f"synth{i:02d}" for i in range(1, 9)]
    assert all(n.split("_")[1].startswith("p") for n in pool.names)
    train = synth_dataset(tiny_corpus, "train")
    assert [train[i].speaker_index for i in range(len(train))] == list(range(8))
    assert synth_dataset(tiny_corpus, "test")[0].speaker_index == -1


def test_sample_contents_and_units(tiny_corpus: Path) -> None:
    ds = synth_dataset(tiny_corpus, "val")
    s = ds[0]
    face = build_face()
    assert s.fps == 30.0 and s.topology == "synth-face-v1"
    assert s.vertices.shape[1:] == (face.num_vertices, 3)
    assert s.faces is not None and s.faces.max() < face.num_vertices
    # the truncation rule leaves audio and motion of equal duration to within one frame
    assert abs(s.audio.shape[0] / 16000 - s.num_frames / 30) < 1 / 30
    # FLAME-like size in metres: about 0.15 m wide
    width = s.template[:, 0].max() - s.template[:, 0].min()
    assert 0.12 < width < 0.18
    words = s.transcript.split()
    assert len(words) == 1 + len(SLOTS)
    assert words[0] in MOOD_WORDS[s.attributes["mood"]]
    assert [w for w, _, _ in s.words] == words
    starts = [p[1] for p in s.phones]
    assert starts == sorted(starts) and all(p[0] in ARPABET_TO_VISEME for p in s.phones)
    assert s.phones[-1][2] <= s.audio.shape[0] / 16000 + 1e-6
    batch = collate_samples([ds[0], ds[1]])
    assert batch.vertices.shape[0] == 2


def test_lips_move_by_millimetres_and_close_on_bilabials(tiny_corpus: Path) -> None:
    face = build_face()
    ring0 = face.mouth_ring_index[0]
    up, lo = ring0[len(ring0) // 4], ring0[3 * len(ring0) // 4]
    openings, closed_at_b = [], []
    ds = synth_dataset(tiny_corpus, "train")
    for i in range(len(ds)):
        s = ds[i]
        gap = s.vertices[:, up, 1] - s.vertices[:, lo, 1]
        openings.append(gap)
        for label, start, end in s.phones:
            if label in ("P", "B", "M"):
                closed_at_b.append(gap[min(int((start + end) / 2 * 30), s.num_frames - 1)])
    allg = np.concatenate(openings)
    assert 0.004 < allg.max() < 0.025  # a few mm up to about 1.5-2 cm
    assert np.median(closed_at_b) < 0.3 * np.median(allg)  # lips (nearly) meet on /p b m/


def test_mood_word_is_soft(tiny_corpus: Path) -> None:
    ratios = []
    for i in range(len(synth_dataset(tiny_corpus, "train"))):
        s = synth_dataset(tiny_corpus, "train")[i]
        mood_end = s.words[0][2]
        a, b = int(s.words[0][1] * 16000), int(mood_end * 16000)
        rest = s.audio[int(s.words[1][1] * 16000) : int(s.words[-1][2] * 16000)]
        ratios.append(np.sqrt(np.mean(s.audio[a:b] ** 2)) / np.sqrt(np.mean(rest**2)))
    assert np.median(ratios) < 0.4


def test_masks_shipped_with_hashes(tiny_corpus: Path) -> None:
    masks = load_synth_masks(tiny_corpus)
    face = build_face()
    assert set(masks) == {"lips", "upper_face"}
    for name, mask in masks.items():
        assert mask == RegionMask.from_indices(name, "synth-face-v1", face.region(name))
    lips = face.vertices[masks["lips"].indices]
    assert np.all(np.abs(lips[:, 0]) < 0.035) and np.all(np.abs(lips[:, 1] + 0.045) < 0.02)
    assert np.all(face.vertices[masks["upper_face"].indices, 1] > 0.015)
    assert not set(masks["lips"].indices) & set(masks["upper_face"].indices)
    # a tampered index file is detected and named
    f = tiny_corpus / "masks" / "lips.txt"
    original = f.read_text()
    try:
        f.write_text(original.replace("0,", "1,", 1))
        with pytest.raises(ValueError, match=r"lips.txt"):
            load_synth_masks(tiny_corpus)
    finally:
        f.write_text(original)


def test_moods_cover_the_grammar() -> None:
    assert set(MOODS) == set(MOOD_WORDS)
