"""Vertex losses against hand-worked values and torch's MSE."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from facial_animator.losses import (
    PhoneticContextAwareLoss,
    lip_vertex_mse,
    motion_context_weights,
    velocity_mse,
    vertex_mse,
    viseme_sequence,
    viseme_transition_weights,
    vocaset_scale_uniformity,
    weighted_frame_mse,
    window_mean,
)


def test_vertex_mse_and_shape_errors():
    a = torch.tensor([[[[0.0, 0.0, 0.0]], [[1.0, 2.0, 2.0]]]])  # (1, 2, 1, 3)
    b = torch.zeros_like(a)
    assert math.isclose(float(vertex_mse(a, b)), (1 + 4 + 4) / 6)
    with pytest.raises(ValueError, match="differ in shape"):
        vertex_mse(a, b[:, :1])


def test_lip_vertex_mse_uses_given_indices_with_duplicates():
    pred = torch.zeros(1, 1, 4, 3)
    target = torch.zeros(1, 1, 4, 3)
    target[0, 0, 2] = torch.tensor([1.0, 1.0, 1.0])
    target[0, 0, 3] = torch.tensor([3.0, 0.0, 0.0])
    # vertices 2, 2, 0 → squared errors 1,1,1, 1,1,1, 0,0,0 → mean 6/9
    assert math.isclose(float(lip_vertex_mse(pred, target, [2, 2, 0])), 6 / 9, rel_tol=1e-6)
    with pytest.raises(ValueError, match="mesh has 4 vertices"):
        lip_vertex_mse(pred, target, [0, 4])
    with pytest.raises(ValueError, match="non-empty"):
        lip_vertex_mse(pred, target, [])


def test_velocity_mse_hand_value():
    pred = torch.tensor([0.0, 1.0, 1.0]).view(1, 3, 1)
    target = torch.tensor([0.0, 0.0, 2.0]).view(1, 3, 1)
    # Δpred = [1, 0], Δtarget = [0, 2] → ((1)^2 + (−2)^2)/2 = 2.5
    assert math.isclose(float(velocity_mse(pred, target)), 2.5)
    assert float(velocity_mse(pred[:, :1], target[:, :1])) == 0.0


def test_window_mean_replicate_padding():
    r = window_mean(torch.tensor([[0.0, 1.0, 2.0]]), 3)
    assert torch.allclose(r, torch.tensor([[1 / 3, 1.0, 5 / 3]]))
    r5 = window_mean(torch.tensor([[0.0, 1.0, 2.0]]), 5)
    # padded [0,0,0,1,2,2,2] → windows [0,0,0,1,2], [0,0,1,2,2], [0,1,2,2,2]
    assert torch.allclose(r5, torch.tensor([[0.6, 1.0, 1.4]]))
    with pytest.raises(ValueError, match="odd"):
        window_mean(r, 4)


def test_phonetic_loss_hand_worked_window3():
    # GT x = [0, 1, 3] (D = 1): m = [0, 1, 2]; window 3 → r = [1/3, 1, 5/3]; w = softmax(r)
    gt = torch.tensor([0.0, 1.0, 3.0], dtype=torch.float64).view(1, 3, 1)
    pred = gt + torch.tensor([1.0, 2.0, 0.0], dtype=torch.float64).view(1, 3, 1)
    e = [math.exp(1 / 3), math.exp(1.0), math.exp(5 / 3)]
    w = [v / sum(e) for v in e]
    expected = w[0] * 1.0 + w[1] * 4.0 + w[2] * 0.0  # ≈ 1.30402
    loss = PhoneticContextAwareLoss(window_size=3)(pred, gt)
    assert math.isclose(float(loss), expected, rel_tol=1e-12)
    assert math.isclose(expected, 1.304017, rel_tol=1e-5)
    summed = PhoneticContextAwareLoss(3, reduction="sum")(pred, gt)
    assert math.isclose(float(summed), expected, rel_tol=1e-12)


def test_phonetic_loss_hand_worked_window5_two_coordinates():
    # x_t in R^2: [0,0], [3,4], [3,4]; m = [0, 5, 0]; window 5 (replicate) → r = [1, 1, 1] → uniform
    gt = torch.tensor([[0.0, 0.0], [3.0, 4.0], [3.0, 4.0]], dtype=torch.float64).view(1, 3, 2)
    pred = gt.clone()
    pred[0, 0, 0] += 2.0  # err² 4 in one of 6 entries
    loss = PhoneticContextAwareLoss()(pred, gt)
    assert math.isclose(float(loss), 4.0 / 6.0, rel_tol=1e-12)
    # temperature: r = [1, 1, 1] stays uniform; a non-constant r is sharpened
    w_sharp = motion_context_weights(torch.tensor([0.0, 1.0, 3.0]).view(1, 3, 1), window=3, temperature=0.5)
    e = [math.exp(2 / 3), math.exp(2.0), math.exp(10 / 3)]
    assert torch.allclose(w_sharp[0], torch.tensor([v / sum(e) for v in e]), atol=1e-7)


def test_uniform_weights_equal_mse_exactly():
    torch.manual_seed(0)
    pred = torch.randn(3, 16, 10, 3, dtype=torch.float64)
    static = torch.randn(3, 1, 10, 3, dtype=torch.float64).expand(3, 16, 10, 3)  # no motion → uniform w
    loss = PhoneticContextAwareLoss()(pred, static)
    torch.testing.assert_close(loss, F.mse_loss(pred, static), rtol=1e-15, atol=0)
    uniform = torch.full((3, 16), 1 / 16, dtype=torch.float64)
    target = torch.randn_like(pred)
    torch.testing.assert_close(weighted_frame_mse(pred, target, uniform), F.mse_loss(pred, target),
                               rtol=1e-15, atol=0)


def test_weights_are_detached_and_gradients_flow_to_prediction():
    gt = torch.randn(1, 6, 4, 3, requires_grad=True)
    pred = torch.randn(1, 6, 4, 3, requires_grad=True)
    PhoneticContextAwareLoss()(pred, gt).backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0
    assert gt.grad is not None  # only through err², not through the weights
    gt2 = gt.detach().clone().requires_grad_(True)
    w = motion_context_weights(gt2)
    assert not w.requires_grad


def test_official_weights_nearly_uniform_at_vocaset_scale():
    stats = vocaset_scale_uniformity()
    assert stats["std_wT"] < 0.01 and stats["range_wT"] < 0.05
    sharp = vocaset_scale_uniformity(temperature=0.01)
    assert sharp["std_wT"] > 10 * stats["std_wT"]


VISEMES = {"P": "bilabial", "B": "bilabial", "M": "bilabial", "AA": "open", "IY": "spread", "sil": "sil"}


def test_viseme_sequence_frames_and_stress_digits():
    phones = [("sil", 0.0, 0.1), ("P", 0.1, 0.2), ("AA1", 0.2, 0.4), ("M", 0.4, 0.5)]
    classes = viseme_sequence(phones, num_frames=6, fps=10.0, phone_to_viseme=VISEMES)
    # frame times 0.0 .. 0.5; phone intervals are [start, end)
    assert classes == ["sil", "bilabial", "open", "open", "bilabial", "sil"]
    with pytest.raises(KeyError, match="'ZH'"):
        viseme_sequence([("ZH", 0.0, 0.1)], 2, 10.0, VISEMES)


def test_viseme_transition_weights_hand_worked():
    phones = [[("P", 0.0, 0.2), ("AA", 0.2, 0.4)]]  # 4 frames at 10 fps: bil, bil, open, open
    w = viseme_transition_weights(phones, num_frames=4, fps=10.0, phone_to_viseme=VISEMES, window=3)
    # δ = [0, 0, 1, 0]; padded [0,0,0,1,0,0] → r = [0, 1/3, 1/3, 1/3]
    e = [1.0, math.exp(1 / 3), math.exp(1 / 3), math.exp(1 / 3)]
    assert torch.allclose(w[0], torch.tensor([v / sum(e) for v in e]), atol=1e-7)
    assert w.shape == (1, 4)
    # used as loss weights: uniform-transition utterance gives plain MSE
    flat = viseme_transition_weights([[("AA", 0.0, 1.0)]], 4, 10.0, VISEMES, window=3)
    pred, target = torch.randn(1, 4, 2, 3), torch.randn(1, 4, 2, 3)
    torch.testing.assert_close(weighted_frame_mse(pred, target, flat), F.mse_loss(pred, target))


def test_bad_arguments():
    with pytest.raises(ValueError, match="temperature"):
        PhoneticContextAwareLoss(temperature=0)
    with pytest.raises(ValueError, match="reduction"):
        PhoneticContextAwareLoss(reduction="none")
    with pytest.raises(ValueError, match="weights must be"):
        weighted_frame_mse(torch.zeros(1, 3, 2), torch.zeros(1, 3, 2), torch.ones(1, 2))
