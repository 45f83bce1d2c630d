"""Audio encoders: official frame counts on real speech, wav2vec2 layout and equivalence, log-mel maths."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from transformers import Wav2Vec2Config, Wav2Vec2Model

from facial_animator.audio import (
    LogMelAudioEncoder,
    Wav2Vec2AudioEncoder,
    adapt_frame_rate,
    log_mel_spectrogram,
    mel_filterbank,
    span_mask,
)

KERNELS = [10, 3, 3, 3, 3, 2, 2]
STRIDES = [5, 2, 2, 2, 2, 2, 2]


def cnn_frames(num_samples: int) -> int:
    """Official conv-stack rule, worked independently of the package."""
    n = num_samples
    for k, s in zip(KERNELS, STRIDES):
        n = math.floor((n - k) / s) + 1
    return n


def load_speech_16k(path) -> torch.Tensor:
    sf = pytest.importorskip("soundfile")
    from scipy.signal import resample_poly

    data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    mono = data.mean(axis=1)
    assert rate == 44100
    resampled = resample_poly(mono, 160, 441).astype(np.float32)  # 44.1 kHz → 16 kHz
    return torch.from_numpy(resampled)[None]


@pytest.fixture(scope="module")
def wav2vec2() -> Wav2Vec2AudioEncoder:
    torch.manual_seed(0)
    return Wav2Vec2AudioEncoder().eval()


def test_conv_rule_examples_from_reference():
    assert cnn_frames(16000) == 49 and cnn_frames(20 * 16000) == 999


def test_real_speech_frame_counts_both_encoders(shared_fixtures, wav2vec2):
    logmel_voca = LogMelAudioEncoder(frame_rate_mode="interpolate", fps=30.0).eval()
    logmel_biwi = LogMelAudioEncoder(frame_rate_mode="pair", fps=25.0).eval()
    speech = shared_fixtures / "speech"
    mono = load_speech_16k(speech / "faceformer_demo.wav")
    stereo = load_speech_16k(speech / "codetalker_demo_man.wav")
    for audio in (mono, stereo):
        length = cnn_frames(audio.shape[1])
        voca, biwi = int(length / 50 * 30), length - length % 2
        with torch.no_grad():
            assert logmel_voca(audio).shape[1] == voca
            assert logmel_biwi(audio).shape[1] == biwi
            assert logmel_voca(audio, frame_num=voca + 7).shape[1] == voca + 7  # training: GT frame count
            assert logmel_biwi(audio, frame_num=100).shape[1] == 200  # cut to 2·T
    # wav2vec2 (base architecture, random init) on 2 s excerpts of both files keeps the test fast
    rules = {"interpolate": lambda n: int(n / 50 * 30), "pair": lambda n: n - n % 2}
    for audio, mode, fps in ((mono, "interpolate", 30.0), (stereo, "pair", 25.0)):
        excerpt = audio[:, 16000 : 16000 + 2 * 16000 + 1234]
        wav2vec2.frame_rate_mode, wav2vec2.fps = mode, fps
        with torch.no_grad():
            out = wav2vec2(excerpt)
        assert out.shape == (1, rules[mode](cnn_frames(excerpt.shape[1])), 768)
        assert torch.isfinite(out).all()


def test_logmel_frames_equal_conv_rule():
    fb = mel_filterbank(16)
    window = torch.hann_window(400)
    for n in (400, 719, 720, 16000, 16319, 33333):
        assert log_mel_spectrogram(torch.randn(1, n), fb, window).shape[1] == cnn_frames(n)


def test_logmel_matches_numpy_reference():
    rng = np.random.default_rng(0)
    audio = rng.standard_normal(2000).astype(np.float32)
    fb = mel_filterbank(20)
    window = torch.hann_window(400)
    ours = log_mel_spectrogram(torch.from_numpy(audio)[None], fb, window)[0].numpy()
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(400) / 400)  # periodic Hann
    frames = [audio[i * 320 : i * 320 + 400] * hann for i in range(cnn_frames(2000))]
    power = np.abs(np.fft.rfft(np.stack(frames), n=400)) ** 2
    expected = np.log(power @ fb.numpy().astype(np.float64) + 1e-6)
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-4)


def test_mel_filterbank_htk_points():
    fb = mel_filterbank(n_mels=10, n_fft=512, sample_rate=16000)
    assert fb.shape == (257, 10)
    assert mel_filterbank(n_mels=10).shape == (201, 10)  # default n_fft = 400
    # HTK: mel(f) = 2595 log10(1 + f/700); filter centres are equally spaced in mel from 0 to mel(8000)
    top = 2595 * math.log10(1 + 8000 / 700)
    centres_hz = [700 * (10 ** (top * (i + 1) / 11 / 2595) - 1) for i in range(10)]
    bin_hz = 8000 / 256
    for m, c in enumerate(centres_hz):
        peak_bin = int(torch.argmax(fb[:, m]))
        assert abs(peak_bin * bin_hz - c) <= bin_hz, (m, c)
    assert float(fb.max()) <= 1.0 and float(fb.min()) >= 0.0


def test_adapt_frame_rate_rules():
    feats = torch.arange(10.0).view(1, 10, 1)
    out = adapt_frame_rate(feats, "interpolate", 30.0)  # int(10/50*30) = 6 frames
    # align_corners=True: output i samples input position i·(10−1)/(6−1)
    assert torch.allclose(out[0, :, 0], torch.tensor([0.0, 1.8, 3.6, 5.4, 7.2, 9.0]))
    assert adapt_frame_rate(torch.zeros(1, 11, 2), "pair", 25.0).shape[1] == 10
    assert adapt_frame_rate(torch.zeros(1, 11, 2), "pair", 25.0, frame_num=3).shape[1] == 6
    assert adapt_frame_rate(torch.zeros(1, 11, 2), "pair", 25.0, frame_num=30).shape[1] == 10
    with pytest.raises(ValueError, match="mode"):
        adapt_frame_rate(feats, "nearest", 30.0)  # type: ignore[arg-type]


def test_wav2vec2_state_dict_uses_official_names_and_cnn_is_frozen(wav2vec2):
    keys = set(wav2vec2.state_dict())
    assert "encoder.pos_conv_embed.conv.weight_g" in keys and "encoder.pos_conv_embed.conv.weight_v" in keys
    assert not any("parametrizations" in k for k in keys)
    assert len(keys) == 211
    assert wav2vec2.state_dict()["encoder.pos_conv_embed.conv.weight_g"].shape == (1, 1, 128)
    assert wav2vec2.state_dict()["encoder.pos_conv_embed.conv.weight_v"].shape == (768, 48, 128)
    assert all(not p.requires_grad for p in wav2vec2.feature_extractor.parameters())
    trainable = [n for n, p in wav2vec2.named_parameters() if p.requires_grad]
    assert "masked_spec_embed" in trainable and "feature_projection.projection.weight" in trainable


def test_wav2vec2_equals_huggingface_forward_at_native_rate():
    cfg = Wav2Vec2Config(hidden_size=48, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                         conv_dim=(32,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4)
    torch.manual_seed(0)
    stock = Wav2Vec2Model(cfg).eval()
    ours = Wav2Vec2AudioEncoder(cfg, frame_rate_mode="interpolate", fps=50.0, normalize_input=False).eval()
    ours.load_state_dict(stock.state_dict(), strict=True)  # torch's parametrized weight-norm names
    audio = torch.randn(2, 8000)
    with torch.no_grad():
        torch.testing.assert_close(ours(audio), stock(audio).last_hidden_state, rtol=1e-5, atol=1e-5)
    # and back: our legacy names load into the stock model
    stock.load_state_dict(ours.state_dict(), strict=True)
    # a preset sizes the encoder with a plain mapping of the config's fields (YAML)
    fields = dict(hidden_size=48, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                  conv_dim=[32] * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4)
    from_yaml = Wav2Vec2AudioEncoder(fields, frame_rate_mode="interpolate", fps=50.0, normalize_input=False)
    from_yaml.load_state_dict(stock.state_dict(), strict=True)
    assert from_yaml.output_dim == 48 and from_yaml.config.num_hidden_layers == 2


def test_from_local_directory_and_offline_error(tmp_path):
    cfg = Wav2Vec2Config(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                         conv_dim=(16,) * 7, num_conv_pos_embeddings=8, num_conv_pos_embedding_groups=2)
    torch.manual_seed(1)
    stock = Wav2Vec2Model(cfg).eval()
    stock.save_pretrained(tmp_path / "w2v")
    ours = Wav2Vec2AudioEncoder.from_local(str(tmp_path / "w2v"), fps=50.0, normalize_input=False).eval()
    audio = torch.randn(1, 4000)
    with torch.no_grad():
        torch.testing.assert_close(ours(audio), stock(audio).last_hidden_state, rtol=1e-5, atol=1e-5)
    with pytest.raises(OSError, match="not available locally"):
        Wav2Vec2AudioEncoder.from_local(str(tmp_path / "missing-model"))


def test_waveform_normalisation_like_the_processor():
    cfg = Wav2Vec2Config(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                         conv_dim=(16,) * 7, num_conv_pos_embeddings=8, num_conv_pos_embedding_groups=2)
    enc = Wav2Vec2AudioEncoder(cfg).eval()
    audio = torch.randn(1, 4000)
    with torch.no_grad():
        # (x − mean)/sqrt(var + 1e-7) makes the encoder invariant to gain and offset
        torch.testing.assert_close(enc(audio), enc(3.0 * audio + 0.5), rtol=1e-4, atol=1e-4)


def test_spec_augment_span_mask_rule():
    torch.manual_seed(0)
    for _ in range(20):
        mask = span_mask(3, 100, mask_prob=0.05, mask_length=10, min_masks=2)
        counts = mask.sum(dim=1)
        assert (counts == counts[0]).all()  # same number of masked frames per row
        assert 10 <= int(counts[0]) <= 20  # max(2, int(0.05·100/10 + u)) = 2 spans of 10
    assert span_mask(1, 5, 0.05, 10, 2).sum() > 0  # short sequences still get masked
    cfg = Wav2Vec2Config(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                         conv_dim=(16,) * 7, num_conv_pos_embeddings=8, num_conv_pos_embedding_groups=2)
    enc = Wav2Vec2AudioEncoder(cfg).train()
    hidden = torch.randn(1, 50, 32)
    masked = enc._spec_augment(hidden)
    replaced = (masked == enc.masked_spec_embed).all(dim=-1)
    assert int(replaced.sum()) >= 10
