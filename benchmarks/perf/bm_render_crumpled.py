"""Mouth render of a crumpled FLAME-sized mesh (an untrained animator's output), CPU, 2 threads.

Run: ``python -m pytest benchmarks/perf/bm_render_crumpled.py --benchmark-only``. The mesh has FLAME's
5,023 vertices and 9,976 faces, but random vertex positions spread over and beyond the face (+-0.3 m, about
+-270 px at the VOCASET camera scale 8), so every triangle is huge and each pixel of the 88 x 88 mouth
window is covered by thousands of them. Cases store ``s_per_frame`` and, for the memory case,
``peak_rss_mib`` (``ru_maxrss`` of a fresh subprocess that renders the frames, minus its RSS before
rendering) in ``extra_info``. Reference (issue #14, 1 thread): 14.5 s and 535 MiB over baseline per
frame before the bounded search; 2.1 s and 290 MiB after.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys

import torch

from mesh_renderer import OrthographicCamera, render_mouth_video

torch.set_num_threads(int(os.environ.get("MESH_RENDERER_BENCH_THREADS", "2")))

FRAMES = 2
PEAK_RSS_BUDGET_MIB = 1024  # the chunked search evaluates at most MAX_PAIRS (2**21) pairs at once


def crumpled_scene(frames: int = FRAMES, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    verts = (torch.rand(1, frames, 5023, 3, generator=g) - 0.5) * 0.6
    faces = torch.randint(0, 5023, (9976, 3), generator=g)
    return verts, faces, torch.arange(200), OrthographicCamera(scale=8.0)


def render(scene) -> torch.Tensor:
    verts, faces, lips, cam = scene
    with torch.no_grad():
        return render_mouth_video(verts, faces, lips, cam, fps_in=25.0)


def test_crumpled_flame_mouth_render(benchmark):
    scene = crumpled_scene()
    out = benchmark.pedantic(render, args=(scene,), rounds=2, warmup_rounds=0)
    assert out.shape == (1, FRAMES, 1, 88, 88) and torch.isfinite(out).all()
    benchmark.extra_info["s_per_frame"] = benchmark.stats.stats.mean / FRAMES


def test_crumpled_flame_mouth_render_peak_memory(benchmark):
    def measure() -> float:
        proc = subprocess.run(
            [sys.executable, __file__, str(FRAMES)], capture_output=True, text=True, check=True, timeout=600
        )
        return float(proc.stdout.split()[-1])

    peak = benchmark.pedantic(measure, rounds=1, warmup_rounds=0)
    benchmark.extra_info["peak_rss_mib"] = peak
    assert peak < PEAK_RSS_BUDGET_MIB, f"peak RSS {peak:.0f} MiB over the {PEAK_RSS_BUDGET_MIB} MiB budget"


if __name__ == "__main__":  # subprocess of the memory case: prints the RSS growth while rendering, in MiB
    scene = crumpled_scene(int(sys.argv[1]))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    render(scene)
    print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
