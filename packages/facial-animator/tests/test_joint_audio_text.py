"""Joint audio-text animator: text conditioning, cached decoding, overfitting, conformance."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, ClassVar

import pytest
import torch

from facial_animator import AnimatorInput, get_animator
from facial_animator.models.joint_audio_text import JointAudioTextAnimator
from facial_animator.testing import AnimatorConformance


@pytest.fixture(autouse=True)
def _one_thread():
    # tiny models: one intra-op thread avoids oversubscription on a shared machine
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


TINY = {
    "num_vertices": 10,
    "feature_dim": 32,
    "num_styles": 2,
    "audio_encoder": "logmel",
    "audio_encoder_kwargs": {"output_dim": 16},
}
TEXT = "place blue at four now"
WORDS = [
    ("sil", 0.0, 0.1),
    ("place", 0.1, 0.3),
    ("blue", 0.3, 0.5),
    ("at", 0.5, 0.6),
    ("four", 0.6, 0.8),
    ("now", 0.8, 0.9),
]


def tiny(**kw: object) -> JointAudioTextAnimator:
    args = dict(TINY)
    args.update(kw)
    return JointAudioTextAnimator(**args)  # type: ignore[arg-type]


def test_registered_text_model_outside_state_dict() -> None:
    assert get_animator("joint_audio_text") is JointAudioTextAnimator
    model = tiny()
    assert JointAudioTextAnimator.requires_text
    assert model.text_encoder.dim == 384  # MiniLM-L6 by default
    assert not any(k.startswith("text_encoder") for k in model.state_dict())
    assert model.text_feature_map.in_features == 384
    with pytest.raises(ValueError, match=r"needs AnimatorInput\.transcript"):
        model(AnimatorInput(torch.randn(1, 8000), torch.zeros(1, 10, 3), torch.tensor([0])))


@pytest.mark.parametrize(("mode", "fps", "period"), [("interpolate", 30.0, 30), ("pair", 25.0, 25)])
def test_cached_predict_equals_full_prefix(mode: str, fps: float, period: int) -> None:
    torch.manual_seed(0)
    model = tiny(frame_rate_mode=mode, fps=fps, period=period, num_layers=2).eval()
    torch.nn.init.normal_(model.vertice_map_r.weight, std=0.1)
    audio, tpl = torch.randn(2, 16000), torch.randn(2, 10, 3)
    kw = {"transcript": [TEXT, "set green by seven please"], "words": [WORDS, []]}
    full = model.predict(audio, tpl, torch.tensor([0, 1]), use_cache=False, **kw)
    fast = model.predict(audio, tpl, torch.tensor([0, 1]), **kw)
    assert full.shape == fast.shape and full.shape[1] > 20
    assert (full - fast).abs().max().item() <= 1e-5


def test_words_reach_only_their_frames() -> None:
    torch.manual_seed(0)
    model = tiny().eval()
    audio = torch.randn(1, 16000)
    timing_a = [("place", 0.2, 0.5)]
    timing_b = [("seven", 0.2, 0.5)]
    with torch.no_grad():
        mem_a = model.memory(audio, ["place"], [timing_a], 30)
        mem_b = model.memory(audio, ["seven"], [timing_b], 30)
    spoken = (torch.arange(30) / 30.0 >= 0.2) & (torch.arange(30) / 30.0 < 0.5)  # frames 6..14
    assert spoken.sum() == 9
    diff = (mem_a - mem_b).abs().amax(-1)[0]
    assert (diff[spoken] > 1e-4).all()
    assert (diff[~spoken] == 0).all()  # pauses see the learned no-word vector whatever the text


def test_transcript_changes_the_animation() -> None:
    torch.manual_seed(0)
    model = tiny().eval()
    torch.nn.init.normal_(model.vertice_map_r.weight, std=0.1)
    audio, tpl = torch.randn(1, 12000), torch.randn(1, 10, 3)
    a = model.predict(audio, tpl, 0, transcript=TEXT)
    b = model.predict(audio, tpl, 0, transcript="bin red with one again")
    assert (a - b).abs().max() > 1e-4


def test_joint_model_overfits_one_sequence() -> None:
    torch.manual_seed(0)
    model = tiny(dropout=0.0).train()
    frames = 27
    tpl = 0.1 * torch.randn(1, 10, 3)
    phase = torch.linspace(0, 2 * math.pi, frames).view(1, frames, 1, 1)
    target = tpl.unsqueeze(1) + 0.05 * torch.sin(phase + torch.arange(30.0).view(1, 1, 10, 3))
    batch = AnimatorInput(
        torch.randn(1, 15000), tpl, torch.tensor([1]), target, transcript=[TEXT], words=[WORDS]
    )
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    losses = []
    for _ in range(250):
        loss = model(batch).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] <= losses[0] / 100, (losses[0], losses[-1])


def _tiny_gpt2(folder: Path) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2Model, PreTrainedTokenizerFast

    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=280, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tk.train_from_iterator([TEXT, "set green by seven please"] * 10, trainer)
    PreTrainedTokenizerFast(tokenizer_object=tk, model_max_length=64).save_pretrained(folder)
    cfg = GPT2Config(vocab_size=tk.get_vocab_size(), n_positions=64, n_embd=24, n_layer=1, n_head=2)
    GPT2Model(cfg).save_pretrained(folder)
    return folder


def test_local_gpt2_by_path(tmp_path: Path) -> None:
    model = tiny(text_model_path=_tiny_gpt2(tmp_path / "gpt2"))
    assert model.text_feature_map.in_features == 24
    out = model(
        AnimatorInput(
            torch.randn(1, 8000),
            torch.zeros(1, 10, 3),
            torch.tensor([0]),
            torch.zeros(1, 10, 10, 3),
            transcript=[TEXT],
        )
    )
    assert out.vertices.shape == (1, 10, 10, 3) and torch.isfinite(out.loss)


def test_real_speech_frame_counts(shared_fixtures: Path) -> None:
    import soundfile as sf
    from scipy.signal import resample_poly
    from transformers import Wav2Vec2Config

    wav, sr = sf.read(shared_fixtures / "speech" / "codetalker_demo_man.wav", dtype="float32", always_2d=True)
    assert sr == 44100 and wav.shape[1] == 2  # stereo: mixed to mono as the loaders do
    audio = torch.from_numpy(resample_poly(wav.mean(1), 160, 441).astype("float32"))[None]
    length = audio.shape[1]
    for k, s in zip((10, 3, 3, 3, 3, 2, 2), (5, 2, 2, 2, 2, 2, 2)):
        length = (length - k) // s + 1
    w2v = Wav2Vec2Config(
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        conv_dim=(16,) * 7,
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
    )
    model = tiny(audio_encoder="wav2vec2", audio_encoder_kwargs={"config": w2v}).eval()
    # the transcript is not that of the recording: this checks the plumbing and frame counts only
    out = model.predict(audio, torch.zeros(1, 10, 3), 0, transcript="a sentence spread over the whole clip")
    assert out.shape == (1, int(length / 50 * 30), 10, 3) and torch.isfinite(out).all()


class TestJointAudioTextConformance(AnimatorConformance):
    animator_name = "joint_audio_text"
    config = TINY
    metric_config: ClassVar[dict[str, Any]] = {**TINY, "motion_scale": 1e-3}  # the synthetic presets' unit
    num_vertices = 10
    num_styles = 2
    fps = 30.0


def test_autoregressive_training_path() -> None:
    torch.manual_seed(0)
    model = tiny(teacher_forcing=False, dropout=0.0).train()
    torch.nn.init.normal_(model.vertice_map_r.weight, std=0.1)
    batch = AnimatorInput(
        torch.randn(1, 6000),
        torch.zeros(1, 10, 3),
        torch.tensor([0]),
        torch.randn(1, 8, 10, 3),
        transcript=[TEXT],
    )
    out = model(batch)
    # in training mode without teacher forcing the prediction is the full-prefix recurrence
    with torch.no_grad():
        memory = model.memory(batch.audio, [TEXT], None, 8)
        ref = model.decode_full_prefix(memory, model.style_embedding(torch.tensor([0])), 8)
    torch.testing.assert_close(out.vertices.reshape(1, 8, 30), ref)
    out.loss.backward()
    assert model.vertice_map.weight.grad is not None and model.vertice_map.weight.grad.abs().sum() > 0
