"""CodeTalker stage 2: official layouts, the two-file checkpoint, training and inference behaviour."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import ClassVar

import pytest
import torch
import torch.nn.functional as F

from facial_animator import Animator, AnimatorInput, get_animator
from facial_animator.checkpoint_io import CheckpointError
from facial_animator.codetalker import CodeTalker, VQAutoEncoder, VQConfig, stage1_loss
from facial_animator.codetalker.checkpoints import load_stage1_state
from facial_animator.testing import AnimatorConformance, synthetic_sequence


@pytest.fixture(autouse=True)
def _one_thread():
    # tiny models: one intra-op thread avoids oversubscription on a shared machine
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


# Written from the reference tables (baselines.md §2.2 and §3.3), independently of the model code.
def wav2vec2_keys() -> dict[str, tuple[int, ...]]:
    """``audio_encoder.*`` keys of the official checkpoints (base-960h), legacy weight-norm naming."""
    p = "audio_encoder."
    keys: dict[str, tuple[int, ...]] = {
        p + "masked_spec_embed": (768,),
        p + "feature_extractor.conv_layers.0.conv.weight": (512, 1, 10),
        p + "feature_extractor.conv_layers.0.layer_norm.weight": (512,),
        p + "feature_extractor.conv_layers.0.layer_norm.bias": (512,),
        p + "feature_projection.layer_norm.weight": (512,),
        p + "feature_projection.layer_norm.bias": (512,),
        p + "feature_projection.projection.weight": (768, 512),
        p + "feature_projection.projection.bias": (768,),
        p + "encoder.pos_conv_embed.conv.bias": (768,),
        p + "encoder.pos_conv_embed.conv.weight_g": (1, 1, 128),
        p + "encoder.pos_conv_embed.conv.weight_v": (768, 48, 128),
        p + "encoder.layer_norm.weight": (768,),
        p + "encoder.layer_norm.bias": (768,),
    }
    for i in (1, 2, 3, 4):
        keys[p + f"feature_extractor.conv_layers.{i}.conv.weight"] = (512, 512, 3)
    for i in (5, 6):
        keys[p + f"feature_extractor.conv_layers.{i}.conv.weight"] = (512, 512, 2)
    for i in range(12):
        q = p + f"encoder.layers.{i}."
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            keys[q + f"attention.{proj}.weight"] = (768, 768)
            keys[q + f"attention.{proj}.bias"] = (768,)
        for norm in ("layer_norm", "final_layer_norm"):
            keys[q + f"{norm}.weight"] = (768,)
            keys[q + f"{norm}.bias"] = (768,)
        keys[q + "feed_forward.intermediate_dense.weight"] = (3072, 768)
        keys[q + "feed_forward.intermediate_dense.bias"] = (3072,)
        keys[q + "feed_forward.output_dense.weight"] = (768, 3072)
        keys[q + "feed_forward.output_dense.bias"] = (768,)
    return keys


def stage2_keys(dataset: str) -> dict[str, tuple[int, ...]]:
    """Keys of a saved stage-2 file (every ``autoencoder.*`` key removed)."""
    v3, layers, subjects, pe_len = {"vocaset": (15069, 6, 8, 630), "biwi": (70110, 12, 6, 625)}[dataset]
    keys = wav2vec2_keys()
    keys.update(
        {
            "audio_feature_map.weight": (1024, 768),
            "audio_feature_map.bias": (1024,),
            "vertice_map.weight": (1024, v3),
            "vertice_map.bias": (1024,),
            "PPE.pe": (1, pe_len, 1024),
            "feat_map.weight": (1024, 1024),
            "learnable_style_emb.weight": (subjects, 1024),
        }
    )
    for i in range(layers):
        q = f"transformer_decoder.layers.{i}."
        for att in ("self_attn", "multihead_attn"):
            keys[q + f"{att}.in_proj_weight"] = (3072, 1024)
            keys[q + f"{att}.in_proj_bias"] = (3072,)
            keys[q + f"{att}.out_proj.weight"] = (1024, 1024)
            keys[q + f"{att}.out_proj.bias"] = (1024,)
        keys[q + "linear1.weight"] = (2048, 1024)
        keys[q + "linear1.bias"] = (2048,)
        keys[q + "linear2.weight"] = (1024, 2048)
        keys[q + "linear2.bias"] = (1024,)
        for n in (1, 2, 3):
            keys[q + f"norm{n}.weight"] = (1024,)
            keys[q + f"norm{n}.bias"] = (1024,)
    return keys


TINY_VQ = VQConfig(
    in_dim=30,
    face_quan_num=4,
    zquant_dim=8,
    hidden_size=32,
    num_hidden_layers=1,
    num_attention_heads=4,
    intermediate_size=48,
    n_embed=32,
    dropout=0.0,
)


def tiny_codetalker(**kw: object) -> CodeTalker:
    args: dict[str, object] = dict(
        num_vertices=10,
        vq_config=TINY_VQ,
        feature_dim=32,
        num_layers=2,
        num_styles=3,
        ffn_dim=64,
        audio_encoder="logmel",
        audio_encoder_kwargs={"output_dim": 16},
    )
    args.update(kw)
    return CodeTalker(**args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("dataset", "n_keys", "n_stage1", "trainable_m"),
    [("vocaset", 326, 147, 183.0), ("biwi", 434, 150, 315.0)],
)
def test_official_stage2_layout(dataset: str, n_keys: int, n_stage1: int, trainable_m: float) -> None:
    with torch.device("meta"):
        model = CodeTalker(dataset)
    expected = stage2_keys(dataset)
    assert len(expected) == n_keys
    got = {k: tuple(v.shape) for k, v in model.stage2_state_dict().items()}
    assert sorted(got) == sorted(expected)
    assert got == expected
    full = model.state_dict()
    assert len([k for k in full if k.startswith("autoencoder.")]) == n_stage1
    assert len(full) == n_keys + n_stage1
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert round(trainable / 1e6, 1) == trainable_m
    assert model.feat_map.bias is None
    assert not any(p.requires_grad for p in model.autoencoder.parameters())


def test_registered_and_feat_map_zero_initialised() -> None:
    assert get_animator("codetalker") is CodeTalker
    model = tiny_codetalker()
    assert model.feat_map.bias is None and torch.count_nonzero(model.feat_map.weight) == 0
    model.train()
    assert model.training and not model.autoencoder.training


def _save(obj: dict, path: Path) -> Path:
    torch.save(obj, path)
    return path


def test_official_two_file_checkpoint_layout_loads(tmp_path: Path) -> None:
    torch.manual_seed(0)
    source = tiny_codetalker()
    torch.nn.init.normal_(source.feat_map.weight, std=0.2)
    s1 = _save({"state_dict": source.autoencoder.state_dict()}, tmp_path / "vocaset_stage1.pth.tar")
    s2 = _save({"state_dict": source.stage2_state_dict()}, tmp_path / "vocaset_stage2.pth.tar")
    raw2 = torch.load(s2, weights_only=True)["state_dict"]
    assert not any("autoencoder" in k for k in raw2)

    torch.manual_seed(1)
    model = tiny_codetalker()
    missing = model.load_official_checkpoints(s1, s2)
    assert sorted(missing) == sorted(f"autoencoder.{k}" for k in source.autoencoder.state_dict())
    for k, v in source.state_dict().items():
        assert torch.equal(model.state_dict()[k], v), k
    audio, tpl = torch.randn(1, 8000), torch.randn(1, 10, 3)
    torch.testing.assert_close(model.predict(audio, tpl, 2), source.predict(audio, tpl, 2))

    # problems are reported with the file name
    bad = dict(raw2)
    bad["extra.weight"] = torch.zeros(1)
    with pytest.raises(ValueError, match=r"stage2_extra.*unexpected keys \['extra.weight'\]"):
        model.load_official_checkpoints(s1, _save({"state_dict": bad}, tmp_path / "stage2_extra.pth.tar"))
    bad = {k: v for k, v in raw2.items() if k != "feat_map.weight"}
    with pytest.raises(ValueError, match=r"missing keys outside autoencoder.* \['feat_map.weight'\]"):
        model.load_official_checkpoints(s1, _save({"state_dict": bad}, tmp_path / "stage2_missing.pth.tar"))
    with pytest.raises(ValueError, match="learnable_style_emb: build the model with num_styles"):
        tiny_codetalker(num_styles=5).load_official_checkpoints(s1, s2)
    s1_bad = _save(
        {
            "state_dict": {
                k: v
                for k, v in torch.load(s1, weights_only=True)["state_dict"].items()
                if "quantize" not in k
            }
        },
        tmp_path / "stage1_bad.pth.tar",
    )
    with pytest.raises(ValueError, match=r"stage1_bad.*missing keys \['quantize.embedding.weight'\]"):
        model.load_official_checkpoints(s1_bad, s2)
    with pytest.raises(FileNotFoundError, match="not found"):
        model.load_stage1(tmp_path / "absent.pth.tar")


def _on_meta_but_audio_encoder(model: CodeTalker) -> CodeTalker:
    """Move every tensor to the meta device except the audio encoder's (the log-mel test encoder's
    filterbank is a non-persistent buffer, which no checkpoint holds)."""
    for name, child in model.named_children():
        if name != "audio_encoder":
            child.to_empty(device="meta")
    for name, p in list(model.named_parameters(recurse=False)):
        setattr(model, name, torch.nn.Parameter(torch.empty_like(p, device="meta"), p.requires_grad))
    return model


def test_meta_device_model_takes_the_checkpoint_tensors(tmp_path: Path) -> None:
    """Models built on the meta device must end with real tensors equal to the files' ones."""
    torch.manual_seed(0)
    source = tiny_codetalker()
    torch.nn.init.normal_(source.feat_map.weight, std=0.2)
    s1 = _save({"state_dict": source.autoencoder.state_dict()}, tmp_path / "vocaset_stage1.pth.tar")
    s2 = _save({"state_dict": source.stage2_state_dict()}, tmp_path / "vocaset_stage2.pth.tar")
    want = source.state_dict()

    with torch.device("meta"):
        vq = VQAutoEncoder(TINY_VQ)
    load_stage1_state(vq, torch.load(s1, weights_only=True)["state_dict"])
    for name, t in [*vq.named_parameters(), *vq.named_buffers()]:
        assert not t.is_meta, f"stage 1: {name} stayed on the meta device"
        assert torch.equal(t, want[f"autoencoder.{name}"]), name

    model = _on_meta_but_audio_encoder(tiny_codetalker())
    assert any(t.is_meta for t in model.state_dict().values())
    model.load_official_checkpoints(s1, s2)
    for name, t in [*model.named_parameters(), *model.named_buffers()]:
        assert not t.is_meta, f"{name} stayed on the meta device"
        if name in want:
            assert torch.equal(t, want[name]), name
    audio, tpl = torch.randn(1, 8000), torch.randn(1, 10, 3)
    torch.testing.assert_close(model.predict(audio, tpl, 2), source.predict(audio, tpl, 2))


