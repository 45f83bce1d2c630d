"""MP4 videos (H.264, yuv420p) with the audio muxed in, through imageio-ffmpeg's bundled ffmpeg.

Layouts: ``"prediction"`` alone, ``"side_by_side"`` = prediction | ground truth | per-vertex error heat map
with a colour bar (the error panel needs ``gt``), and ``"mouth"`` = the side-by-side row above a second row
with the same three panels zoomed onto the mouth (needs ``gt`` and the lip vertex indices). The error is
the per-vertex L2 distance ``||pred_v - gt_v||`` in the vertices' units, drawn on the predicted geometry.

The mouth zoom of ``"mouth"`` is rendered, not upscaled: an orthographic camera looks at the bounding
box of the ground truth's lip vertices over every frame (one fixed box, so the zoom does not jitter, is
the same for every model shown on the sequence, and stays on the mouth when a prediction is far off the
face: predicted lips outside the box leave the panel), widened by ``mouth_margin`` of its half-size on
each side and to the panel's aspect (width : height = 2 : 1), and centred in the panel
(:func:`mouth_camera`).
"""

from __future__ import annotations

import hashlib
import tempfile
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from .blending import BlendParams
from .cameras import Camera, OrthographicCamera
from .colormap import apply_colormap, colorbar_image
from .fragments import RasterSettings, blur_radius_for_pixels
from .renderer import MeshRenderer, get_rasterizer
from .shaders import LambertShader

__all__ = [
    "LAYOUTS",
    "compose_frames",
    "mouth_camera",
    "render_frame_sets",
    "render_frames",
    "render_video",
    "write_video",
]

#: the layouts of :func:`render_video`
LAYOUTS: tuple[str, ...] = ("side_by_side", "prediction", "mouth")

_EXTRA_HINT = "video output needs the 'video' extra: pip install mesh-renderer[video]"


def render_frames(
    vertices: torch.Tensor,
    faces: torch.Tensor,
    camera: Camera,
    vertex_colors: torch.Tensor | None = None,
    chunk: int = 16,
    backend: str = "torch",
    antialias: bool = True,
    cull_backfaces: bool = False,
) -> np.ndarray:
    """``(T, H, W, 3)`` uint8 frames of ``(T, V, 3)`` vertices (Lambert, AV-guidance lights, black).

    Open meshes (FLAME and BIWI heads: eyelid openings, nostrils, the neck) render clean along their
    boundaries: back faces seen through a hole are lit like front faces (``two_sided``) and pixels whose
    soft candidates are all blur-band triangles get their covering triangle back (``restore_covered``).
    A closed mesh (a whole head) can skip its back faces instead (``cull_backfaces``): they are hidden.
    """
    return render_frame_sets(
        vertices, faces, camera, [vertex_colors], chunk=chunk, backend=backend, antialias=antialias,
        cull_backfaces=cull_backfaces,
    )[0]


def render_frame_sets(
    vertices: torch.Tensor,
    faces: torch.Tensor,
    camera: Camera,
    colour_sets: Sequence[torch.Tensor | None],
    chunk: int = 16,
    backend: str = "torch",
    antialias: bool = True,
    cull_backfaces: bool = False,
) -> list[np.ndarray]:
    """:func:`render_frames` of one geometry in several colourings (e.g. albedo and an error heat map).

    Each chunk of frames is rasterized and lit once, then coloured once per entry of ``colour_sets``
    (``(T, V, 3)``, ``(V, 3)`` or ``None`` for uniform grey; :meth:`LambertShader.colourings`): the
    frames are those :func:`render_frames` gives for each colouring alone."""
    if vertices.ndim != 3 or vertices.shape[-1] != 3:
        raise ValueError(f"vertices must have shape (T, V, 3), got {tuple(vertices.shape)}")
    if not colour_sets:
        raise ValueError("colour_sets is empty: pass at least one colouring (None for uniform grey)")
    size = camera.image_size
    blur = blur_radius_for_pixels(0.75, size) if antialias else 0.0
    settings = RasterSettings(
        image_size=size,
        blur_radius=blur,
        faces_per_pixel=3 if antialias else 1,
        cull_backfaces=cull_backfaces,
    )
    rasterizer = get_rasterizer(backend, settings)
    blend = BlendParams(sigma=blur / 9.21) if antialias else BlendParams()
    renderer = MeshRenderer(camera, rasterizer, restore_covered=antialias)
    out: list[list[np.ndarray]] = [[] for _ in colour_sets]
    with torch.no_grad():
        for s in range(0, vertices.shape[0], chunk):
            fragments, inputs = renderer.rasterize(vertices[s : s + chunk], faces)
            chunk_sets = [c if c is None or c.ndim == 2 else c[s : s + chunk] for c in colour_sets]
            images = LambertShader(blend=blend, two_sided=True).colourings(fragments, inputs, chunk_sets)
            for frames, img in zip(out, images, strict=True):
                frames.append((img[..., :3].clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy())
    return [np.concatenate(frames, axis=0) for frames in out]


#: most recently rendered ground-truth panels, keyed by a digest of everything that decides their pixels
_PANEL_CACHE: OrderedDict[str, np.ndarray] = OrderedDict()
_PANEL_CACHE_SIZE = 4


def _digest(*parts: object) -> str:
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, torch.Tensor):
            t = part.detach().cpu().contiguous()
            h.update(f"{t.dtype}{tuple(t.shape)}".encode())
            h.update(t.numpy().tobytes())
        else:
            h.update(repr(part).encode())
    return h.hexdigest()


