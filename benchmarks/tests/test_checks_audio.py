from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from talkbench.datasets import AudioError, DataError, load_audio, truncate_pair
from talkbench.datasets.checks import check_vertices


def test_truncation_rule_worked_example() -> None:
    # 100 frames at 30 fps = 3.333 s; 48000 samples = 3.0 s
    # -> keep floor(48000*30/16000) = 90 frames and 48000 samples
    v, a = truncate_pair(np.zeros((100, 2, 3)), np.zeros(48000), 30.0, "x")
    assert v.shape[0] == 90 and a.shape[0] == 48000
    # 80 frames at 25 fps = 3.2 s; 52000 samples = 3.25 s
    # -> keep 80 frames and round(80*16000/25) = 51200 samples
    v, a = truncate_pair(np.zeros((80, 2, 3)), np.zeros(52000), 25.0, "x")
    assert v.shape[0] == 80 and a.shape[0] == 51200


def test_truncation_rejects_large_mismatch_naming_source() -> None:
    with pytest.raises(DataError, match=r"seqA.npy"):
        truncate_pair(np.zeros((30, 2, 3)), np.zeros(16000 * 3), 30.0, "seqA.npy")


def test_check_vertices_flat_layout_and_errors() -> None:
    flat = np.arange(2 * 12, dtype=np.float64).reshape(2, 12)
    out = check_vertices(flat, 4, "f.npy")
    assert out.dtype == np.float32 and out.shape == (2, 4, 3) and out[1, 0, 0] == 12
    with pytest.raises(DataError, match=r"f\.npy.*expected 15"):
        check_vertices(flat, 5, "f.npy")
    bad = np.zeros((3, 4, 3))
    bad[2, 1, 0] = np.nan
    with pytest.raises(DataError, match=r"f\.npy.*frame 2"):
        check_vertices(bad, 4, "f.npy")


def test_load_audio_stereo_44k_to_mono_16k(shared_fixtures: Path) -> None:
    path = shared_fixtures / "speech" / "codetalker_demo_man.wav"
    info = sf.info(str(path))
    assert info.channels == 2 and info.samplerate == 44100
    audio = load_audio(path)
    assert audio.dtype == np.float32 and audio.ndim == 1
    # polyphase resampling by 160/441 gives ceil(n * 160 / 441) samples
    assert audio.shape[0] == -(-info.frames * 160 // 441)
    # mixing to mono: compare a low-frequency envelope with the channel mean computed independently
    raw, _ = sf.read(str(path), dtype="float64")
    mono = raw.mean(axis=1)
    env_ref = np.abs(mono[: (len(mono) // 4410) * 4410]).reshape(-1, 4410).mean(1)
    env = np.abs(audio[: len(env_ref) * 1600]).reshape(-1, 1600).mean(1)
    assert np.corrcoef(env, env_ref)[0, 1] > 0.99


def test_load_audio_errors_name_the_file(tmp_path: Path) -> None:
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF\x00\x00not really a wav file at all")
    with pytest.raises(AudioError, match=r"junk.wav"):
        load_audio(junk)
    with pytest.raises(FileNotFoundError, match=r"missing.wav"):
        load_audio(tmp_path / "missing.wav")
    empty = tmp_path / "empty.wav"
    sf.write(str(empty), np.zeros(0, np.float32), 16000)
    with pytest.raises(AudioError, match=r"empty.wav.*empty"):
        load_audio(empty)
    nan = tmp_path / "nan.wav"
    sf.write(str(nan), np.array([0.1, np.nan, 0.2], np.float32), 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"nan.wav.*NaN"):
        load_audio(nan)
