"""Streaming classes: equal to the one-shot functions, constant-size sum-reducible state, mergeable."""

from __future__ import annotations

import pytest
import torch

from facial_metrics import (
    LipVertexError,
    MeanVertexError,
    UpperFaceDynamicsDeviation,
    lip_vertex_error,
    mean_vertex_error,
    upper_face_dynamics_deviation,
)

V = 16
LIPS = [1, 4, 7, 8]
UPPER = [10, 11, 15]


def _sequences(lengths, seed=0):
    g = torch.Generator().manual_seed(seed)
    tpl = torch.randn(V, 3, generator=g)
    return [
        (tpl + 0.1 * torch.randn(n, V, 3, generator=g), tpl + 0.1 * torch.randn(n, V, 3, generator=g), tpl)
        for n in lengths
    ]


@pytest.mark.parametrize("variant", ["max_sq", "max_l2", "mean_l2"])
def test_lve_streaming_equals_one_shot(variant):
    seqs = _sequences([5, 17, 2, 9])
    m = LipVertexError(LIPS, variant=variant)
    for p, g, _ in seqs:
        m.update(p, g)
    all_p = torch.cat([s[0] for s in seqs])
    all_g = torch.cat([s[1] for s in seqs])
    assert m.compute().item() == pytest.approx(lip_vertex_error(all_p, all_g, LIPS, variant=variant).item())
    mv = MeanVertexError()
    for p, g, _ in seqs:
        mv.update(p, g)
    assert mv.compute().item() == pytest.approx(mean_vertex_error(all_p, all_g).item())


@pytest.mark.parametrize("variant", ["codetalker", "abs"])
def test_fdd_streaming_equals_one_shot(variant):
    seqs = _sequences([6, 6, 6])
    m = UpperFaceDynamicsDeviation(UPPER, variant=variant)
    for p, g, t in seqs:
        m.update(p, g, t)
    batch_p = torch.stack([s[0] for s in seqs])
    batch_g = torch.stack([s[1] for s in seqs])
    expected = upper_face_dynamics_deviation(batch_p, batch_g, seqs[0][2], UPPER, variant=variant)
    assert m.compute().item() == pytest.approx(expected.item())


def _feed(metric, n_frames, chunk=500, fdd=False):
    g = torch.Generator().manual_seed(1)
    tpl = torch.zeros(V, 3)
    done = 0
    while done < n_frames:
        k = min(chunk, n_frames - done)
        p, gt = torch.randn(k, V, 3, generator=g), torch.randn(k, V, 3, generator=g)
        done += k
        if fdd:
            metric.update(p, gt, tpl, end_of_sequence=False)
        else:
            metric.update(p, gt)


def test_state_size_does_not_grow_with_frames():
    for make, fdd in (
        (lambda: LipVertexError(LIPS), False),
        (lambda: MeanVertexError(), False),
        (lambda: UpperFaceDynamicsDeviation(UPPER), True),
    ):
        small, large = make(), make()
        _feed(small, 10, fdd=fdd)
        _feed(large, 10_000, fdd=fdd)
        assert small.state_nbytes() == large.state_nbytes() > 0
        shapes = {k: v.shape for k, v in small.state().items()}
        assert shapes == {k: v.shape for k, v in large.state().items()}
        if not fdd:
            assert large.state()["num_frames"].item() == 10_000


def test_merge_is_a_sum_and_reset_clears():
    seqs = _sequences([4, 8, 3, 11], seed=2)
    whole, a, b = (LipVertexError(LIPS) for _ in range(3))
    fw, fa, fb = (UpperFaceDynamicsDeviation(UPPER) for _ in range(3))
    for i, (p, g, t) in enumerate(seqs):
        whole.update(p, g)
        fw.update(p, g, t)
        (a if i % 2 else b).update(p, g)
        (fa if i % 2 else fb).update(p, g, t)
    a.merge(b)
    fa.merge(fb)
    assert a.compute().item() == pytest.approx(whole.compute().item())
    assert fa.compute().item() == pytest.approx(fw.compute().item())
    with pytest.raises(ValueError, match="different metric or settings"):
        a.merge(LipVertexError(LIPS, variant="max_l2"))
    a.reset()
    assert all(v.item() == 0 for v in a.state().values())
    with pytest.raises(RuntimeError, match="before any update"):
        a.compute()


def test_metadata():
    assert LipVertexError.higher_is_better is False
    assert LipVertexError.report_scale("biwi-test-a") == 1e-4
    assert LipVertexError.report_scale("vocaset") == 1e-5
    assert UpperFaceDynamicsDeviation.report_scale("biwi-test-b") == 1e-5
    assert UpperFaceDynamicsDeviation.report_scale("synth") == 1e-7
    assert MeanVertexError.unit == "input unit"
