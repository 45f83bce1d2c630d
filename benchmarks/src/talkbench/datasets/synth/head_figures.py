"""Figures of the data card for ``synth-head-v2`` (``talkbench data synth --topology synth-head-v2
--figures DIR``): speakers' neutral heads, the visemes, an open mouth, the readers' mouth crops."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .albedo import vertex_albedo
from .coarticulation import HEAD_TARGETS
from .head import HEAD_TOPOLOGY, load_head
from .head_identity import head_identity_shape
from .head_rig import HEAD_CHANNELS, HEAD_SPEECH_CHANNELS, build_head_rig

__all__ = ["FIGURE_VISEMES", "save_head_figures"]

#: the visemes shown, with the phones they stand for
FIGURE_VISEMES: tuple[tuple[str, str], ...] = (
    ("sil", "rest"),
    ("PP", "/p b m/"),
    ("FF", "/f v/"),
    ("TH", "/th dh/"),
    ("aa", "/aa ae/"),
    ("E", "/eh ey/"),
    ("oh", "/ao ow/"),
    ("ou", "/uw w/"),
)


def _titled(img: np.ndarray, text: str) -> np.ndarray:
    from PIL import Image, ImageDraw

    bar = Image.new("RGB", (img.shape[1], 16), (0, 0, 0))
    ImageDraw.Draw(bar).text((4, 2), text, fill=(255, 255, 255))
    return np.concatenate([np.asarray(bar), img], axis=0)


def _pose(vis: str) -> np.ndarray:
    p = np.zeros((1, len(HEAD_CHANNELS)), dtype=np.float32)
    p[0, : len(HEAD_SPEECH_CHANNELS)] = HEAD_TARGETS[vis]
    return p


def _yaw(v: np.ndarray, degrees: float, pitch: float = 0.0) -> np.ndarray:
    a, b = np.deg2rad(degrees), np.deg2rad(pitch)
    ry = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    return (v @ (rx @ ry).T).astype(np.float32)


def save_head_figures(out_dir: Path, seed: int = 0) -> list[Path]:
    """Write ``head_speakers.png``, ``head_visemes.png``, ``head_open_mouth.png`` and
    ``head_mouth_crops.png`` to ``out_dir``; return their paths."""
    from PIL import Image

    from mesh_renderer import OrthographicCamera, render_frames

    from ...config import RenderConfig
    from ...renders import render_mouth

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    head, rig = load_head(), build_head_rig()
    faces = torch.from_numpy(head.faces)
    albedo = torch.from_numpy(vertex_albedo(HEAD_TOPOLOGY))
    lips = head.region("lips")
    paths: list[Path] = []

    def frames(v: np.ndarray, camera: OrthographicCamera) -> np.ndarray:
        vt = torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32))
        return render_frames(vt, faces, camera, vertex_colors=albedo.expand(len(vt), -1, -1))

    # speakers' neutral heads (corpus speakers 1-8 of this seed: the templates of `talkbench data synth`)
    templates = [head_identity_shape(head, np.random.default_rng([seed, 2, i])) for i in range(1, 9)]
    cam = OrthographicCamera(scale=4.6, image_size=192, translation=(0.0, 0.01))
    imgs = frames(np.stack([_yaw(t, 20.0) for t in templates]), cam)
    tiles = [_titled(im, f"synth{i:02d}") for i, im in enumerate(imgs, start=1)]
    paths.append(out_dir / "head_speakers.png")
    Image.fromarray(np.concatenate([np.concatenate(tiles[:4], 1), np.concatenate(tiles[4:], 1)], 0)).save(
        paths[-1]
    )

    # visemes on the neutral head, frontal mouth close-up
    poses = np.concatenate([rig.apply(head.vertices, _pose(vis)) for vis, _ in FIGURE_VISEMES])
    centre = head.vertices[lips].mean(axis=0)
    mouth_cam = OrthographicCamera(
        scale=22.0, image_size=(150, 200), translation=(-float(centre[0]), -float(centre[1]) + 0.004)
    )
    imgs = frames(poses, mouth_cam)
    tiles = [_titled(im, f"{vis} {label}") for im, (vis, label) in zip(imgs, FIGURE_VISEMES)]
    paths.append(out_dir / "head_visemes.png")
    Image.fromarray(np.concatenate([np.concatenate(tiles[:4], 1), np.concatenate(tiles[4:], 1)], 0)).save(
        paths[-1]
    )

    # an open mouth seen from the front and from below-left: teeth, tongue, the dark cavity
    p = _pose("aa")
    p[0, HEAD_CHANNELS.index("jaw_open")] = 1.3
    p[0, HEAD_CHANNELS.index("upper_lip_raise")] = 0.6
    open_mouth = rig.apply(head.vertices, p)[0]
    tip = _pose("TH")
    tip[0, HEAD_CHANNELS.index("jaw_open")] = 0.5
    tongue = rig.apply(head.vertices, tip)[0]
    views = [(open_mouth, 0.0, 0.0), (open_mouth, -30.0, -25.0), (tongue, 0.0, 0.0), (tongue, -35.0, -10.0)]
    imgs = []
    for v, yaw, pitch in views:
        r = _yaw(v, yaw, pitch)
        c = r[lips].mean(axis=0)
        cam = OrthographicCamera(scale=18.0, image_size=(180, 220), translation=(-float(c[0]), -float(c[1])))
        imgs.append(frames(r[None], cam)[0])
    titles = ("open mouth", "open mouth, from below", "tongue tip out", "tongue tip, from the side")
    paths.append(out_dir / "head_open_mouth.png")
    Image.fromarray(np.concatenate([_titled(im, t) for im, t in zip(imgs, titles)], 1)).save(paths[-1])

    # the mouth crops the readers see (44 px, grayscale, the head preset's render settings)
    cfg = RenderConfig(
        camera_scale=11.0, image_size=112, crop_size=48, out_size=44, blur_pixels=1.0, faces_per_pixel=2
    )
    crops = []
    for k in range(len(FIGURE_VISEMES)):
        seq = torch.from_numpy(np.repeat(poses[k : k + 1], 3, axis=0))[None]
        video = render_mouth(seq, faces, lips, 25.0, cfg, albedo)[0, 0, 0]
        gray = (video * cfg.std + cfg.mean).clamp(0, 1).numpy()
        big = np.kron(gray, np.ones((3, 3)))
        crops.append(
            _titled(
                np.repeat((big * 255).round().astype(np.uint8)[..., None], 3, axis=2), FIGURE_VISEMES[k][0]
            )
        )
    paths.append(out_dir / "head_mouth_crops.png")
    Image.fromarray(np.concatenate(crops, 1)).save(paths[-1])
    return paths
