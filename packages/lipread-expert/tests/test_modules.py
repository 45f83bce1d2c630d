"""Building blocks checked against the formulas of the reference (methods.md §2.2–2.5)."""

from __future__ import annotations

import math

import pytest
import torch

from lipread_expert import LipReader
from lipread_expert.conformer import ConformerBlock
from lipread_expert.frontends import Conv1dResNet, Conv3dResNet
from lipread_expert.layers import LayerNorm, RelPositionalEncoding, RelPositionMultiHeadedAttention


def _sinusoid(pos: float, d: int) -> torch.Tensor:
    out = torch.zeros(d)
    for i in range(0, d, 2):
        angle = pos / (10000 ** (i / d))
        out[i], out[i + 1] = math.sin(angle), math.cos(angle)
    return out


def test_rel_positional_encoding_covers_positions_t_minus_1_to_minus_t_plus_1() -> None:
    enc = RelPositionalEncoding(8, 0.0)
    x = torch.randn(1, 3, 8)
    scaled, pos = enc(x)
    torch.testing.assert_close(scaled, x * math.sqrt(8))
    assert pos.shape == (1, 5, 8)
    for row, rel in enumerate([2, 1, 0, -1, -2]):
        torch.testing.assert_close(pos[0, row], _sinusoid(rel, 8), atol=1e-6, rtol=0)


def test_rel_shift_picks_relative_position_i_minus_j() -> None:
    t = 4
    # x[..., i, r] holds 100·i + r: the score of query i against relative-position row r.
    x = (100 * torch.arange(t)[:, None] + torch.arange(2 * t - 1)[None]).float().view(1, 1, t, 2 * t - 1)
    out = RelPositionMultiHeadedAttention.rel_shift(x)
    assert out.shape == (1, 1, t, t)
    for i in range(t):
        for j in range(t):
            # row r = (T − 1) − (i − j) holds the embedding of relative position i − j
            assert out[0, 0, i, j] == 100 * i + (t - 1 - i + j)


def test_relative_attention_equals_the_formula() -> None:
    torch.manual_seed(0)
    heads, d, t = 2, 8, 3
    att = RelPositionMultiHeadedAttention(heads, d, 0.0).eval()
    torch.nn.init.normal_(att.pos_bias_u)
    torch.nn.init.normal_(att.pos_bias_v)
    x = torch.randn(1, t, d)
    _, pos = RelPositionalEncoding(d, 0.0)(x)
    got = att(x, x, x, pos, None)
    dk = d // heads
    q = att.linear_q(x)[0].view(t, heads, dk)
    k = att.linear_k(x)[0].view(t, heads, dk)
    v = att.linear_v(x)[0].view(t, heads, dk)
    heads_out = []
    for h in range(heads):
        scores = torch.zeros(t, t)
        for i in range(t):
            for j in range(t):
                p = att.linear_pos(_sinusoid(i - j, d)).view(heads, dk)[h]
                scores[i, j] = ((q[i, h] + att.pos_bias_u[h]) @ k[j, h] + (q[i, h] + att.pos_bias_v[h]) @ p)
        heads_out.append(torch.softmax(scores / math.sqrt(dk), dim=-1) @ v[:, h])
    want = att.linear_out(torch.cat(heads_out, dim=-1))
    torch.testing.assert_close(got[0], want, atol=1e-5, rtol=1e-5)


def test_layer_norm_uses_espnet_eps() -> None:
    assert LayerNorm(4).eps == 1e-12


def test_conformer_block_macaron_structure() -> None:
    torch.manual_seed(0)
    block = ConformerBlock(8, 2, 16, 3, 0.0, 0.0).eval()
    x = torch.randn(2, 5, 8)
    _, pos = RelPositionalEncoding(8, 0.0)(x)
    h = x + 0.5 * block.feed_forward_macaron(block.norm_ff_macaron(x))
    n = block.norm_mha(h)
    h = h + block.self_attn(n, n, n, pos, None)
    h = h + block.conv_module(block.norm_conv(h))
    h = h + 0.5 * block.feed_forward(block.norm_ff(h))
    torch.testing.assert_close(block(x, pos, None), block.norm_final(h))
    assert block.conv_module.depthwise_conv.groups == 8


def test_visual_frontend_shapes() -> None:
    front = Conv3dResNet((4, 8, 8, 16), (1, 1, 1, 1)).eval()
    out = front(torch.randn(2, 5, 1, 88, 88))
    assert out.shape == (2, 5, 16)  # time preserved, one vector per frame
    stem = front.frontend3D(torch.randn(1, 1, 5, 88, 88))
    assert stem.shape[-2:] == (22, 22)  # 88 → 44 (stride-2 conv) → 22 (max-pool)


