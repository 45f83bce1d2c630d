"""Input contract: the readers reject mismatching input unless asked to convert it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lipread_expert import InputSpec, LipReader, resample_time


@pytest.fixture(scope="module")
def video_model() -> LipReader:
    torch.manual_seed(0)
    return LipReader.from_preset("nano", "video", 6).eval()


def test_default_spec_is_the_auto_avsr_one() -> None:
    spec = InputSpec()
    assert (spec.fps, spec.crop, spec.channels, spec.mean, spec.std, spec.sample_rate) == (
        25.0, 88, 1, 0.421, 0.165, 16000,
    )
    assert spec.samples_per_frame == 640
    assert float(spec.normalize(torch.tensor(0.421 + 0.165))) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("shape", "kwargs", "message"),
    [
        ((1, 5, 1, 96, 96), {}, "1×96×96"),
        ((1, 5, 3, 88, 88), {}, "3×88×88"),
        ((1, 5, 88, 88), {}, r"\(B, T, C, H, W\)"),
        ((1, 5, 1, 88, 88), {"fps": 30.0}, "30.0 fps"),
    ],
)
def test_mismatching_video_is_rejected(video_model: LipReader, shape, kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        video_model.encode(torch.zeros(shape), **kwargs)


def test_non_finite_video_and_wrong_modality_are_rejected(video_model: LipReader) -> None:
    bad = torch.zeros(1, 3, 1, 88, 88)
    bad[0, 1, 0, 5, 5] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        video_model.encode(bad)
    with pytest.raises(ValueError, match="takes no audio"):
        video_model.encode(torch.zeros(1, 3, 1, 88, 88), audio=torch.zeros(1, 1920))
    with pytest.raises(ValueError, match="video_lengths"):
        video_model.encode(torch.zeros(1, 3, 1, 88, 88), video_lengths=torch.tensor([4]))


def test_conversion_on_request(video_model: LipReader) -> None:
    rgb = torch.rand(2, 30, 3, 96, 96)  # 30 fps, RGB, 96×96, pixels in [0, 1]
    enc = video_model.encode(
        rgb, fps=30.0, convert=True, pixel_range="unit", video_lengths=torch.tensor([30, 15])
    )
    # floor((30 − 1)·25/30) + 1 = 25 frames; lengths scaled by 25/30.
    assert enc.features.shape[:2] == (2, 25)
    assert enc.lengths.tolist() == [25, 12]
    converted = InputSpec().convert_video(rgb[:, :1], pixel_range="unit")
    grey = 0.299 * rgb[:, :1, 0] + 0.587 * rgb[:, :1, 1] + 0.114 * rgb[:, :1, 2]
    expected = (grey[..., 4:92, 4:92] - 0.421) / 0.165
    torch.testing.assert_close(converted[:, :, 0], expected)
    with pytest.raises(ValueError, match="pixel_range='unit'"):
        InputSpec().convert_video(rgb, pixel_range="normalized")


def test_resample_time_is_linear_interpolation() -> None:
    # Frame values equal their time index; resampling 30 → 25 fps samples times k·30/25.
    video = torch.arange(7, dtype=torch.float32).view(1, 7, 1, 1, 1).expand(1, 7, 1, 2, 2)
    out = resample_time(video, 30.0, 25.0)
    assert out.shape[1] == 6  # floor(6·25/30) + 1
    torch.testing.assert_close(out[0, :, 0, 0, 0], torch.tensor([0.0, 1.2, 2.4, 3.6, 4.8, 6.0]))
    video = video.clone().requires_grad_(True)
    resample_time(video, 30.0, 25.0).sum().backward()
    assert video.grad is not None


def test_audiovisual_audio_must_match_video_length() -> None:
    torch.manual_seed(0)
    model = LipReader.from_preset("nano", "audiovisual", 6).eval()
    video = torch.zeros(1, 4, 1, 88, 88)
    with pytest.raises(ValueError, match="2560 samples"):
        model.encode(video, audio=torch.randn(1, 2000))
    with pytest.raises(ValueError, match="22050 Hz"):
        model.encode(video, audio=torch.randn(1, 2560), sample_rate=22050)
    with pytest.raises(ValueError, match="needs 16 kHz audio"):
        model.encode(video)
    enc = model.encode(video, audio=torch.randn(1, 2000), convert=True)
    assert enc.features.shape == (1, 4, model.config.adim)


def test_audio_model_frames_are_640_samples() -> None:
    torch.manual_seed(0)
    model = LipReader.from_preset("nano", "audio", 6).eval()
    enc = model.encode(audio=torch.randn(2, 640 * 7 + 100), audio_lengths=torch.tensor([640 * 7 + 100, 1300]))
    assert enc.features.shape[:2] == (2, 7)
    assert enc.lengths.tolist() == [7, 2]


def test_audio_layer_norm_over_valid_samples() -> None:
    spec = InputSpec()
    audio = torch.tensor([[1.0, 2.0, 3.0, 0.0], [4.0, 6.0, 0.0, 0.0]])
    out = spec.prepare_audio(audio, torch.tensor([3, 2]))
    # (x − mean) / sqrt(var + 1e-8) with the population variance of the valid samples.
    s1 = (2 / 3 + 1e-8) ** 0.5
    s2 = (1.0 + 1e-8) ** 0.5
    torch.testing.assert_close(out, torch.tensor([[-1 / s1, 0.0, 1 / s1, 0.0], [-1 / s2, 1 / s2, 0.0, 0.0]]))


@pytest.mark.parametrize("padded", [False, True])
def test_audio_layer_norm_eps_is_auto_avsrs_on_quiet_audio(padded: bool) -> None:
    """auto_avsr normalises with layer_norm(x, x.shape, eps=1e-8); at RMS 0.003 (var 9e-6) eps 1e-5 would
    shrink the output by sqrt(9e-6 / 1.9e-5) ~ 0.69."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(16000)
    x = 0.003 * (x - x.mean()) / x.std()  # RMS 0.003 exactly
    want = (x - x.mean()) / np.sqrt(x.var() + 1e-8)  # population variance, computed in float64
    assert np.abs(want - (x - x.mean()) / np.sqrt(x.var() + 1e-5)).max() > 0.5  # the eps matters here
    audio = torch.tensor(x, dtype=torch.float32)[None]
    if padded:
        audio = torch.cat([audio, torch.zeros(1, 640)], dim=1)
        out = InputSpec().prepare_audio(audio, torch.tensor([16000]))
        assert torch.equal(out[0, 16000:], torch.zeros(640))
        out = out[:, :16000]
    else:
        out = InputSpec().prepare_audio(audio)
    np.testing.assert_allclose(out[0].double().numpy(), want, rtol=1e-4, atol=1e-4)


def test_audio_norm_eps_is_recorded_and_older_dicts_keep_theirs() -> None:
    # a spec with the official floor records it; a dict written before the key existed (the readers this
    # package trained then, with torch.nn.LayerNorm's 1e-5) reads back with 1e-5, so it hears its audio as
    # it was trained, and writes back byte-for-byte the same dict
    official = InputSpec()
    assert official.audio_norm_eps == 1e-8
    assert InputSpec.from_dict(official.to_dict()) == official
    old = {k: v for k, v in official.to_dict().items() if k != "audio_norm_eps"}
    legacy = InputSpec.from_dict(old)
    assert legacy.audio_norm_eps == 1e-5 and legacy.to_dict() == old
    x = torch.tensor([[0.001, -0.002, 0.003, 0.0]], dtype=torch.float64)
    mean, var = x.mean(), x.var(unbiased=False)
    torch.testing.assert_close(legacy.prepare_audio(x), (x - mean) / torch.sqrt(var + 1e-5))
    torch.testing.assert_close(official.prepare_audio(x), (x - mean) / torch.sqrt(var + 1e-8))
