"""CodeTalker stage 1: official key layout, sizes and the behaviours that change numbers."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from facial_animator.codetalker import VectorQuantizer, VQAutoEncoder, VQConfig, stage1_loss
from facial_animator.codetalker.layers import FeedForward, PositionalEncoding, SelfAttention


@pytest.fixture(autouse=True)
def _one_thread():
    # tiny models: one intra-op thread avoids oversubscription on a shared machine
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


# Written from the reference table (baselines.md §3.3), independently of the model code.
def stage1_keys(dataset: str) -> dict[str, tuple[int, ...]]:
    v3, c = {"vocaset": (15069, 64), "biwi": (70110, 128)}[dataset]
    keys: dict[str, tuple[int, ...]] = {
        "encoder.vertice_mapping.0.weight": (1024, v3),
        "encoder.vertice_mapping.0.bias": (1024,),
        "encoder.squasher.0.0.weight": (1024, 1024, 5),
        "encoder.squasher.0.0.bias": (1024,),
        "encoder.encoder_linear_embedding.net.weight": (1024, 1024),
        "encoder.encoder_linear_embedding.net.bias": (1024,),
        "encoder.encoder_pos_embedding.pe": (5000, 1, 1024),
        "decoder.expander.0.0.weight": (1024, 1024, 5),
        "decoder.expander.0.0.bias": (1024,),
        "decoder.decoder_linear_embedding.net.weight": (1024, 1024),
        "decoder.decoder_linear_embedding.net.bias": (1024,),
        "decoder.decoder_pos_embedding.pe": (5000, 1, 1024),
        "decoder.vertice_map_reverse.weight": (v3, 1024),
        "quantize.embedding.weight": (256, c),
    }
    for x in ("encoder.encoder_transformer", "decoder.decoder_transformer"):
        for k in (0, 2, 4, 6, 8, 10):
            keys[f"{x}.net.{k}.fn.norm.weight"] = (1024,)
            keys[f"{x}.net.{k}.fn.norm.bias"] = (1024,)
            keys[f"{x}.net.{k}.fn.fn.to_qkv.weight"] = (3072, 1024)
            keys[f"{x}.net.{k}.fn.fn.to_out.weight"] = (1024, 1024)
            keys[f"{x}.net.{k}.fn.fn.to_out.bias"] = (1024,)
        for k in (1, 3, 5, 7, 9, 11):
            keys[f"{x}.net.{k}.fn.norm.weight"] = (1024,)
            keys[f"{x}.net.{k}.fn.norm.bias"] = (1024,)
            keys[f"{x}.net.{k}.fn.fn.l1.weight"] = (1536, 1024)
            keys[f"{x}.net.{k}.fn.fn.l1.bias"] = (1536,)
            keys[f"{x}.net.{k}.fn.fn.l2.weight"] = (1024, 1536)
            keys[f"{x}.net.{k}.fn.fn.l2.bias"] = (1024,)
    if dataset == "vocaset":
        keys["decoder.vertice_map_reverse.bias"] = (15069,)
    else:
        keys["encoder.encoder_linear_embedding_post.net.weight"] = (1024, 1024)
        keys["encoder.encoder_linear_embedding_post.net.bias"] = (1024,)
        keys["decoder.decoder_linear_embedding_pre.net.weight"] = (1024, 1024)
        keys["decoder.decoder_linear_embedding_pre.net.bias"] = (1024,)
    return keys


def tiny_cfg(**kw: object) -> VQConfig:
    base = dict(
        in_dim=30,
        face_quan_num=4,
        zquant_dim=8,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=4,
        intermediate_size=48,
        n_embed=16,
    )
    base.update(kw)
    return VQConfig(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(("dataset", "n_keys", "params_m"), [("vocaset", 147, 131.7), ("biwi", 150, 246.5)])
def test_official_stage1_layout(dataset: str, n_keys: int, params_m: float) -> None:
    cfg = VQConfig.vocaset() if dataset == "vocaset" else VQConfig.biwi()
    with torch.device("meta"):
        model = VQAutoEncoder(cfg)
    expected = stage1_keys(dataset)
    assert len(expected) == n_keys
    got = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert sorted(got) == sorted(expected)
    assert got == expected
    n_params = sum(p.numel() for p in model.parameters())
    assert round(n_params / 1e6, 1) == params_m


def test_constant_positional_vector_bug_and_fix() -> None:
    pe = PositionalEncoding(6, dropout=0.0, max_len=50).eval()
    x = torch.zeros(1, 4, 6)
    # official: every token gets pe[0] = [sin 0, cos 0, ...] = [0, 1, 0, 1, 0, 1]
    expected_const = torch.tensor([0.0, 1.0, 0.0, 1.0, 0.0, 1.0]).expand(4, 6)
    torch.testing.assert_close(pe(x)[0], expected_const)
    pe.mode = "sinusoidal"
    out = pe(x)[0]
    for t in range(4):
        for i in range(3):
            freq = 10000.0 ** (-(2 * i) / 6)
            assert out[t, 2 * i].item() == pytest.approx(math.sin(t * freq), abs=1e-6)
            assert out[t, 2 * i + 1].item() == pytest.approx(math.cos(t * freq), abs=1e-6)
    with pytest.raises(ValueError, match="positional table"):
        pe(torch.zeros(1, 51, 6))


def _reference_attention(att: SelfAttention, x: torch.Tensor, heads: int, scale: float) -> torch.Tensor:
    b, n, d = x.shape
    w = att.to_qkv.weight  # rows laid out (qkv, head, head_dim)
    qkv = x @ w.t()
    q, k, v = qkv[..., :d], qkv[..., d : 2 * d], qkv[..., 2 * d :]

    def split(t: torch.Tensor) -> torch.Tensor:
        return t.view(b, n, heads, d // heads).transpose(1, 2)

    logits = split(q) @ split(k).transpose(-1, -2) * scale
    out = torch.softmax(logits, -1) @ split(v)
    return att.to_out(out.transpose(1, 2).reshape(b, n, d))


@pytest.mark.parametrize(("mode", "scale"), [("hidden", 32**-0.5), ("head", 8**-0.5)])
def test_attention_scale_and_qkv_layout(mode: str, scale: float) -> None:
    torch.manual_seed(0)
    att = SelfAttention(32, 4, mode)  # type: ignore[arg-type]
    assert att.to_qkv.bias is None
    x = torch.randn(2, 5, 32)
    torch.testing.assert_close(att(x), _reference_attention(att, x, 4, scale), atol=1e-5, rtol=1e-5)


def test_feedforward_uses_tanh_gelu() -> None:
    torch.manual_seed(0)
    ff = FeedForward(8, 16)
    x = torch.randn(3, 8) * 3
    h = ff.l1(x)
    tanh_gelu = 0.5 * h * (1 + torch.tanh(math.sqrt(2 / math.pi) * (h + 0.044715 * h**3)))
    torch.testing.assert_close(ff(x), ff.l2(tanh_gelu))
    ff_exact = FeedForward(8, 16, approximate="none")
    ff_exact.load_state_dict(ff.state_dict())
    assert not torch.allclose(ff_exact(x), ff(x))


def test_replicate_padding_and_instance_norm_without_affine() -> None:
    model = VQAutoEncoder(tiny_cfg(hidden_size=32)).eval()
    conv, _, norm = model.encoder.squasher[0]
    assert norm.weight is None and norm.running_mean is None
    # a 5-tap box filter per channel on a ramp: the boundary sees replicated end values
    with torch.no_grad():
        conv.weight.zero_()
        for c in range(32):
            conv.weight[c, c, :] = 1.0
        conv.bias.zero_()
    x = torch.arange(6, dtype=torch.float32).expand(1, 32, 6)
    y = conv(x)[0, 0]
    # t=0: x0 x0 x0 x1 x2 = 0+0+0+1+2 = 3; t=5: x3 x4 x5 x5 x5 = 3+4+5+5+5 = 22
    assert y[0].item() == 3.0 and y[1].item() == 0 + 0 + 1 + 2 + 3 and y[5].item() == 22.0
    out = model.encoder.squasher(torch.randn(2, 32, 9))
    torch.testing.assert_close(out.mean(-1), torch.zeros(2, 32), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.var(-1, unbiased=False), torch.ones(2, 32), atol=1e-2, rtol=0)


def test_quantizer_nearest_code_loss_and_straight_through() -> None:
    torch.manual_seed(0)
    vq = VectorQuantizer(16, 4, beta=0.25)
    z = (torch.randn(2, 6, 4) * 0.05).requires_grad_()
    out = vq(z)
    brute = torch.cdist(z.detach().reshape(-1, 4), vq.embedding.weight).argmin(1).view(2, 6)
    assert torch.equal(out.indices, brute)
    zq = vq.embedding.weight[brute]
    torch.testing.assert_close(out.quantized, zq.permute(0, 2, 1))
    mse = ((zq - z.detach()) ** 2).mean()
    torch.testing.assert_close(out.loss, 1.25 * mse)
    out.quantized.sum().backward()  # straight-through: identity gradient into z
    torch.testing.assert_close(z.grad, torch.ones_like(z))
    # one code used by every vector → perplexity 1
    assert vq(vq.embedding.weight[3].expand(1, 5, 4)).perplexity.item() == pytest.approx(1.0)


def test_shapes_round_trip_and_biwi_variant() -> None:
    for cfg in (
        tiny_cfg(),
        tiny_cfg(face_quan_num=2, zquant_dim=8, bottleneck_linears=True, output_bias=False),
    ):
        model = VQAutoEncoder(cfg).eval()
        v, t = torch.randn(2, 7, 10, 3), torch.randn(2, 10, 3)
        out = model(v, t)
        assert out.vertices.shape == v.shape
        assert out.indices.shape == (2, 7 * cfg.face_quan_num)
        # decoding the code ids gives the same reconstruction as decoding the quantised features
        offsets = model.decode_indices(out.indices).view(2, 7, 10, 3)
        torch.testing.assert_close(offsets + t.unsqueeze(1), out.vertices, atol=1e-5, rtol=1e-5)
        assert model.decoder.vertice_map_reverse.bias is None or cfg.output_bias


def test_bad_inputs_are_named() -> None:
    with pytest.raises(ValueError, match="must equal hidden_size"):
        tiny_cfg(face_quan_num=3)
    model = VQAutoEncoder(tiny_cfg())
    with pytest.raises(ValueError, match=r"\(B, T, 30\)"):
        model.features(torch.zeros(1, 3, 29))
    with pytest.raises(ValueError, match="template shape"):
        model(torch.zeros(1, 3, 10, 3), torch.zeros(1, 9, 3))


def test_with_fixes_keeps_the_layout_and_changes_the_encoder_output() -> None:
    torch.manual_seed(0)
    official = VQAutoEncoder(tiny_cfg()).eval()
    fixed = VQAutoEncoder(tiny_cfg().with_fixes()).eval()
    fixed.load_state_dict(official.state_dict())
    v = torch.randn(1, 6, 10, 3)
    assert not torch.allclose(official.encoder(v.view(1, 6, 30)), fixed.encoder(v.view(1, 6, 30)))


def test_stage1_overfits_one_sequence() -> None:
    torch.manual_seed(0)
    model = VQAutoEncoder(tiny_cfg(dropout=0.0))
    t = torch.randn(1, 10, 3) * 0.1
    phase = torch.linspace(0, 6.28, 12).view(1, 12, 1, 1)
    v = t.unsqueeze(1) + 0.05 * torch.sin(phase + torch.arange(30).view(1, 1, 10, 3))
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3)
    losses = []
    for _ in range(300):
        out = model(v, t)
        loss, _ = stage1_loss(out, v)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(F.l1_loss(out.vertices, v).item())
    assert losses[-1] < losses[0] / 5
