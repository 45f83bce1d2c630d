"""FaceFormer behaviour: cached vs official autoregressive decoding, long inputs, training regimes."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
import torch

from facial_animator import AnimatorInput
from facial_animator.blocks import periodic_causal_bias
from facial_animator.losses import PhoneticContextAwareLoss
from facial_animator.models.faceformer import FaceFormer
from facial_animator.testing import AnimatorConformance, synthetic_sequence


def tiny(dataset: str = "vocaset", **kw) -> FaceFormer:
    cfg = dict(num_vertices=12, feature_dim=16, num_styles=3, audio_encoder="logmel",
               audio_encoder_kwargs={"output_dim": 16, "n_mels": 20})
    cfg.update(kw)
    return FaceFormer(dataset, **cfg)


def randomise_output(model: FaceFormer, std: float = 0.05) -> None:
    with torch.no_grad():
        model.vertice_map_r.weight.normal_(0, std)
        model.vertice_map_r.bias.normal_(0, std)


@pytest.mark.parametrize("dataset", ["vocaset", "biwi"])
def test_cached_predict_equals_official_full_prefix(dataset):
    torch.manual_seed(0)
    model = tiny(dataset).eval()
    randomise_output(model, 0.2)
    audio = torch.randn(2, int(2.1 * 16000))
    template = torch.randn(2, 12, 3)
    style = torch.tensor([0, 2])
    cached = model.predict(audio, template, style)
    official = model.predict(audio, template, style, use_cache=False)
    assert cached.shape == official.shape and cached.shape[1] >= 50
    assert (cached - official).abs().max() <= 1e-5
    assert (cached[0] - cached[1]).abs().max() > 1e-3  # styles matter


@pytest.mark.parametrize(("dataset", "num_vertices", "d"), [("vocaset", 5023, 64), ("biwi", 23370, 128)])
def test_cached_decoding_equals_full_prefix_at_official_sizes(dataset, num_vertices, d):
    torch.manual_seed(0)
    model = tiny(dataset, num_vertices=num_vertices, feature_dim=d, num_styles=2).eval()
    randomise_output(model, 0.02)
    frames = 40
    memory = torch.randn(1, frames * model.audio_frames_per_motion_frame, d)
    style = model.style_embedding(torch.tensor([1]))
    with torch.no_grad():
        cached = model.decode_cached(memory, style, frames)
        official = model.decode_full_prefix(memory, style, frames)
    assert (cached - official).abs().max() <= 1e-5


def test_1200_frames_work_and_match_a_single_full_pass():
    torch.manual_seed(0)
    model = tiny("vocaset").eval()
    randomise_output(model)
    audio = torch.randn(1, 40 * 16000 + 400)  # 40 s → 1200 frames at 30 fps (twice the official cap)
    pred = model.predict(audio, torch.zeros(1, 12, 3), 1)
    assert pred.shape == (1, 1200, 12, 3) and torch.isfinite(pred).all()
    # one causal pass over the whole sequence, fed with the cached outputs, gives the same outputs
    with torch.no_grad():
        memory = model.encode_audio(audio)
        style = model.style_embedding(torch.tensor([1])).unsqueeze(1)
        offsets = pred.reshape(1, 1200, -1)
        tokens = torch.cat([style, model.vertice_map(offsets[:, :-1]) + style], dim=1)
        full = model.vertice_map_r(model._decode(model.PPE(tokens), memory))
    assert (full - offsets).abs().max() <= 1e-5
    # the bias really extends past 600 frames: row 1199 reaches 39 periods back
    assert float(periodic_causal_bias(4, 1200, 30)[0, 1199, 0]) == -0.25 * 39


def test_official_630_ppe_checkpoint_then_long_predict(tmp_path):
    torch.manual_seed(0)
    source = tiny("vocaset", feature_dim=64)
    assert source.PPE.pe.shape == (1, 630, 64)
    torch.save(source.state_dict(), tmp_path / "ckpt.pth")
    model = tiny("vocaset", feature_dim=64, max_seq_len=2000)
    model.load_official_checkpoint(tmp_path / "ckpt.pth")
    assert model.PPE.pe.shape == (1, 630, 64)
    pred = model.predict(torch.randn(1, 22 * 16000), torch.zeros(1, 12, 3), 0)
    assert pred.shape[1] == int(((22 * 16000 - 400) // 320 + 1) / 50 * 30) > 630


def test_teacher_forcing_first_token_carries_vertice_map_bias():
    """Official quirk: TF inputs start with vertice_map(0) + style, AR inputs with style alone."""
    torch.manual_seed(0)
    model = tiny("vocaset").eval()
    randomise_output(model)
    audio, template = torch.randn(1, 16000), torch.randn(1, 12, 3)
    ar = model.predict(audio, template, 0)
    model.teacher_forcing = True
    batch = AnimatorInput(audio, template, torch.tensor([0]), target=ar)
    with torch.no_grad():
        tf_with_bias = model(batch).vertices
        assert (tf_with_bias - ar).abs().max() > 1e-4
        model.vertice_map.bias.zero_()  # then the first tokens agree and TF on the AR output reproduces it
        ar0 = model.predict(audio, template, 0)
        tf0 = model(AnimatorInput(audio, template, torch.tensor([0]), target=ar0)).vertices
    assert (tf0 - ar0).abs().max() <= 1e-5


def test_biwi_truncates_ground_truth_to_audio():
    model = tiny("biwi").eval()
    audio = torch.randn(1, 16000)  # 49 CNN frames → 48 → 24 motion frames
    target = torch.randn(1, 30, 12, 3)
    out = model(AnimatorInput(audio, torch.zeros(1, 12, 3), torch.tensor([0]), target=target))
    assert out.vertices.shape[1] == 24 and out.target.shape[1] == 24
    assert torch.equal(out.target, target[:, :24])


@pytest.mark.parametrize("teacher_forcing", [False, True])
def test_overfits_one_sequence(teacher_forcing):
    torch.manual_seed(0)
    model = tiny("vocaset", dropout=0.0, teacher_forcing=teacher_forcing, num_vertices=8)
    audio, template, target = synthetic_sequence(8, 8, 5000, seed=3)  # 8 frames at 30 fps
    batch = AnimatorInput(audio, template, torch.tensor([1]), target=target)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    first = None
    for _ in range(40):
        loss = model(batch).losses["mse"]
        first = float(loss.detach()) if first is None else first
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    final = float(model(batch).losses["mse"])
    assert final < first / 100, (first, final)


class TestFaceFormerVocasetConformance(AnimatorConformance):
    animator_name = "faceformer"
    config: ClassVar[dict[str, Any]] = dict(
        dataset="vocaset", num_vertices=10, feature_dim=16, num_styles=2, audio_encoder="logmel",
        audio_encoder_kwargs={"output_dim": 16, "n_mels": 20},
    )
    num_vertices = 10
    num_styles = 2
    fps = 30.0
    batch_size = 2
    seconds = 0.5
    metric_config: ClassVar[dict[str, Any]] = {**config, "motion_scale": 1e-3}  # the synthetic presets


class TestFaceFormerBiwiConformance(AnimatorConformance):
    animator_name = "faceformer"
    config: ClassVar[dict[str, Any]] = dict(
        dataset="biwi", num_vertices=10, feature_dim=16, num_styles=3, audio_encoder="logmel",
        audio_encoder_kwargs={"output_dim": 16, "n_mels": 20}, teacher_forcing=True,
    )
    num_vertices = 10
    num_styles = 3
    fps = 25.0
    seconds = 0.5
    metric_config: ClassVar[dict[str, Any]] = {**config, "motion_scale": 1e-3}


def test_phonetic_context_loss_replaces_mse():
    torch.manual_seed(0)
    model = tiny("vocaset", reconstruction_loss="phonetic_context", phonetic_temperature=0.5,
                 teacher_forcing=True).eval()
    randomise_output(model)
    audio, template, target = synthetic_sequence(12, 20, 11000, seed=1)
    with torch.no_grad():
        out = model(AnimatorInput(audio, template, torch.tensor([0]), target=target))
    assert set(out.losses) == {"phonetic_context"}
    expected = PhoneticContextAwareLoss(5, temperature=0.5)(out.vertices, target)
    torch.testing.assert_close(out.losses["phonetic_context"], expected)
    with pytest.raises(ValueError, match="reconstruction_loss"):
        tiny("vocaset", reconstruction_loss="l1")
