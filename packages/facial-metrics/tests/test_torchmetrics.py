"""The streaming classes are torchmetrics Metrics: NumPy-checked values, forward, dtype, DDP (gloo) sync."""

from __future__ import annotations

import socket

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torchmetrics import Metric, MetricCollection

from facial_metrics import (
    CharErrorRate,
    LipOpeningCorrelation,
    LipVertexError,
    MeanVertexError,
    SpeechLipCorrelation,
    TemporalMisalignment,
    UpperFaceDynamicsDeviation,
    WordErrorRate,
)

V = 12
LIPS, UPPER = [1, 4, 7], [9, 10, 11]
UP, LO = [1, 2], [3, 4]


def _data(seed: int, n_seq: int = 6, frames: int = 24):
    g = torch.Generator().manual_seed(seed)
    tpl = torch.randn(V, 3, generator=g, dtype=torch.float64)
    pred = tpl + 0.1 * torch.randn(n_seq, frames, V, 3, generator=g, dtype=torch.float64)
    gt = tpl + 0.1 * torch.randn(n_seq, frames, V, 3, generator=g, dtype=torch.float64)
    return pred, gt, tpl


def _np_lve(p, g):
    return float(((p[..., LIPS, :] - g[..., LIPS, :]) ** 2).sum(-1).max(-1).mean())


def _np_mve(p, g):
    return float(np.linalg.norm(p - g, axis=-1).mean())


def _np_fdd(p, g, tpl):
    def dyn(x):  # (T, V, 3) -> mean over upper vertices of the temporal std of the squared displacement
        return (((x[:, UPPER] - tpl[UPPER]) ** 2).sum(-1)).std(0).mean()

    return float(np.mean([dyn(g[s]) - dyn(p[s]) for s in range(len(p))]))


def _np_loc(p, g):
    def op(x):
        return np.linalg.norm(x[:, UP].mean(1) - x[:, LO].mean(1), axis=-1)

    return float(np.mean([np.corrcoef(op(p[s]), op(g[s]))[0, 1] for s in range(len(p))]))


def test_every_streaming_class_is_a_torchmetrics_metric_with_float64_sum_states():
    metrics = [
        LipVertexError(LIPS),
        MeanVertexError(),
        UpperFaceDynamicsDeviation(UPPER),
        CharErrorRate(),
        WordErrorRate(),
        LipOpeningCorrelation(UP, LO),
        TemporalMisalignment(UP, LO, fps=30.0),
        SpeechLipCorrelation(UP, LO, fps=30.0),
        SpeechLipCorrelation(UP, LO, fps=30.0, variant="clip", num_groups=2),
    ]
    for m in metrics:
        assert isinstance(m, Metric)
        assert m.full_state_update is False
        m.half()  # Lightning-style precision casts leave float64 states alone
        for name in m.state_names:
            assert getattr(m, name).dtype == torch.float64
            assert m._reductions[name] is not None  # a sum reduction
        assert m.report_scale("synth") > 0


def test_values_equal_numpy_and_forward_accumulates():
    pred, gt, tpl = _data(0)
    p, g, t = pred.numpy(), gt.numpy(), tpl.numpy()
    lve, mve, fdd, loc = LipVertexError(LIPS), MeanVertexError(), UpperFaceDynamicsDeviation(UPPER), \
        LipOpeningCorrelation(UP, LO)
    # forward on the first half returns that half's value, and the state keeps accumulating
    assert lve(pred[:3], gt[:3]).item() == pytest.approx(_np_lve(p[:3], g[:3]))
    assert mve(pred[:3], gt[:3]).item() == pytest.approx(_np_mve(p[:3], g[:3]))
    assert fdd(pred[:3], gt[:3], tpl).item() == pytest.approx(_np_fdd(p[:3], g[:3], t))
    assert loc(pred[:3], gt[:3]).item() == pytest.approx(_np_loc(p[:3], g[:3]))
    for m in (lve, mve, loc):
        m.update(pred[3:], gt[3:])
    fdd.update(pred[3:], gt[3:], tpl)
    assert lve.compute().item() == pytest.approx(_np_lve(p, g))
    assert mve.compute().item() == pytest.approx(_np_mve(p, g))
    assert fdd.compute().item() == pytest.approx(_np_fdd(p, g, t))
    assert loc.compute().item() == pytest.approx(_np_loc(p, g))