def test_meta_device_model_missing_tensors_is_refused(tmp_path: Path) -> None:
    source = tiny_codetalker()
    s1 = _save({"state_dict": source.autoencoder.state_dict()}, tmp_path / "vocaset_stage1.pth.tar")
    partial = {k: v for k, v in source.stage2_state_dict().items() if not k.startswith("feat_map")}
    s2 = _save({"state_dict": partial}, tmp_path / "vocaset_stage2.pth.tar")
    model = _on_meta_but_audio_encoder(tiny_codetalker())
    with pytest.raises(CheckpointError, match=r"built on the meta device .*feat_map\.weight"):
        model.load_official_checkpoints(s1, s2)


@pytest.mark.parametrize(("mode", "fps"), [("interpolate", 30.0), ("pair", 25.0)])
def test_cached_predict_equals_official_full_prefix_loop(mode: str, fps: float) -> None:
    torch.manual_seed(0)
    model = tiny_codetalker(frame_rate_mode=mode, fps=fps, period=25 if mode == "pair" else 30).eval()
    torch.nn.init.normal_(model.feat_map.weight, std=0.3)
    audio, tpl = torch.randn(2, 12000), torch.randn(2, 10, 3)
    style = torch.tensor([0, 2])
    official = model.predict(audio, tpl, style, use_cache=False)
    fast = model.predict(audio, tpl, style)
    assert official.shape == fast.shape and official.shape[1] > 15
    assert (fast - official).abs().max().item() <= 1e-5


