"""Mouth render of the synthetic faces side by side (pytest-benchmark), CPU, 2 threads.

The AV-guidance and evaluation path of the synthetic presets: ``talkbench.renders.render_mouth`` of a
60-frame sequence (2 s at 30 fps, random rig poses), forward and backward, 44 px window. Cases:
``synth-face-v1`` (1,714 vertices, 3,284 triangles, the default preset's camera scale 8),
``synth-head-v2`` (4,786 vertices, 9,432 triangles with mouth cavity, teeth, tongue and eyes; per-part
albedo, back faces culled, camera scale 11), and the head without culling (what culling saves).
Run: ``python -m pytest benchmarks/perf/bm_head_render.py --benchmark-only``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mesh_renderer import render_mouth_video
from talkbench.config import RenderConfig
from talkbench.datasets.synth.albedo import vertex_albedo
from talkbench.datasets.synth.face import build_face
from talkbench.datasets.synth.head import HEAD_TOPOLOGY, load_head
from talkbench.datasets.synth.head_rig import HEAD_CHANNELS, build_head_rig
from talkbench.datasets.synth.rig import CHANNELS, build_rig
from talkbench.renders import camera_for, crop_for, render_mouth

torch.set_num_threads(2)
FRAMES = 60


def _cfg(scale: float) -> RenderConfig:
    return RenderConfig(
        camera_scale=scale, image_size=112, crop_size=48, out_size=44, blur_pixels=1.0, faces_per_pixel=2
    )


def _poses(n_channels: int) -> np.ndarray:
    return np.random.default_rng(0).uniform(0.0, 0.6, (FRAMES, n_channels)).astype(np.float32)


@pytest.fixture(scope="module")
def face_v1():
    face = build_face()
    v = build_rig().apply(face.vertices, _poses(len(CHANNELS)))
    return torch.from_numpy(v)[None], torch.from_numpy(face.faces), face.region("lips")


@pytest.fixture(scope="module")
def head_v2():
    head = load_head()
    v = build_head_rig().apply(head.vertices, _poses(len(HEAD_CHANNELS)))
    return torch.from_numpy(v)[None], torch.from_numpy(head.faces), head.region("lips")


def _step(verts, faces, lips, cfg, albedo=None, cull=None):
    v = verts.clone().requires_grad_(True)
    if cull is None:
        out = render_mouth(v, faces, lips, 30.0, cfg, albedo)
    else:  # the same call with culling forced on or off
        out = render_mouth_video(
            v,
            faces,
            lips,
            camera_for(cfg),
            fps_in=30.0,
            fps_out=cfg.reader_fps,
            crop=crop_for(cfg),
            blur_pixels=cfg.blur_pixels,
            faces_per_pixel=cfg.faces_per_pixel,
            vertex_colors=albedo,
            cull_backfaces=cull,
        )
    out.sum().backward()
    return out


def _record(benchmark):
    benchmark.extra_info["ms_per_sequence"] = 1000 * benchmark.stats.stats.mean


def test_mouth_render_face_v1(benchmark, face_v1):
    benchmark.pedantic(_step, args=(*face_v1, _cfg(8.0)), rounds=5, warmup_rounds=1)
    _record(benchmark)


def test_mouth_render_head_v2(benchmark, head_v2):
    albedo = torch.from_numpy(vertex_albedo(HEAD_TOPOLOGY))
    benchmark.pedantic(_step, args=(*head_v2, _cfg(11.0), albedo), rounds=5, warmup_rounds=1)
    _record(benchmark)


def test_mouth_render_head_v2_without_culling(benchmark, head_v2):
    albedo = torch.from_numpy(vertex_albedo(HEAD_TOPOLOGY))
    benchmark.pedantic(_step, args=(*head_v2, _cfg(11.0), albedo, False), rounds=5, warmup_rounds=1)
    _record(benchmark)
