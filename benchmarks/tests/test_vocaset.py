import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from talkbench.datasets import DataError, VocasetRawDataset, convert_vocaset, vocaset_dataset

# the miniature release built by the raw_vocaset fixture (conftest.py)
VOCA_TRAIN = ("FaceTalk_170728_03272_TA", "FaceTalk_170904_00128_TA")
VOCA_VAL = "FaceTalk_170811_03275_TA"
VOCA_TEST = "FaceTalk_170809_00138_TA"
VOCA_SENTENCES = ("sentence01", "sentence20", "sentence21", "sentence40")
VOCA_FRAMES_60 = 24


class Evil:
    """Pickles to a call of os.system: a restricted unpickler must refuse it."""

    def __reduce__(self):
        return (os.system, ("echo this-should-never-run",))


def test_fixture_layout_matches(raw_vocaset: dict) -> None:
    assert (raw_vocaset["train"], raw_vocaset["val"], raw_vocaset["test"]) == (
        VOCA_TRAIN,
        VOCA_VAL,
        VOCA_TEST,
    )
    assert raw_vocaset["sentences"] == VOCA_SENTENCES and raw_vocaset["frames_60"] == VOCA_FRAMES_60


def _frames_30(n60: int) -> int:
    return (n60 + 1) // 2


def test_raw_splits_follow_the_official_protocol(raw_vocaset: dict) -> None:
    root = raw_vocaset["root"]
    train = VocasetRawDataset(root, "train")
    val = VocasetRawDataset(root, "val")
    test = VocasetRawDataset(root, "test")
    # train subjects: sentences 1-40; val/test subjects: sentences 21-40 (reference/baselines.md 4.1)
    assert sorted(train.items) == sorted((s, q) for s in VOCA_TRAIN for q in VOCA_SENTENCES)
    assert sorted(val.items) == [(VOCA_VAL, "sentence21"), (VOCA_VAL, "sentence40")]
    assert sorted(test.items) == [(VOCA_TEST, "sentence21"), (VOCA_TEST, "sentence40")]
    # sequences of the protocol absent from the release are listed, not silently dropped
    assert len(train.missing) == 6 * 40 + 2 * 36
    assert "FaceTalk_170725_00137_TA_sentence01" in train.missing


def test_raw_sample_is_every_second_frame_in_frame_order(raw_vocaset: dict) -> None:
    ds = VocasetRawDataset(raw_vocaset["root"], "train")
    i = ds.items.index((VOCA_TRAIN[1], "sentence20"))
    s = ds[i]
    truth = raw_vocaset["truth"][(VOCA_TRAIN[1], "sentence20")][::2]
    assert s.fps == 30.0 and s.topology == "flame-5023"
    assert s.vertices.shape == (_frames_30(VOCA_FRAMES_60), 5023, 3)
    np.testing.assert_array_equal(s.vertices, truth)
    np.testing.assert_array_equal(s.template, raw_vocaset["templates"][VOCA_TRAIN[1]])
    assert s.speaker_index == 1  # second subject of the protocol's training list
    # 0.4 s of 44.1 kHz audio -> 6400 samples at 16 kHz
    assert s.audio.shape == (6400,)
    test = VocasetRawDataset(raw_vocaset["root"], "test")
    assert test[0].speaker_index == -1


def test_convert_round_trip_matches_raw(raw_vocaset: dict, tmp_path: Path) -> None:
    out = tmp_path / "processed"
    assert convert_vocaset(raw_vocaset["root"], out) == 16
    stored = np.load(out / "vertices_npy" / f"{VOCA_TRAIN[0]}_sentence01.npy")
    assert stored.shape == (VOCA_FRAMES_60, 5023 * 3)  # processed layout keeps 60 fps, flat
    for split in ("train", "val", "test"):
        raw = VocasetRawDataset(raw_vocaset["root"], split)
        proc = vocaset_dataset(out, split)
        assert len(raw) == len(proc)
        for i in range(len(raw)):
            a = raw[i]
            b = proc[proc.names.index(a.name)]
            np.testing.assert_array_equal(a.vertices, b.vertices)
            np.testing.assert_allclose(a.audio, b.audio, atol=1e-4)  # PCM-16 round trip
            assert a.speaker_index == b.speaker_index


def test_transcripts_one_line_per_sentence(raw_vocaset: dict, tmp_path: Path) -> None:
    tdir = tmp_path / "sentencestext"
    tdir.mkdir()
    (tdir / f"{VOCA_TRAIN[0]}.txt").write_text(
        "".join(f"Sentence {n} text.\n" for n in range(1, 41)), encoding="utf-8"
    )
    ds = VocasetRawDataset(raw_vocaset["root"], "train", transcripts=tdir)
    s = ds[ds.items.index((VOCA_TRAIN[0], "sentence20"))]
    assert s.transcript == "Sentence 20 text."
    with pytest.raises(FileNotFoundError, match=f"{VOCA_TRAIN[1]}.txt"):
        ds[ds.items.index((VOCA_TRAIN[1], "sentence20"))]