def test_inference_has_no_600_frame_cap() -> None:
    torch.manual_seed(0)
    model = tiny_codetalker(num_layers=1).eval()
    torch.nn.init.normal_(model.feat_map.weight, std=0.3)
    audio = torch.randn(1, 16000 * 21)  # 21 s → 1049 CNN frames → int(1049/50·30) = 629 frames > 600
    out = model.predict(audio, torch.zeros(1, 10, 3), 0)
    assert out.shape == (1, 629, 10, 3) and torch.isfinite(out).all()


def test_training_losses_and_gradients() -> None:
    torch.manual_seed(0)
    model = tiny_codetalker().train()
    tpl = torch.randn(1, 10, 3)
    target = tpl.unsqueeze(1) + 0.1 * torch.randn(1, 9, 10, 3)
    batch = AnimatorInput(audio=torch.randn(1, 5000), template=tpl, style=torch.tensor([1]), target=target)
    out = model(batch)
    assert set(out.losses) == {"mse", "feature_reg"}
    # zero-initialised feat_map: every feature token is 0 → the nearest code to the origin everywhere
    codebook = model.autoencoder.quantize.embedding.weight
    k0 = int(codebook.pow(2).sum(1).argmin())
    const = model.autoencoder.decode_indices(torch.full((1, 9 * 4), k0)) + tpl.reshape(1, 1, 30)
    torch.testing.assert_close(out.vertices.reshape(1, 9, 30), const)
    torch.testing.assert_close(out.losses["mse"], F.mse_loss(const, target.reshape(1, 9, 30)))
    gt = model.autoencoder.quantize.embedding.weight[
        model.autoencoder.encode(target.reshape(1, 9, 30) - tpl.reshape(1, 1, 30)).indices
    ]
    torch.testing.assert_close(out.losses["feature_reg"], gt.pow(2).mean())
    out.loss.backward()
    assert model.feat_map.weight.grad is not None and model.feat_map.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.autoencoder.parameters())


