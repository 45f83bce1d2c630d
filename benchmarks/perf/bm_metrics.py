"""Performance of facial-metrics: LVE + FDD throughput and peak memory against torchmetrics' LVE.

Run::

    PYTHONPATH=packages/facial-metrics/src python -m pytest benchmarks/perf/bm_metrics.py --benchmark-only

* ``test_lve_fdd_throughput``: streaming LVE (``max_sq``) and FDD (``codetalker``) over 10,000 frames
  of a 5023-vertex (FLAME-sized) topology, fed as 10 sequences of 1,000 frames; the frames per second
  are stored in ``extra_info``.
* ``test_lve_peak_memory_vs_torchmetrics``: the same 10,000 frames (10 chunks of 1,000 frames, each a
  new tensor pair) go through our ``LipVertexError`` and through torchmetrics'
  ``LipVertexError`` module; each runs in a fresh Python process that, after its imports, resets the
  kernel's peak-RSS mark (``/proc/self/clear_refs``) and reports how far the peak resident set
  (``VmHWM``) rose above the resident set at that point, so the figure covers the data chunks, the
  metric state and ``compute``; where ``/proc`` cannot be used it falls back to ``ru_maxrss``.
  torchmetrics keeps every vertex tensor as state and concatenates them in ``compute``; ours keeps
  two float64 scalars.

The masks are random vertex sets of the sizes of FLAME ``lips`` (254) and ``forehead`` +
``eye_region`` (884); the figures do not depend on which vertices are chosen.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")
facial_metrics = pytest.importorskip("facial_metrics")

V = 5023
FRAMES_PER_SEQ = 1_000
NUM_SEQS = 10
LIPS, UPPER = 254, 884


def _masks():
    g = torch.Generator().manual_seed(0)
    perm = torch.randperm(V, generator=g)
    return perm[:LIPS].sort().values.tolist(), perm[LIPS : LIPS + UPPER].sort().values.tolist()


def test_lve_fdd_throughput(benchmark):
    torch.set_num_threads(2)
    lips, upper = _masks()
    g = torch.Generator().manual_seed(1)
    template = torch.randn(V, 3, generator=g) * 0.1
    gt = template + 1e-3 * torch.randn(FRAMES_PER_SEQ, V, 3, generator=g)
    pred = template + 1e-3 * torch.randn(FRAMES_PER_SEQ, V, 3, generator=g)
    lve = facial_metrics.LipVertexError(lips)
    fdd = facial_metrics.UpperFaceDynamicsDeviation(upper)

    def run():
        lve.reset()
        fdd.reset()
        for _ in range(NUM_SEQS):
            lve.update(pred, gt)
            fdd.update(pred, gt, template)
        return lve.compute(), fdd.compute()

    result = benchmark.pedantic(run, rounds=5, iterations=1, warmup_rounds=1)
    assert float(lve.num_frames) == NUM_SEQS * FRAMES_PER_SEQ and torch.isfinite(result[0])
    frames = NUM_SEQS * FRAMES_PER_SEQ
    benchmark.extra_info["frames"] = frames
    benchmark.extra_info["vertices"] = V
    benchmark.extra_info["frames_per_second_mean"] = frames / benchmark.stats.stats.mean
    benchmark.extra_info["frames_per_second_best"] = frames / benchmark.stats.stats.min


_CHILD = r"""
import json, resource, sys
import torch
torch.set_num_threads(2)
which, V, T, N = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
lips = json.loads(sys.argv[5])
if which == "ours":
    from facial_metrics import LipVertexError
    metric = LipVertexError(lips)
else:
    from torchmetrics.multimodal import LipVertexError
    metric = LipVertexError(mouth_map=lips)

def status_mib(field):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    raise KeyError(field)

try:
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # reset the peak-RSS mark to the current RSS
    method = "VmHWM"
    base = status_mib("VmRSS")
except OSError:
    method = "ru_maxrss"
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
g = torch.Generator().manual_seed(2)
for _ in range(N):
    pred = torch.randn(T, V, 3, generator=g)
    gt = torch.randn(T, V, 3, generator=g)
    metric.update(pred, gt)
    del pred, gt
value = float(metric.compute())
if method == "VmHWM":
    peak = status_mib("VmHWM")
else:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
out = {"value": value, "method": method, "baseline_mib": base, "peak_mib": peak, "growth_mib": peak - base}
print(json.dumps(out))
"""


def _peak(which: str, lips: list[int]) -> dict:
    args = [sys.executable, "-c", _CHILD, which, str(V), str(FRAMES_PER_SEQ), str(NUM_SEQS)]
    args.append(json.dumps(lips))
    out = subprocess.run(args, capture_output=True, text=True, env=os.environ.copy(), timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"{which} memory probe failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_lve_peak_memory_vs_torchmetrics(benchmark):
    pytest.importorskip("torchmetrics")
    lips, _ = _masks()
    results: dict[str, dict] = {}

    def run():
        results["ours"] = _peak("ours", lips)
        results["torchmetrics"] = _peak("torchmetrics", lips)

    benchmark.pedantic(run, rounds=1, iterations=1)
    ours, ref = results["ours"], results["torchmetrics"]
    assert ours["value"] == pytest.approx(ref["value"], rel=1e-5)  # same data, same LVE
    data_mib = NUM_SEQS * FRAMES_PER_SEQ * V * 3 * 4 * 2 / 2**20
    for name, r in results.items():
        for key in ("baseline_mib", "peak_mib", "growth_mib"):
            benchmark.extra_info[f"{name}_{key}"] = round(r[key], 1)
        benchmark.extra_info[f"{name}_peak_method"] = r["method"]
    benchmark.extra_info["all_frames_pred_plus_gt_mib"] = round(data_mib, 1)
    print(
        f"\npeak RSS growth over 10,000 frames x {V} vertices: ours {ours['growth_mib']:.1f} MiB, "
        f"torchmetrics {ref['growth_mib']:.1f} MiB (pred+gt of all frames = {data_mib:.1f} MiB)"
    )
    # ours must not hold the data: well under the size of all frames
    assert ours["growth_mib"] < 0.25 * data_mib
