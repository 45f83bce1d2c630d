"""Mouth renders for the lip readers: camera, crop and the cache of ground-truth renders.

The same camera, crop and normalisation serve the AV-guidance expert (differentiable renders of
predictions, ``mesh_renderer.render_mouth_video``) and the evaluation reader (renders of ground
truth for training it, of predictions for scoring them), so what a reader sees at test time is
what it was trained on. Renders are resampled from the motion rate to ``render.reader_fps``
(25 fps) by linear interpolation in time.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch

from lipread_expert import InputSpec
from mesh_renderer import MouthCrop, OrthographicCamera, render_mouth_video

from .config import RenderConfig
from .datasets import Sample

__all__ = ["camera_for", "crop_for", "input_spec_for", "render_mouth", "render_samples"]


def camera_for(cfg: RenderConfig) -> OrthographicCamera:
    return OrthographicCamera(scale=cfg.camera_scale, image_size=cfg.image_size)


def crop_for(cfg: RenderConfig) -> MouthCrop:
    return MouthCrop(crop_size=cfg.crop_size, out_size=cfg.out_size, mean=cfg.mean, std=cfg.std)


def input_spec_for(cfg: RenderConfig) -> InputSpec:
    """The lip readers' input contract matching these renders."""
    return InputSpec(fps=cfg.reader_fps, crop=cfg.out_size, mean=cfg.mean, std=cfg.std)


def render_mouth(
    vertices: torch.Tensor,
    faces: torch.Tensor,
    lip_indices: np.ndarray | torch.Tensor,
    fps: float,
    cfg: RenderConfig,
    albedo: np.ndarray | torch.Tensor | None = None,
) -> torch.Tensor:
    """``(B, T, V, 3)`` vertices at ``fps`` → normalised mouth video ``(B, T25, 1, S, S)``, differentiably.

    ``albedo``: ``(V, 3)`` per-vertex colour of the topology (``Sample.albedo``; the synthetic head's
    parts), or ``None`` for a uniform grey. With an albedo (a whole head with a mouth interior, teeth
    and tongue) triangles facing away from the camera are culled before the candidate search: most of
    the interior is then never searched, and the mouth render of a 60-frame sequence, forward and
    backward at 44 px, takes about half as long (docs/datasets.md). Height-field faces without an
    albedo render exactly as before."""
    return render_mouth_video(
        vertices,
        faces,
        lip_indices,
        camera_for(cfg),
        fps_in=fps,
        fps_out=cfg.reader_fps,
        crop=crop_for(cfg),
        blur_pixels=cfg.blur_pixels,
        faces_per_pixel=cfg.faces_per_pixel,
        vertex_colors=albedo,
        cull_backfaces=albedo is not None,
    )


def _key(samples: list[Sample], cfg: RenderConfig, data_hash: str) -> str:
    payload = {"render": cfg.model_dump(), "data": data_hash, "names": [s.name for s in samples], "v": 1}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


@torch.no_grad()
def render_samples(
    samples: list[Sample],
    lip_indices: np.ndarray,
    cfg: RenderConfig,
    cache_dir: Path,
    data_hash: str,
    label: str,
    progress: bool = False,
) -> list[torch.Tensor]:
    """Ground-truth mouth videos ``(T25, 1, S, S)`` (float16 on disk) of ``samples``, cached by content.

    The cache file ``<cache_dir>/renders-<label>-<key>.pt`` is keyed by the render config, the
    dataset hash and the sample names; it is written atomically.
    """
    from tqdm import tqdm

    from .training.checkpoint import CheckpointError, load_training_state, save_training_state

    path = Path(cache_dir) / f"renders-{label}-{_key(samples, cfg, data_hash)}.pt"
    if path.is_file():
        stored = load_training_state(path, expected="a ground-truth renders cache (delete it to re-render)")
        videos = stored.get("videos")
        if (
            not isinstance(videos, list)
            or len(videos) != len(samples)
            or not all(isinstance(v, torch.Tensor) for v in videos)
        ):
            raise CheckpointError(
                f"{path}: expected a renders cache of {len(samples)} videos; delete it to re-render"
            )
        return [v.float() for v in videos]
    videos = []
    for s in tqdm(samples, desc=f"render {label}", disable=not progress):
        faces = torch.from_numpy(np.asarray(s.faces, dtype=np.int64))
        v = torch.from_numpy(np.ascontiguousarray(s.vertices, dtype=np.float32))[None]
        videos.append(render_mouth(v, faces, lip_indices, s.fps, cfg, s.albedo)[0].half())
    save_training_state(path, {"videos": videos, "names": [s.name for s in samples]})
    return [v.float() for v in videos]