def test_biwi_rule_truncates_target_to_audio() -> None:
    model = tiny_codetalker(frame_rate_mode="pair", fps=25.0, period=25)
    tpl = torch.zeros(1, 10, 3)
    # 8000 samples → 24 CNN frames → 12 motion frames; a 20-frame target is cut to 12
    batch = AnimatorInput(
        audio=torch.randn(1, 8000), template=tpl, style=torch.tensor([0]), target=torch.randn(1, 20, 10, 3)
    )
    out = model(batch)
    assert out.vertices.shape == (1, 12, 10, 3) and out.target is not None and out.target.shape[1] == 12


def test_codetalker_overfits_one_sequence() -> None:
    """Stage 1 then stage 2 on one synthetic sequence: the stage-2 training loss falls by ≥ 100×."""
    torch.manual_seed(0)
    model = tiny_codetalker(dropout=0.0, num_layers=1)
    frames = 12
    tpl = 0.1 * torch.randn(1, 10, 3)
    phase = torch.linspace(0, 2 * math.pi, frames).view(1, frames, 1, 1)
    target = tpl.unsqueeze(1) + 0.05 * torch.sin(phase + torch.arange(30.0).view(1, 1, 10, 3))
    # stage 1 (trained here, then frozen again)
    vq = model.autoencoder
    vq.requires_grad_(True).train()
    opt = torch.optim.AdamW(vq.parameters(), lr=2e-3)
    for _ in range(400):
        loss, _ = stage1_loss(vq(target, tpl), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    vq.requires_grad_(False)
    # stage 2: audio is 16 kHz noise of the right length (12 frames at 30 fps = 0.4 s)
    audio = torch.randn(1, 6720)
    batch = AnimatorInput(audio=audio, template=tpl, style=torch.tensor([0]), target=target)
    model.train()
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    losses = []
    for _ in range(300):
        out = model(batch)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        losses.append(out.loss.item())
    assert losses[-1] <= losses[0] / 100, (losses[0], losses[-1])


def test_real_speech_frame_counts(shared_fixtures: Path) -> None:
    import soundfile as sf
    from scipy.signal import resample_poly

    wav, sr = sf.read(shared_fixtures / "speech" / "faceformer_demo.wav", dtype="float32", always_2d=True)
    assert sr == 44100
    audio = torch.from_numpy(resample_poly(wav.mean(1), 160, 441).astype("float32"))[None]
    length = audio.shape[1]
    for k, s in zip((10, 3, 3, 3, 3, 2, 2), (5, 2, 2, 2, 2, 2, 2)):
        length = (length - k) // s + 1
    model = tiny_codetalker(
        num_layers=1, audio_encoder="wav2vec2", audio_encoder_kwargs={"config": tiny_w2v()}
    )
    out = model.eval().predict(audio, torch.zeros(1, 10, 3), 0)
    assert out.shape[1] == int(length / 50 * 30)  # VOCASET rule: int(L / 50 · 30)
    biwi = tiny_codetalker(
        num_layers=1,
        frame_rate_mode="pair",
        fps=25.0,
        period=25,
        audio_encoder="wav2vec2",
        audio_encoder_kwargs={"config": tiny_w2v()},
    )
    assert biwi.eval().predict(audio, torch.zeros(1, 10, 3), 0).shape[1] == length // 2  # BIWI: 2 per frame


def tiny_w2v():
    from transformers import Wav2Vec2Config

    # the base CNN geometry (kernels/strides) with narrow channels and one small transformer layer
    return Wav2Vec2Config(
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        conv_dim=(16,) * 7,
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
    )


class TestCodeTalkerConformance(AnimatorConformance):
    animator_name = "codetalker"
    config: ClassVar[dict[str, object]] = {
        "num_vertices": 10,
        "vq_config": TINY_VQ,
        "feature_dim": 32,
        "num_layers": 1,
        "num_styles": 2,
        "ffn_dim": 64,
        "audio_encoder": "logmel",
        "audio_encoder_kwargs": {"output_dim": 16},
        "dropout": 0.0,
    }
    num_vertices = 10
    num_styles = 2
    fps = 30.0
    # the synthetic presets' motion VQ works in millimetres (vq.motion_scale 1e-3)
    metric_config: ClassVar[dict[str, object]] = {
        **config, "vq_config": dataclasses.replace(TINY_VQ, motion_scale=1e-3)
    }
    _stage1: ClassVar[dict[str, torch.Tensor] | None] = None

    def make_animator(self, seed: int = 0) -> Animator:
        """Stage 2 presupposes a trained stage 1: fit the tiny VQ-autoencoder to the kit's sequence once."""
        model = super().make_animator(seed)
        cls = type(self)
        if cls._stage1 is None:
            torch.manual_seed(0)
            vq = VQAutoEncoder(TINY_VQ)
            _, template, target = synthetic_sequence(self.num_vertices, self.num_frames, self.num_samples)
            opt = torch.optim.AdamW(vq.parameters(), lr=2e-3)
            for _ in range(150):
                loss, _ = stage1_loss(vq(target, template), target)
                opt.zero_grad()
                loss.backward()
                opt.step()
            cls._stage1 = vq.state_dict()
        model.autoencoder.load_state_dict(cls._stage1)
        return model


def test_style_interpolation_like_the_official_predict() -> None:
    torch.manual_seed(0)
    model = tiny_codetalker(num_layers=1).eval()
    torch.nn.init.normal_(model.feat_map.weight, std=0.3)
    audio, tpl = torch.randn(1, 6000), torch.randn(1, 10, 3)
    a, b = model.predict(audio, tpl, 0), model.predict(audio, tpl, 2)
    torch.testing.assert_close(model.predict(audio, tpl, 0, style2=2, style_weight=1.0), a)
    torch.testing.assert_close(model.predict(audio, tpl, 0, style2=2, style_weight=0.0), b)
    with pytest.raises(ValueError, match="both style2 and style_weight"):
        model.predict(audio, tpl, 0, style2=2)
