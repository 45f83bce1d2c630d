"""Files that are not what they claim are refused at load, naming the file: integer vertices and
templates, a masks.json whose count disagrees, silent / cancelling / out-of-range audio; clipped
audio loads with a warning naming the file."""

from __future__ import annotations

import json
import pickle
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from talkbench.datasets.audio_io import AudioError, AudioWarning, load_audio
from talkbench.datasets.checks import DataError, check_template, check_vertices
from talkbench.datasets.processed import load_templates
from talkbench.datasets.synth import load_synth_masks


def test_integer_vertices_are_refused() -> None:
    ints = np.arange(2 * 4 * 3, dtype=np.int32).reshape(2, 12)
    with pytest.raises(DataError, match=r"seq\.npy: vertex coordinates must be floating point.*int32"):
        check_vertices(ints, 4, "seq.npy")
    floats = check_vertices(ints.astype(np.float64) * 0.5, 4, "seq.npy")
    assert floats.dtype == np.float32 and floats[1, 0, 0] == 6.0
    with pytest.raises(DataError, match=r"tpl: template coordinates must be floating point"):
        check_template(np.zeros((4, 3), np.int64), "tpl")


def test_integer_template_in_pickle_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "templates.pkl"
    path.write_bytes(pickle.dumps({"F1": np.ones((5, 3), np.int16)}, protocol=2))
    with pytest.raises(DataError) as err:
        load_templates(path)
    assert str(path) in str(err.value) and "'F1'" in str(err.value) and "int16" in str(err.value)


def test_masks_json_count_is_checked(tiny_corpus: Path, tmp_path: Path) -> None:
    root = tmp_path / "c"
    shutil.copytree(tiny_corpus / "masks", root / "masks")
    assert set(load_synth_masks(root)) == {"lips", "upper_face"}
    meta_path = root / "masks" / "masks.json"
    meta = json.loads(meta_path.read_text())
    ids = (root / "masks" / meta["lips"]["file"]).read_text().replace("\n", ",").split(",")
    true_count = len([t for t in ids if t.strip()])
    assert meta["lips"]["count"] == true_count
    meta["lips"]["count"] = true_count + 1
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(DataError) as err:
        load_synth_masks(root)
    msg = str(err.value)
    assert "lips.txt" in msg and str(meta_path) in msg and f"{true_count} vertex ids" in msg
    del meta["lips"]["count"]
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(DataError, match=r"masks\.json: mask 'lips' lacks count"):
        load_synth_masks(root)


def _tone(seconds: float = 0.5, rate: int = 16000, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def test_stereo_channels_that_cancel_are_refused(tmp_path: Path) -> None:
    x = _tone()
    path = tmp_path / "cancel.wav"
    sf.write(str(path), np.stack([x, -x], axis=1), 16000, subtype="PCM_16")
    assert np.abs(sf.read(str(path))[0]).max() > 0.29  # each channel is loud
    with pytest.raises(AudioError) as err:
        load_audio(path)
    assert str(path) in str(err.value) and "cancel" in str(err.value)
    ok = tmp_path / "stereo.wav"
    sf.write(str(ok), np.stack([x, 0.5 * x], axis=1), 16000, subtype="PCM_16")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mono = load_audio(ok)
    assert np.allclose(mono, 0.75 * x, atol=1e-4)


def test_silent_audio_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "silent.wav"
    sf.write(str(path), np.zeros(8000, np.float32), 16000, subtype="PCM_16")
    with pytest.raises(AudioError, match=r"silent\.wav: the audio is silent"):
        load_audio(path)


def test_float_wav_out_of_range_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "loud.wav"
    sf.write(str(path), _tone(amp=40.0), 16000, subtype="FLOAT")
    with pytest.raises(AudioError) as err:
        load_audio(path)
    assert str(path) in str(err.value) and "|x| = 40" in str(err.value) and "[-1, 1]" in str(err.value)
    fine = tmp_path / "fine.wav"
    sf.write(str(fine), _tone(amp=0.9), 16000, subtype="FLOAT")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.abs(load_audio(fine)).max() <= 0.91


def test_clipped_audio_warns_with_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "clipped.wav"
    sf.write(str(path), np.clip(_tone(amp=3.0), -1.0, 1.0), 16000, subtype="PCM_16")
    with pytest.warns(AudioWarning, match=r"clipped\.wav: \d+ of 8000 samples .* clipped"):
        load_audio(path)