def _cached_panel(key: str, render: Callable[[], np.ndarray]) -> np.ndarray:
    """``render()``, or the panel it gave for the same ``key`` among the last few (a grid's sample videos
    all show the same ground-truth sequence beside each model's prediction)."""
    if key in _PANEL_CACHE:
        _PANEL_CACHE.move_to_end(key)
        return _PANEL_CACHE[key]
    panel = render()
    panel.setflags(write=False)
    _PANEL_CACHE[key] = panel
    while len(_PANEL_CACHE) > _PANEL_CACHE_SIZE:
        _PANEL_CACHE.popitem(last=False)
    return panel


def _load_audio(audio: str | Path | tuple[np.ndarray, int]) -> tuple[np.ndarray, int]:
    import soundfile

    if isinstance(audio, (str, Path)):
        path = Path(audio)
        if not path.is_file():
            raise FileNotFoundError(f"audio file not found: {path}")
        data, sr = soundfile.read(str(path), dtype="float32", always_2d=True)
        return data, int(sr)
    wave, sr = audio
    wave = np.asarray(
        wave.detach().cpu().numpy() if isinstance(wave, torch.Tensor) else wave, dtype=np.float32
    )
    if wave.ndim == 1:
        wave = wave[:, None]
    if wave.ndim != 2:
        raise ValueError(f"audio waveform must be (S,) or (S, channels), got shape {wave.shape}")
    return wave, int(sr)


def write_video(
    frames: np.ndarray,
    path: str | Path,
    fps: float,
    audio: str | Path | tuple[np.ndarray, int] | None = None,
    quality: int = 7,
) -> Path:
    """Encode ``(T, H, W, 3)`` uint8 frames to H.264/yuv420p mp4; mux ``audio`` (path or ``(wave, rate)``).

    The audio is trimmed or zero-padded to the video's duration ``T / fps``. Odd frame sizes are padded by
    one black row/column (yuv420p needs even sizes).
    """
    try:
        import imageio_ffmpeg
    except ImportError as err:  # pragma: no cover - part of the video extra
        raise ImportError(_EXTRA_HINT) from err
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 (T, H, W, 3), got {frames.dtype} {frames.shape}")
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    t, h, w, _ = frames.shape
    frames = np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        audio_path = None
        if audio is not None:
            import soundfile

            wave, sr = _load_audio(audio)
            n = round(t / fps * sr)
            wave = wave[:n] if len(wave) >= n else np.pad(wave, ((0, n - len(wave)), (0, 0)))
            audio_path = str(Path(tmp) / "audio.wav")
            soundfile.write(audio_path, wave, sr, subtype="PCM_16")
        writer = imageio_ffmpeg.write_frames(
            str(path),
            (frames.shape[2], frames.shape[1]),
            fps=fps,
            codec="libx264",
            pix_fmt_out="yuv420p",
            quality=quality,
            macro_block_size=2,
            audio_path=audio_path,
            audio_codec="aac" if audio_path else None,
            # ffmpeg warns "Guessed Channel Layout: mono" for every muxed WAV (it carries no layout);
            # errors still reach stderr
            ffmpeg_log_level="error",
        )
        writer.send(None)
        for frame in frames:
            writer.send(np.ascontiguousarray(frame))
        writer.close()
    return path


def _title(panel: np.ndarray, text: str) -> np.ndarray:
    try:
        from PIL import Image, ImageDraw
    except ImportError:  # pragma: no cover
        return panel
    bar = Image.new("RGB", (panel.shape[1], 18), (0, 0, 0))
    ImageDraw.Draw(bar).text((4, 3), text, fill=(255, 255, 255))
    return np.concatenate([np.asarray(bar), panel], axis=0)


