"""LVE and MVE against hand-worked values and torchmetrics' functional LVE."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from facial_metrics import (
    LipVertexError,
    MeanVertexError,
    RegionMask,
    lip_vertex_error,
    mean_vertex_error,
)


def _hand_case():
    # 2 frames, 3 vertices; vertices 0 and 1 are the lips, vertex 2 moves a lot but is not in the mask.
    gt = torch.zeros(2, 3, 3)
    pred = torch.zeros(2, 3, 3)
    pred[0, 0] = torch.tensor([3.0, 4.0, 0.0])  # |d| = 5
    pred[0, 1] = torch.tensor([1.0, 0.0, 0.0])  # |d| = 1
    pred[1, 1] = torch.tensor([0.0, 0.0, 2.0])  # |d| = 2 ; vertex 0 exact
    pred[:, 2] = 100.0
    return pred, gt


@pytest.mark.parametrize(("variant", "expected"), [("max_sq", 14.5), ("max_l2", 3.5), ("mean_l2", 2.0)])
def test_lve_hand_worked(variant, expected):
    pred, gt = _hand_case()
    # frame 0: max_sq 25, max_l2 5, mean_l2 (5+1)/2 = 3 ; frame 1: 4, 2, (0+2)/2 = 1
    assert lip_vertex_error(pred, gt, [0, 1], variant=variant).item() == pytest.approx(expected)
    metric = LipVertexError([0, 1], variant=variant)
    metric.update(pred[:1], gt[:1])
    metric.update(pred[1:], gt[1:])
    assert metric.compute().item() == pytest.approx(expected)


def test_mve_hand_worked():
    pred, gt = _hand_case()
    # frame 0: (5 + 1 + |(100,100,100)|) / 3 ; frame 1: (0 + 2 + 100*sqrt(3)) / 3
    far = 100 * math.sqrt(3)
    expected = ((6 + far) / 3 + (2 + far) / 3) / 2
    assert mean_vertex_error(pred, gt).item() == pytest.approx(expected)
    assert mean_vertex_error(pred, gt, mask=[0, 1]).item() == pytest.approx((3 + 1) / 2)
    m = MeanVertexError()
    m.update(pred, gt)
    assert m.compute().item() == pytest.approx(expected)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lve_max_sq_equals_torchmetrics(seed):
    from torchmetrics.functional.multimodal import lip_vertex_error as tm_lve

    g = torch.Generator().manual_seed(seed)
    pred = torch.randn(37, 200, 3, generator=g)
    gt = torch.randn(37, 200, 3, generator=g)
    mouth = torch.randperm(200, generator=g)[:40].tolist()
    ours = lip_vertex_error(pred, gt, mouth)
    ref = tm_lve(pred, gt, mouth)
    assert ours.item() == pytest.approx(ref.item(), rel=1e-6)
    # torchmetrics truncates to the shorter sequence; that is our explicit "truncate_to_shorter"
    ours_trunc = lip_vertex_error(pred[:30], gt, mouth, length_rule="truncate_to_shorter")
    assert ours_trunc.item() == pytest.approx(tm_lve(pred[:30], gt, mouth).item(), rel=1e-6)


def test_lve_accepts_numpy_and_regionmask_and_is_differentiable():
    rng = np.random.default_rng(0)
    pred = rng.standard_normal((5, 10, 3)).astype(np.float32)
    gt = rng.standard_normal((5, 10, 3)).astype(np.float32)
    mask = RegionMask.from_indices("lips", "toy", [1, 3, 5])
    d = ((pred[:, [1, 3, 5]] - gt[:, [1, 3, 5]]) ** 2).sum(-1).max(-1).mean()
    assert lip_vertex_error(pred, gt, mask).item() == pytest.approx(float(d), rel=1e-5)
    p = torch.tensor(pred, requires_grad=True)
    lip_vertex_error(p, torch.tensor(gt), mask).backward()
    assert p.grad is not None and p.grad[:, [0, 2, 4]].abs().sum() == 0


def test_batch_equals_concatenated_frames():
    g = torch.Generator().manual_seed(3)
    pred, gt = torch.randn(4, 6, 12, 3, generator=g), torch.randn(4, 6, 12, 3, generator=g)
    flat = lip_vertex_error(pred.reshape(24, 12, 3), gt.reshape(24, 12, 3), [0, 5, 7])
    assert lip_vertex_error(pred, gt, [0, 5, 7]).item() == pytest.approx(flat.item())


def test_length_rules():
    g = torch.Generator().manual_seed(4)
    pred, gt = torch.randn(12, 8, 3, generator=g), torch.randn(10, 8, 3, generator=g)
    with pytest.raises(ValueError, match="pred has 12 frames but gt has 10"):
        lip_vertex_error(pred, gt, [0, 1])
    cut = lip_vertex_error(pred, gt, [0, 1], length_rule="truncate_to_gt")
    assert cut.item() == pytest.approx(lip_vertex_error(pred[:10], gt, [0, 1]).item())
    with pytest.raises(ValueError, match="fewer than gt"):
        lip_vertex_error(pred[:8], gt, [0, 1], length_rule="truncate_to_gt")
    short = lip_vertex_error(pred[:8], gt, [0, 1], length_rule="truncate_to_shorter")
    assert short.item() == pytest.approx(lip_vertex_error(pred[:8], gt[:8], [0, 1]).item())
    with pytest.raises(ValueError, match="length_rule must be one of"):
        lip_vertex_error(pred, gt, [0, 1], length_rule="pad")


def test_bad_inputs_fail_clearly():
    pred, gt = torch.zeros(4, 10, 3), torch.zeros(4, 10, 3)
    with pytest.raises(ValueError, match="vertex count"):
        lip_vertex_error(pred, torch.zeros(4, 11, 3), [0])
    with pytest.raises(ValueError, match=r"pred: expected shape \(T, V, 3\)"):
        lip_vertex_error(torch.zeros(4, 10, 2), gt, [0])
    with pytest.raises(TypeError, match="floating-point"):
        lip_vertex_error(torch.zeros(4, 10, 3, dtype=torch.int64), gt, [0])
    bad = pred.clone()
    bad[1, 2, 0] = float("nan")
    with pytest.raises(ValueError, match=r"pred: contains 1 NaN/Inf"):
        lip_vertex_error(bad, gt, [0])
    bad[1, 2, 0] = float("inf")
    with pytest.raises(ValueError, match=r"gt: contains 1 NaN/Inf"):
        mean_vertex_error(pred, bad)
    with pytest.raises(ValueError, match="vertex index 10 is out of range"):
        lip_vertex_error(pred, gt, [0, 10])
    with pytest.raises(ValueError, match="vertex index -1 is out of range"):
        lip_vertex_error(pred, gt, [-1, 2])
    with pytest.raises(ValueError, match="topology 'flame-5023' has 5023 vertices but the meshes have 10"):
        lip_vertex_error(pred, gt, RegionMask.from_indices("lips", "flame-5023", [0, 1]))
    with pytest.raises(ValueError, match="LVE variant"):
        lip_vertex_error(pred, gt, [0], variant="max")
    with pytest.raises(RuntimeError, match="before any update"):
        LipVertexError([0]).compute()
