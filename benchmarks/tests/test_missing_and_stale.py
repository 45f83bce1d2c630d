"""A synthetic-corpus sequence whose files are gone is listed as missing and stops a run; an
alignment made for other audio than the wav beside it is refused."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from talkbench.cli import app
from talkbench.config import load_config
from talkbench.datasets import synth_dataset
from talkbench.datasets.alignment_io import save_alignment
from talkbench.datasets.checks import DataError
from talkbench.training.data import load_split


@pytest.fixture
def corpus(tiny_corpus: Path, tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    shutil.copytree(tiny_corpus, root)
    return root


def test_deleted_sequence_is_listed_as_missing(corpus: Path) -> None:
    before = synth_dataset(corpus, "train")
    assert before.missing == []
    name = before.names[1]
    (corpus / "vertices_npy" / f"{name}.npy").unlink()
    after = synth_dataset(corpus, "train")
    assert after.missing == [name]
    assert len(after) == len(before) - 1
    assert synth_dataset(corpus, "val").missing == [] and synth_dataset(corpus, "pool").missing == []
    res = CliRunner().invoke(app, ["data", "info", str(corpus), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["train"]["missing"] == 1
    assert json.loads(res.output)["train"]["missing_names"] == [name]
    res = CliRunner().invoke(app, ["data", "info", str(corpus), "--check"])
    assert res.exit_code == 0, res.output
    verdict = res.output.splitlines()[-1]
    assert verdict.startswith("check passed: all ")
    assert "1 sequences of the protocol's splits are absent" in verdict
    assert "data.allow_missing=true" in verdict


def test_run_with_missing_sequences_fails_unless_allowed(
    corpus: Path, face_v1_overrides: tuple[str, ...]
) -> None:
    name = synth_dataset(corpus, "val").names[0]
    (corpus / "vertices_npy" / f"{name}.npy").unlink()
    base = [f"data.root={corpus}", *face_v1_overrides]
    with pytest.raises(DataError) as err:
        load_split(load_config("smoke", base), "val")
    msg = str(err.value)
    assert str(corpus) in msg and name in msg and "data.allow_missing=true" in msg
    allowed = load_split(load_config("smoke", [*base, "data.allow_missing=true"]), "val")
    assert name not in [s.name for s in allowed]
    assert len(allowed) == len(synth_dataset(corpus, "val"))


def _replace_wav_with_shorter(corpus: Path, name: str, seconds: float) -> Path:
    wav = corpus / "wav" / f"{name}.wav"
    audio, rate = sf.read(str(wav), dtype="float32")
    sf.write(str(wav), audio[: int(seconds * rate)], rate, subtype="PCM_16")
    return wav


def test_alignment_ending_after_the_replaced_wav_is_refused(corpus: Path) -> None:
    ds = synth_dataset(corpus, "val")
    sample = ds[0]
    last_end = max(e for _, _, e in sample.words)
    # a wav of another length; the vertices are cut to match so only the alignment is stale
    wav = _replace_wav_with_shorter(corpus, sample.name, last_end - 0.3)
    vpath = corpus / "vertices_npy" / f"{sample.name}.npy"
    verts = np.load(vpath)
    np.save(vpath, verts[: int((last_end - 0.3) * sample.fps)])
    apath = corpus / "alignments" / f"{sample.name}.json"
    with pytest.raises(DataError) as err:
        synth_dataset(corpus, "val")[0]
    msg = str(err.value)
    assert str(apath) in msg and str(wav) in msg and f"{last_end:.3f} s" in msg


def test_alignment_with_other_audio_hash_or_duration_is_refused(corpus: Path) -> None:
    ds = synth_dataset(corpus, "val")
    sample = ds[0]
    wav = corpus / "wav" / f"{sample.name}.wav"
    apath = corpus / "alignments" / f"{sample.name}.json"
    digest = hashlib.sha256(wav.read_bytes()).hexdigest()
    duration = sf.info(str(wav)).frames / sf.info(str(wav)).samplerate
    save_alignment(apath, sample.words, sample.phones, audio_sha256=digest, audio_duration_s=duration)
    assert synth_dataset(corpus, "val")[0].words == sample.words  # matching hash and duration load
    save_alignment(apath, sample.words, sample.phones, audio_sha256="0" * 64)
    with pytest.raises(DataError, match="sha256 000000000000"):
        synth_dataset(corpus, "val")[0]
    save_alignment(apath, sample.words, sample.phones, audio_duration_s=duration + 0.32)
    with pytest.raises(DataError) as err:
        synth_dataset(corpus, "val")[0]
    assert str(apath) in str(err.value) and f"{duration + 0.32:.3f} s of audio" in str(err.value)