def mouth_camera(
    camera: OrthographicCamera,
    lip_points: torch.Tensor,
    panel_size: tuple[int, int],
    margin: float = 0.35,
) -> OrthographicCamera:
    """Orthographic camera of ``panel_size = (H, W)`` pixels centred on the ``(..., 3)`` lip points.

    The points' bounding box in the camera's image plane (x, y), widened by ``margin`` × its half-size
    on each side, is fitted into the panel (the tighter of the two directions decides the scale) and
    centred. Depth keeps the ordering of ``camera`` (``z_offset`` grows with the scale).
    """
    if not isinstance(camera, OrthographicCamera):
        raise ValueError(f"the mouth zoom needs an OrthographicCamera, got {type(camera).__name__}")
    if margin < 0:
        raise ValueError(f"mouth_margin must be >= 0, got {margin}")
    pts = lip_points.detach().reshape(-1, 3).double()
    if pts.shape[0] == 0:
        raise ValueError("no lip points to zoom onto")
    lo, hi = pts[:, :2].min(dim=0).values, pts[:, :2].max(dim=0).values
    centre, half = (lo + hi) / 2, (hi - lo) / 2 * (1.0 + margin)
    h, w = panel_size
    # NDC: the shorter panel side spans [-1, 1]
    ndc_x, ndc_y = w / min(h, w), h / min(h, w)
    limits = [lim / float(e) for lim, e in ((ndc_x, half[0]), (ndc_y, half[1])) if float(e) > 1e-12]
    if not limits:
        raise ValueError("the lip points have no extent in the image plane; nothing to zoom onto")
    scale = min(limits)
    return OrthographicCamera(
        scale=scale,
        translation=(-float(centre[0]), -float(centre[1])),
        image_size=(h, w),
        z_offset=camera.z_offset * scale / camera.scale,
    )