def test_malicious_pickle_is_refused_naming_the_file(raw_vocaset: dict) -> None:
    root = raw_vocaset["root"]
    with open(root / "templates.pkl", "wb") as fh:
        pickle.dump({"FaceTalk_170728_03272_TA": Evil()}, fh, protocol=2)
    with pytest.raises(pickle.UnpicklingError, match=r"templates\.pkl.*posix\.system|templates\.pkl.*system"):
        VocasetRawDataset(root, "train")


@pytest.fixture()
def processed(raw_vocaset: dict, tmp_path: Path) -> Path:
    out = tmp_path / "processed"
    convert_vocaset(raw_vocaset["root"], out)
    return out


def test_processed_missing_wav_names_it(processed: Path) -> None:
    wav = processed / "wav" / f"{VOCA_TRAIN[0]}_sentence21.wav"
    wav.unlink()
    with pytest.raises(DataError, match=f"{VOCA_TRAIN[0]}_sentence21.wav"):
        vocaset_dataset(processed, "train")


def test_processed_bad_vertices_name_the_file(processed: Path) -> None:
    name = f"{VOCA_VAL}_sentence40"
    np.save(processed / "vertices_npy" / f"{name}.npy", np.zeros((10, 5000 * 3), np.float32))
    ds = vocaset_dataset(processed, "val")
    with pytest.raises(DataError, match=f"{name}.npy.*15069"):
        ds[ds.names.index(name)]
    bad = np.zeros((10, 5023 * 3), np.float32)
    bad[4, 7] = np.inf
    np.save(processed / "vertices_npy" / f"{name}.npy", bad)
    with pytest.raises(
        DataError, match=f"{name}.npy.*NaN or Inf.*frame 2"
    ):  # frame 4 at 60 fps = frame 2 at 30
        ds[ds.names.index(name)]
    (processed / "vertices_npy" / f"{name}.npy").write_bytes(b"not an npy file")
    with pytest.raises(DataError, match=f"{name}.npy"):
        ds[ds.names.index(name)]


def test_processed_undecodable_audio_names_it(processed: Path) -> None:
    name = f"{VOCA_TEST}_sentence21"
    (processed / "wav" / f"{name}.wav").write_bytes(b"RIFF....WAVEfmt garbage")
    ds = vocaset_dataset(processed, "test")
    with pytest.raises(ValueError, match=f"{name}.wav"):
        ds[ds.names.index(name)]


def test_raw_template_with_wrong_vertex_count(raw_vocaset: dict) -> None:
    root = raw_vocaset["root"]
    t = dict(raw_vocaset["templates"])
    t[VOCA_TRAIN[0]] = np.zeros((5000, 3), np.float32)
    with open(root / "templates.pkl", "wb") as fh:
        pickle.dump(t, fh, protocol=2)
    with pytest.raises(DataError, match=r"templates\.pkl.*5000 vertices, expected 5023"):
        VocasetRawDataset(root, "train")


def test_processed_transcripts_are_normalised_once(processed: Path, tmp_path: Path) -> None:
    # transcripts of a real dataset keep case and punctuation; the harness hands on the normalised form
    # (NFKC, lower case, non-letters to spaces) that CER / WER score with, so a char tokenizer built on
    # letters and space accepts it
    from lipread_expert.tokenizers import CharTokenizer
    from talkbench.training.data import window_transcript

    tdir = tmp_path / "sentencestext"
    tdir.mkdir()
    (tdir / f"{VOCA_TRAIN[0]}.txt").write_text(
        "".join(f"It's Sentence {n}, TEXT.\n" for n in range(1, 41)), encoding="utf-8"
    )
    ds = vocaset_dataset(processed, "train", transcripts=tdir)
    s = ds[ds.names.index(f"{VOCA_TRAIN[0]}_sentence20")]
    assert s.transcript == "it s sentence text"  # worked by hand
    tok = CharTokenizer()  # the lip reader's default character set
    assert len(tok.encode(s.transcript)) == len("it s sentence text")
    with pytest.raises(ValueError, match="not in the tokenizer"):
        tok.encode("It's Sentence 20, TEXT.")  # what reached the tokenizer before
    # a window of aligned words gets the same normalisation
    words = [("It's", 0.0, 0.2), ("sil", 0.2, 0.3), ("TEXT.", 0.3, 0.5)]
    assert window_transcript(words, 0.0, 1.0) == "it s text"