def test_audio_frontend_is_640_samples_per_frame() -> None:
    front = Conv1dResNet((4, 8, 8, 16), (1, 1, 1, 1)).eval()
    assert front(torch.randn(2, 640 * 6 + 639)).shape == (2, 6, 16)
    assert front(torch.randn(2, 640 * 3, 1)).shape == (2, 3, 16)
    with pytest.raises(ValueError, match="at least 640"):
        front(torch.randn(1, 600))


def test_unknown_preset_and_modality_are_named() -> None:
    with pytest.raises(KeyError, match="huge"):
        LipReader.from_preset("huge")
    with pytest.raises(ValueError, match="modality"):
        LipReader.from_preset("nano", "lidar", 6)  # type: ignore[arg-type]


def test_audiovisual_gradients_reach_video_and_audio() -> None:
    torch.manual_seed(0)
    model = LipReader.from_preset("nano", "audiovisual", 6).train()
    video = torch.randn(2, 4, 1, 88, 88, requires_grad=True)
    audio = torch.randn(2, 4 * 640, requires_grad=True)
    out = model(torch.tensor([[1, 2], [3, -1]]), video, audio, video_lengths=torch.tensor([4, 3]))
    out.weighted(0.1, 0.9).backward()
    assert float(video.grad.abs().sum()) > 0 and float(audio.grad.abs().sum()) > 0
    assert torch.isfinite(video.grad).all() and torch.isfinite(audio.grad).all()


def test_guidance_path_from_renders_at_30_fps() -> None:
    """AV expert on [0, 1] renders at 30 fps: converted in the graph, gradients reach the renders."""
    torch.manual_seed(0)
    model = LipReader.from_preset("nano", "audiovisual", 6).train()
    renders = torch.rand(2, 12, 1, 88, 88, requires_grad=True)  # 0.4 s at 30 fps
    audio = torch.randn(2, 6400)  # 0.4 s at 16 kHz
    out = model(
        torch.tensor([[1, 2], [3, -1]]), renders, audio, video_lengths=torch.tensor([12, 9]),
        audio_lengths=torch.tensor([6400, 4800]), fps=30.0, convert=True, pixel_range="unit",
    )
    out.weighted(0.1, 0.9).backward()
    assert renders.grad is not None and torch.isfinite(renders.grad).all()
    assert float(renders.grad.abs().sum()) > 0
    # 12 frames at 30 fps → floor(11·25/30) + 1 = 10 frames at 25 fps = 6400 samples of audio.
    enc = model.encode(renders.detach(), audio, fps=30.0, convert=True, pixel_range="unit")
    assert enc.features.shape[1] == 10


@pytest.mark.parametrize(
    ("in_ch", "kernel", "stride", "padding", "frames"),
    [
        (1, (5, 7, 7), (1, 2, 2), (2, 3, 3), 11),
        (2, (3, 3, 3), (2, 1, 1), (1, 1, 1), 9),
        (1, (5, 7, 7), (1, 2, 2), (0, 3, 3), 7),
    ],
)
def test_frame_stack_conv3d_equals_torch_conv3d(in_ch, kernel, stride, padding, frames) -> None:
    """Same parameters, state_dict and (within float rounding) outputs and gradients as nn.Conv3d."""
    from lipread_expert.frontends import FrameStackConv3d

    torch.manual_seed(0)
    ref = torch.nn.Conv3d(in_ch, 6, kernel, stride, padding, bias=True)
    fast = FrameStackConv3d(in_ch, 6, kernel, stride, padding, bias=True)
    fast.load_state_dict(ref.state_dict())
    assert list(fast.state_dict()) == list(ref.state_dict())
    x = torch.randn(2, in_ch, frames, 20, 18, requires_grad=True)
    x2 = x.detach().clone().requires_grad_(True)
    y_ref, y = ref(x), fast(x2)
    assert y.shape == y_ref.shape
    torch.testing.assert_close(y, y_ref, rtol=1e-5, atol=1e-5)
    g = torch.randn_like(y_ref)
    y_ref.backward(g)
    y.backward(g)
    torch.testing.assert_close(x2.grad, x.grad, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(fast.weight.grad, ref.weight.grad, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(fast.bias.grad, ref.bias.grad, rtol=1e-4, atol=1e-4)
