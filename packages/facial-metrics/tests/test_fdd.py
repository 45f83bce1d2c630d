"""FDD against a hand-worked example and an independent NumPy implementation."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from facial_metrics import UpperFaceDynamicsDeviation, fdd_sequence_deviation, upper_face_dynamics_deviation


def _hand_sequence():
    """3 frames, 3 vertices; upper face = vertices 0 and 1; template offset (1, 1, 1)."""
    template = torch.ones(3, 3)
    gt = torch.zeros(3, 3, 3)
    pred = torch.zeros(3, 3, 3)
    # vertex 0: gt displacements (1,0,0), (2,0,0), (0,0,0) -> s = 1, 4, 0 ; pred static at (1,0,0) -> 1,1,1
    gt[:, 0, 0] = torch.tensor([1.0, 2.0, 0.0])
    pred[:, 0, 0] = 1.0
    # vertex 1: gt static (0,1,0) -> 1,1,1 ; pred (0,0,0), (0,2,0), (0,0,0) -> s = 0, 4, 0
    gt[:, 1, 1] = 1.0
    pred[:, 1, 1] = torch.tensor([0.0, 2.0, 0.0])
    # vertex 2 (not upper face) moves wildly in the prediction only
    pred[:, 2] = torch.tensor([[9.0, 0, 0], [-9.0, 0, 0], [30.0, 0, 0]])
    return pred + template, gt + template, template


# population std of (1, 4, 0) = sqrt(26)/3 ; of (0, 4, 0) = sqrt(32)/3
# dyn(gt) = (sqrt(26)/3 + 0) / 2 ; dyn(pred) = (0 + sqrt(32)/3) / 2
HAND_FDD = (math.sqrt(26) - math.sqrt(32)) / 6  # = -0.0930, i.e. the prediction exaggerates motion


def test_fdd_hand_worked():
    pred, gt, template = _hand_sequence()
    assert fdd_sequence_deviation(pred, gt, template, [0, 1]).item() == pytest.approx(HAND_FDD)
    assert upper_face_dynamics_deviation(pred, gt, template, [0, 1]).item() == pytest.approx(HAND_FDD)
    assert upper_face_dynamics_deviation(pred, gt, template, [0, 1], variant="abs").item() == pytest.approx(
        abs(HAND_FDD)
    )


def test_fdd_is_sequence_weighted_and_signed():
    pred, gt, template = _hand_sequence()
    static = template.expand(7, 3, 3).clone()  # a 7-frame sequence without motion: deviation 0
    m = UpperFaceDynamicsDeviation([0, 1])
    m.update(pred, gt, template)
    m.update(static, static, template)
    assert m.compute().item() == pytest.approx(HAND_FDD / 2)  # mean over 2 sequences, not 10 frames
    swapped = UpperFaceDynamicsDeviation([0, 1])
    swapped.update(gt, pred, template)  # damped vs exaggerated flips the sign
    assert swapped.compute().item() == pytest.approx(-HAND_FDD)


def _numpy_fdd(preds, gts, templates, upper):
    devs = []
    for p, g, t in zip(preds, gts, templates):
        def dyn(x, t=t):
            s = ((x[:, upper] - t[upper]) ** 2).sum(-1)  # (T, U)
            return np.std(s, axis=0).mean()

        devs.append(dyn(g) - dyn(p))
    return float(np.mean(devs)), float(np.mean(np.abs(devs)))


def test_fdd_matches_numpy_reference_streaming_and_chunked():
    rng = np.random.default_rng(5)
    upper = np.array([2, 4, 5, 9, 11])
    lengths = [20, 33, 7]
    templates = [rng.standard_normal((12, 3)) for _ in lengths]
    gts = [t + 0.1 * rng.standard_normal((n, 12, 3)) for t, n in zip(templates, lengths)]
    preds = [t + 0.05 * rng.standard_normal((n, 12, 3)) for t, n in zip(templates, lengths)]
    signed, absolute = _numpy_fdd(preds, gts, templates, upper)
    for variant, expected in (("codetalker", signed), ("abs", absolute)):
        whole = UpperFaceDynamicsDeviation(upper, variant=variant)
        chunked = UpperFaceDynamicsDeviation(upper, variant=variant)
        for p, g, t in zip(preds, gts, templates):
            whole.update(torch.tensor(p), torch.tensor(g), torch.tensor(t))
            cuts = [0, 3, 4, len(p)]
            for a, b in itertools.pairwise(cuts):
                chunked.update(p[a:b], g[a:b], t, end_of_sequence=b == len(p))
        assert whole.compute().item() == pytest.approx(expected, rel=1e-10)
        assert chunked.compute().item() == pytest.approx(expected, rel=1e-9)


def test_fdd_batch_and_template_broadcast():
    rng = np.random.default_rng(6)
    tpl = rng.standard_normal((3, 10, 3))
    gt = tpl[:, None] + 0.1 * rng.standard_normal((3, 8, 10, 3))
    pred = tpl[:, None] + 0.2 * rng.standard_normal((3, 8, 10, 3))
    signed, _ = _numpy_fdd(pred, gt, tpl, [0, 1, 2])
    assert upper_face_dynamics_deviation(pred, gt, tpl, [0, 1, 2]).item() == pytest.approx(signed)
    shared = rng.standard_normal((10, 3))
    signed_shared, _ = _numpy_fdd(pred, gt, [shared] * 3, [0, 1, 2])
    assert upper_face_dynamics_deviation(pred, gt, shared, [0, 1, 2]).item() == pytest.approx(signed_shared)


def test_fdd_bad_inputs():
    pred, gt, template = _hand_sequence()
    with pytest.raises(ValueError, match="template: expected shape"):
        upper_face_dynamics_deviation(pred, gt, torch.zeros(4, 3), [0, 1])
    with pytest.raises(ValueError, match="template: contains"):
        upper_face_dynamics_deviation(pred, gt, torch.full((3, 3), float("nan")), [0, 1])
    with pytest.raises(ValueError, match="FDD variant"):
        upper_face_dynamics_deviation(pred, gt, template, [0, 1], variant="signed")
    with pytest.raises(ValueError, match="out of range"):
        upper_face_dynamics_deviation(pred, gt, template, [0, 3])
    m = UpperFaceDynamicsDeviation([0, 1])
    m.update(pred, gt, template, end_of_sequence=False)
    with pytest.raises(RuntimeError, match="still open"):
        m.compute()
    with pytest.raises(ValueError, match="open sequence"):
        m.update(pred[None].expand(2, -1, -1, -1), gt[None].expand(2, -1, -1, -1), template)
