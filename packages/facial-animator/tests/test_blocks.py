"""PPE, periodic causal bias and alignment mask against hand-worked values."""

from __future__ import annotations

import math

import pytest
import torch

from facial_animator.blocks import (
    PeriodicPositionalEncoding,
    alibi_slopes,
    alignment_mask,
    periodic_causal_bias,
)


def test_alibi_slopes_for_four_heads_and_eight():
    assert alibi_slopes(4) == [0.25, 0.0625, 0.015625, 0.00390625]
    assert alibi_slopes(8) == [2.0 ** -(i + 1) for i in range(8)]
    # 6 heads: the 4-head slopes then every other 8-head slope
    assert alibi_slopes(6) == [0.25, 0.0625, 0.015625, 0.00390625, 0.5, 0.125]


def test_periodic_causal_bias_hand_values():
    bias = periodic_causal_bias(4, 7, period=3)
    assert bias.shape == (4, 7, 7)
    m = [0.25, 0.0625, 0.015625, 0.00390625]
    for h in range(4):
        for i in range(7):
            for j in range(7):
                if j > i:
                    assert bias[h, i, j] == float("-inf")
                else:
                    assert math.isclose(float(bias[h, i, j]), -m[h] * ((i - j) // 3), abs_tol=1e-12)
    # same period window → 0; e.g. i=5, j=3 (distance 2 < 3)
    assert bias[0, 5, 3] == 0 and bias[0, 6, 3] == -0.25 and bias[0, 6, 0] == -0.5


def test_bias_has_no_length_cap():
    bias = periodic_causal_bias(4, 1200, period=30)
    assert bias.shape == (4, 1200, 1200)
    assert math.isclose(float(bias[0, 1199, 0]), -0.25 * (1199 // 30))


def test_alignment_mask_vocaset_and_biwi():
    voca = alignment_mask(3, 3, 1)
    assert voca.tolist() == [[False, True, True], [True, False, True], [True, True, False]]
    biwi = alignment_mask(2, 5, 2)
    assert biwi.tolist() == [[False, False, True, True, True], [True, True, False, False, True]]


def test_ppe_values_and_official_buffer_shapes():
    ppe = PeriodicPositionalEncoding(4, period=3, max_seq_len=7, dropout=0.0)
    assert ppe.pe.shape == (1, 3 * (7 // 3 + 1), 4)  # (1, 9, 4)
    for t in range(9):
        pos = t % 3
        expected = [math.sin(pos), math.cos(pos), math.sin(pos / 100.0), math.cos(pos / 100.0)]
        assert torch.allclose(ppe.pe[0, t], torch.tensor(expected), atol=1e-6)
    assert PeriodicPositionalEncoding(64, period=30).pe.shape == (1, 630, 64)
    assert PeriodicPositionalEncoding(128, period=25).pe.shape == (1, 625, 128)


def test_ppe_works_beyond_buffer_and_loads_other_lengths():
    ppe = PeriodicPositionalEncoding(8, period=5, max_seq_len=20, dropout=0.0)
    x = torch.zeros(1, 57, 8)
    out = ppe(x)
    torch.testing.assert_close(out[0, 55], ppe.pe[0, 0])  # 55 mod 5 = 0
    longer = PeriodicPositionalEncoding(8, period=5, max_seq_len=100, dropout=0.0)
    ppe.load_state_dict(longer.state_dict(), strict=True)
    assert ppe.pe.shape == (1, 105, 8)
    with pytest.raises(RuntimeError, match="expected shape"):
        ppe.load_state_dict({"pe": torch.zeros(1, 10, 6)})
