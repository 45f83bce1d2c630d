"""mesh-renderer performance (pytest-benchmark), CPU, 2 threads.

Run: ``PYTHONPATH=packages/mesh-renderer/src python -m pytest benchmarks/perf/bm_renderer.py``
(add ``--benchmark-json=out.json`` to keep the figures; ``MESH_RENDERER_BENCH_THREADS`` overrides the
2 threads). Each case stores ``frames_per_s`` (mean) in ``extra_info``. Targets for the lip-reader
path (88 x 88 mouth window, batch 32, <= 3k triangles): >= 300 frames/s forward and >= 100 frames/s
forward + backward.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from mesh_renderer import OrthographicCamera, lip_sheets, render_frames, render_mouth_video

torch.set_num_threads(int(os.environ.get("MESH_RENDERER_BENCH_THREADS", "2")))

BATCH = 32


@pytest.fixture(scope="module")
def mouth_scene():
    v, f, lips = lip_sheets(rows=23, cols=32, opening=0.08)  # 2944 triangles
    assert f.shape[0] <= 3000
    gen = torch.Generator().manual_seed(0)
    seq = v.expand(BATCH, 1, -1, -1) + 0.01 * torch.randn(BATCH, 1, 1, 3, generator=gen)
    return seq.contiguous(), f, lips, OrthographicCamera(scale=0.4)  # ~90 px wide in a 224 image


@pytest.fixture(scope="module")
def biwi(shared_fixtures):
    import trimesh

    mesh = trimesh.load(shared_fixtures / "biwi" / "BIWI.ply", process=False)
    lips = np.array(
        [int(s) for s in (shared_fixtures / "biwi" / "lve.txt").read_text().replace(",", " ").split()]
    )
    return (
        torch.tensor(np.asarray(mesh.vertices), dtype=torch.float32),
        torch.tensor(np.asarray(mesh.faces), dtype=torch.int64),
        torch.tensor(lips),
    )


def _record(benchmark, frames):
    benchmark.extra_info["frames"] = frames
    benchmark.extra_info["frames_per_s"] = frames / benchmark.stats.stats.mean


def test_mouth_forward_88_batch32(benchmark, mouth_scene):
    seq, f, lips, cam = mouth_scene

    def run():
        with torch.no_grad():
            return render_mouth_video(seq, f, lips, cam, fps_in=25.0)

    out = benchmark.pedantic(run, rounds=8, warmup_rounds=2)
    assert out.shape == (BATCH, 1, 1, 88, 88)
    _record(benchmark, BATCH)


def test_mouth_forward_backward_88_batch32(benchmark, mouth_scene):
    seq, f, lips, cam = mouth_scene

    def run():
        x = seq.clone().requires_grad_(True)
        render_mouth_video(x, f, lips, cam, fps_in=25.0).square().mean().backward()
        return x.grad

    grad = benchmark.pedantic(run, rounds=8, warmup_rounds=2)
    assert torch.isfinite(grad).all()
    _record(benchmark, BATCH)


def test_mouth_forward_biwi_topology_batch32(benchmark, biwi):
    verts, faces, lips = biwi  # 46068 triangles, culled to the 88 x 88 window
    seq = verts.expand(BATCH, 1, -1, -1).contiguous()

    def run():
        with torch.no_grad():
            return render_mouth_video(seq, faces, lips, OrthographicCamera.preset("biwi"), fps_in=25.0)

    benchmark.pedantic(run, rounds=3, warmup_rounds=1)
    _record(benchmark, BATCH)


def test_full_face_224_video_frames(benchmark, biwi):
    verts, faces, _ = biwi
    seq = verts.expand(16, -1, -1).contiguous()
    frames = benchmark.pedantic(
        lambda: render_frames(seq, faces, OrthographicCamera.preset("biwi")), rounds=3, warmup_rounds=1
    )
    assert frames.shape == (16, 224, 224, 3)
    _record(benchmark, 16)
