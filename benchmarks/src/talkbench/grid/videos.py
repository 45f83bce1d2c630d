"""The sample video of a grid cell: prediction | ground truth | error, whole face and mouth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..training.animator import AnimatorTrainer
from .context import GridContext

__all__ = ["sample_video"]


def _face_camera(template: np.ndarray, masks: dict[str, Any], size: int) -> Any:
    """A square orthographic view of the face, from the chin to the forehead, for any topology (FLAME,
    BIWI, the procedural face, the synthetic head with its skull and neck), in any units.

    With ``a`` the lowest point of the upper-face region (about the eyes), ``b`` the lowest lip point and
    ``d = a - b``, the view spans ``y`` from ``b - 0.55 d`` (the chin) to ``a + 0.75 d`` (the forehead) and
    the width of the lip and upper-face regions, on the longer side, with a 5 % margin, centred."""
    from mesh_renderer import OrthographicCamera

    tpl = np.asarray(template, dtype=np.float64)
    lips, upper = tpl[np.asarray(masks["lip"].indices)], tpl[np.asarray(masks["upper"].indices)]
    a, b = float(upper[:, 1].min()), float(lips[:, 1].min())
    d = max(a - b, 1e-9)
    y0, y1 = b - 0.55 * d, a + 0.75 * d
    x = np.concatenate([lips[:, 0], upper[:, 0]])
    x0, x1 = float(x.min()), float(x.max())
    half = max(y1 - y0, x1 - x0) / 2 * 1.05
    return OrthographicCamera(scale=1.0 / half, translation=(-(x0 + x1) / 2, -(y0 + y1) / 2), image_size=size)


def sample_video(ctx: GridContext, trainer: AnimatorTrainer) -> Path | None:
    """mp4 of the first test sequence, style 0: prediction | ground truth | error at 256 px, and below it
    the same three panels zoomed onto the lip vertices (``mesh_renderer`` layout ``"mouth"``), the
    error on the preset's shared colour scale (``video_error_max_mm``), a caption band at the bottom."""
    from mesh_renderer import render_video

    from ..training.data import to_animator_input

    sample = ctx.eval.samples[0]
    style = ctx.eval.styles[0][0] if not ctx.eval.own_style else None
    inp = to_animator_input(sample, style=style, device=ctx.device)
    inp_style = ctx.eval.styles[0][1] if not ctx.eval.own_style else "own"
    pred = trainer.model.predict(
        inp.audio, inp.template, inp.style, transcript=inp.transcript, words=inp.words
    )[0].cpu()
    gt = torch.from_numpy(sample.vertices.copy())
    n = min(pred.shape[0], gt.shape[0])
    cam = _face_camera(sample.template, ctx.masks, 256)
    path = ctx.work / "videos" / f"{trainer.run.run_id}.mp4"
    path.parent.mkdir(parents=True, exist_ok=True)
    return render_video(
        pred[:n],
        torch.from_numpy(np.asarray(sample.faces)),
        path,
        fps=sample.fps,
        gt=gt[:n],
        audio=(sample.audio, 16000),
        camera=cam,
        layout="mouth",
        mouth=np.asarray(ctx.masks["lip"].indices),
        albedo=sample.albedo,
        cull_backfaces=sample.albedo is not None,  # a whole (closed) head: its back faces are hidden
        # one colour scale for every video of the preset, in millimetres
        error_max=ctx.config.video_error_max_mm,
        error_scale=1e3,
        error_label="L2 error, mm",
        footer=(
            f"{sample.name}, style {inp_style}: error colour scale 0-"
            f"{ctx.config.video_error_max_mm:g} mm, shared by every video of this preset"
        ),
    )