def test_forward_is_differentiable_for_vertex_metrics():
    pred, gt, _ = _data(1, n_seq=2)
    pred = pred.clone().requires_grad_(True)
    value = LipVertexError(LIPS)(pred, gt)
    value.backward()
    assert pred.grad is not None and float(pred.grad.abs().sum()) > 0


def test_fdd_forward_refuses_chunks():
    pred, gt, tpl = _data(2, n_seq=1)
    m = UpperFaceDynamicsDeviation(UPPER)
    with pytest.raises(RuntimeError, match="whole sequences"):
        m(pred, gt, tpl, end_of_sequence=False)
    m.update(pred[:, :10], gt[:, :10], tpl, end_of_sequence=False)
    with pytest.raises(RuntimeError, match="whole sequences"):
        m(pred, gt, tpl)


def test_new_metrics_state_is_constant_in_frames():
    fps = 30.0
    for frames in (10, 10_000):
        n_seq = max(1, frames // 100)
        t = frames // n_seq
        g = torch.Generator().manual_seed(3)
        pred = torch.randn(n_seq, t, V, 3, generator=g)
        gt = torch.randn(n_seq, t, V, 3, generator=g)
        audio = torch.randn(n_seq, int(t * 16_000 / fps), generator=g)
        loc, mtm = LipOpeningCorrelation(UP, LO), TemporalMisalignment(UP, LO, fps=fps)
        slcc = SpeechLipCorrelation(UP, LO, fps=fps)
        loc.update(pred, gt)
        mtm.update(pred, gt)
        slcc.update(pred, audio)
        sizes = (loc.state_nbytes(), mtm.state_nbytes(), slcc.state_nbytes())
        if frames == 10:
            small = sizes
    assert sizes == small == (16, 24, 16)


# ---------------------------------------------------------------- DDP (gloo, 2 processes)


def _collection() -> MetricCollection:
    return MetricCollection(
        {
            "lve": LipVertexError(LIPS),
            "mve": MeanVertexError(),
            "fdd": UpperFaceDynamicsDeviation(UPPER),
            "loc": LipOpeningCorrelation(UP, LO),
        },
        compute_groups=False,
    )


def _worker(rank: int, world: int, port: int, out_path: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        pred, gt, tpl = _data(7)
        coll = _collection()
        cer = CharErrorRate(aggregate="corpus")
        refs = ["bin blue at f two now", "place red by g nine", "lay white with s zero", "set green in u"]
        hyps = ["bin blue at two now", "place red by g nine please", "lay white s zero", "set grin in u"]
        for s in range(rank, len(pred), world):  # rank 0: sequences 0, 2, 4; rank 1: 1, 3, 5
            coll.update(pred[s], gt[s], template=tpl)
        cer.update(refs[rank::world], hyps[rank::world])
        values = {k: float(v) for k, v in coll.compute().items()}
        values["cer"] = float(cer.compute())
        local = float(coll["lve"].num_frames)  # compute syncs, then restores the rank's own state
        if rank == 0:
            torch.save({"values": values, "local_frames": local}, out_path)
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ddp_gloo_sync_equals_single_process(tmp_path):
    out = tmp_path / "rank0.pt"
    mp.spawn(_worker, args=(2, _free_port(), str(out)), nprocs=2, join=True)
    got = torch.load(out, weights_only=True)
    pred, gt, tpl = _data(7)
    single = _collection()
    for s in range(len(pred)):
        single.update(pred[s], gt[s], template=tpl)
    expected = {k: float(v) for k, v in single.compute().items()}
    cer = CharErrorRate(aggregate="corpus")
    cer.update(
        ["bin blue at f two now", "place red by g nine", "lay white with s zero", "set green in u"],
        ["bin blue at two now", "place red by g nine please", "lay white s zero", "set grin in u"],
    )
    expected["cer"] = float(cer.compute())
    assert got["values"].keys() == expected.keys()
    for k, v in expected.items():
        assert got["values"][k] == pytest.approx(v, rel=1e-12), k
    # independent check of the synced LVE against NumPy over all six sequences
    assert got["values"]["lve"] == pytest.approx(_np_lve(pred.numpy(), gt.numpy()))
    assert got["local_frames"] == 3 * 24