def compose_frames(
    pred: torch.Tensor,
    faces: torch.Tensor,
    gt: torch.Tensor | None = None,
    camera: Camera | None = None,
    layout: str = "side_by_side",
    error_max: float | None = None,
    error_label: str = "L2",
    backend: str = "torch",
    mouth: np.ndarray | torch.Tensor | None = None,
    mouth_margin: float = 0.35,
    albedo: np.ndarray | torch.Tensor | None = None,
    cull_backfaces: bool = False,
    error_scale: float = 1.0,
    footer: str | None = None,
) -> np.ndarray:
    """The ``(T, H, W, 3)`` uint8 frames :func:`render_video` encodes (arguments as there)."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(map(repr, LAYOUTS))}, got {layout!r}")
    if layout != "prediction" and gt is None:
        raise ValueError(f"layout={layout!r} needs gt (ground-truth vertices); use layout='prediction'")
    if layout == "mouth" and mouth is None:
        raise ValueError("layout='mouth' needs mouth (the lip vertex indices)")
    if gt is not None and gt.shape != pred.shape:
        raise ValueError(f"gt shape {tuple(gt.shape)} differs from pred shape {tuple(pred.shape)}")
    camera = camera or OrthographicCamera(scale=1.0)
    pred = pred.detach()
    shade = None
    if albedo is not None:
        shade = torch.as_tensor(np.asarray(albedo, dtype=np.float32)).to(pred)
        if shade.shape != (pred.shape[1], 3):
            raise ValueError(f"albedo must have shape ({pred.shape[1]}, 3), got {tuple(shade.shape)}")
        shade = shade.expand(pred.shape[0], -1, -1)
    def render(v: torch.Tensor, cam: Camera, colour_sets: list[torch.Tensor | None]) -> list[np.ndarray]:
        return render_frame_sets(v, faces, cam, colour_sets, backend=backend, cull_backfaces=cull_backfaces)

    if layout == "prediction":
        return _with_footer(_stack_titles(render(pred, camera, [shade])[0], "prediction"), footer)
    assert gt is not None
    gt = gt.detach().to(pred)

    def gt_panel(cam: Camera, title: str) -> np.ndarray:
        key = _digest(gt, faces, cam, shade, title, backend, cull_backfaces)
        return _cached_panel(key, lambda: _stack_titles(render(gt, cam, [shade])[0], title))

    if not error_scale > 0:
        raise ValueError(f"error_scale must be > 0, got {error_scale!r}")
    err = (pred - gt).norm(dim=-1) * error_scale  # (T, V), in the colour bar's unit
    vmax = float(error_max) if error_max is not None else max(float(err.max()), 1e-12)
    colours = apply_colormap(err, 0.0, vmax).to(pred)
    # the prediction and its error map share one rasterization
    lit, heat = render(pred, camera, [shade, colours])
    heat = _stack_titles(heat, "error")
    bar = colorbar_image(heat.shape[1], 0.0, vmax, label=error_label)
    panels = [_stack_titles(lit, "prediction"), gt_panel(camera, "ground truth")]
    panels += [heat, np.broadcast_to(bar, (heat.shape[0], *bar.shape))]
    top = np.concatenate(panels, axis=2)
    if layout == "side_by_side":
        return _with_footer(top, footer)
    idx = torch.from_numpy(np.array(mouth, dtype=np.int64).reshape(-1))
    h, w = camera.image_size
    size = (max(2, h // 2), w)
    zoom = mouth_camera(camera, gt[:, idx], size, margin=mouth_margin)
    times = f"x{zoom.scale / camera.scale:.1f}"
    lit, heat = render(pred, zoom, [shade, colours])
    row = [
        _stack_titles(lit, f"prediction, mouth {times}"),
        gt_panel(zoom, f"ground truth, mouth {times}"),
        _stack_titles(heat, f"error, mouth {times}"),
    ]
    row.append(np.zeros((pred.shape[0], row[0].shape[1], bar.shape[1], 3), np.uint8))
    return _with_footer(np.concatenate([top, np.concatenate(row, axis=2)], axis=1), footer)


FOOTER_HEIGHT = 40
"""Rows of the band :func:`compose_frames` adds below the panels with a ``footer``: a player's controls
overlay the bottom of a video, so they cover this band instead of the mouth row."""


def _with_footer(frames: np.ndarray, text: str | None) -> np.ndarray:
    if text is None:
        return frames
    band = np.zeros((FOOTER_HEIGHT, frames.shape[2], 3), np.uint8)
    try:
        from PIL import Image, ImageDraw
    except ImportError:  # pragma: no cover - pillow is part of the video extra
        pass
    else:
        img = Image.fromarray(band)
        ImageDraw.Draw(img).text((6, 4), text, fill=(200, 200, 200))
        band = np.asarray(img)
    return np.concatenate([frames, np.broadcast_to(band, (frames.shape[0], *band.shape))], axis=1)


def render_video(
    pred: torch.Tensor,
    faces: torch.Tensor,
    out: str | Path,
    fps: float,
    gt: torch.Tensor | None = None,
    audio: str | Path | tuple[np.ndarray, int] | None = None,
    camera: Camera | None = None,
    layout: str = "side_by_side",
    error_max: float | None = None,
    error_label: str = "L2",
    backend: str = "torch",
    mouth: np.ndarray | torch.Tensor | None = None,
    mouth_margin: float = 0.35,
    albedo: np.ndarray | torch.Tensor | None = None,
    cull_backfaces: bool = False,
    error_scale: float = 1.0,
    footer: str | None = None,
) -> Path:
    """Render ``(T, V, 3)`` predicted vertices (and optionally ``gt``) to an mp4 with audio.

    ``layout="side_by_side"`` with ``gt`` gives prediction | ground truth | error heat map + colour bar
    (``error_max`` fixes the top of the colour scale, so the heat maps of several videos compare; default:
    the largest error of the sequence; ``error_scale`` multiplies the error before colouring and labelling,
    e.g. ``1e3`` with ``error_label="error, mm"`` for vertices in metres).
    ``layout="mouth"`` adds below it a row of the same three panels zoomed onto the lip vertices
    ``mouth`` (indices into V), each as wide as a full panel and half as high (:func:`mouth_camera`;
    ``mouth_margin`` widens the lip bounding box). It needs an :class:`OrthographicCamera`.
    ``albedo``: ``(V, 3)`` per-vertex colour of the prediction and ground-truth panels (a head's skin,
    lips, teeth, tongue); ``None``: uniform grey. The error panels keep their colour map.
    ``cull_backfaces``: skip triangles facing away from the camera (for closed meshes, whose back faces
    are hidden; open ones such as FLAME and BIWI need them).
    ``footer``: a line of text in a :data:`FOOTER_HEIGHT`-row band below the panels, where a player's
    controls then sit instead of over the panels.
    """
    frames = compose_frames(pred, faces, gt=gt, camera=camera, layout=layout, error_max=error_max,
                            error_label=error_label, backend=backend, mouth=mouth, mouth_margin=mouth_margin,
                            albedo=albedo, cull_backfaces=cull_backfaces, error_scale=error_scale,
                            footer=footer)
    return write_video(frames, out, fps, audio=audio)


def _stack_titles(frames: np.ndarray, text: str) -> np.ndarray:
    return np.stack([_title(f, text) for f in frames])
