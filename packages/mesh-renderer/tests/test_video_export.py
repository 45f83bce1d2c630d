import re
import subprocess

import numpy as np
import pytest
import torch
import trimesh

from mesh_renderer import (
    OrthographicCamera,
    PerspectiveCamera,
    export_meshes,
    lip_sheets,
    render_video,
    write_video,
)


def _probe(path):
    import imageio_ffmpeg

    res = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True
    )
    return res.stderr


def _duration(text):
    h, m, s = re.search(r"Duration: (\d+):(\d+):([\d.]+)", text).groups()
    return int(h) * 3600 + int(m) * 60 + float(s)


def _count_video_frames(path):
    import imageio_ffmpeg

    res = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path), "-map", "0:v", "-f", "null", "-"],
        capture_output=True,
        text=True,
    )
    return int(re.findall(r"frame=\s*(\d+)", res.stderr)[-1])


def _sequence(t):
    v, f, _ = lip_sheets(rows=6, cols=10, opening=0.0)
    opening = 0.1 * torch.sin(torch.arange(t) / 3.0).abs()
    pred = torch.stack([lip_sheets(rows=6, cols=10, opening=float(o))[0] for o in opening])
    return pred, v.expand(t, -1, -1), f


def test_side_by_side_video_has_audio_and_video_of_the_right_duration(tmp_path):
    t, fps = 30, 30.0  # one second
    pred, gt, f = _sequence(t)
    sr = 16000
    wave = (0.1 * np.sin(2 * np.pi * 220 * np.arange(int(1.3 * sr)) / sr)).astype(
        np.float32
    )  # longer: trimmed
    out = render_video(
        pred,
        f,
        tmp_path / "x.mp4",
        fps=fps,
        gt=gt,
        audio=(wave, sr),
        camera=OrthographicCamera(scale=0.8, image_size=64),
    )
    info = _probe(out)
    video = re.search(r"Stream #\d+:\d+.*Video: h264.*", info).group(0)
    assert "yuv420p" in video
    assert re.search(r"\b30 fps\b", video)
    w, h = map(int, re.search(r"(\d{2,})x(\d{2,})", video).groups())
    assert h == 64 + 18 and w >= 3 * 64  # title bar on three panels plus the colour bar
    assert re.search(r"Stream #\d+:\d+.*Audio: aac.*16000 Hz", info)
    assert _duration(info) == pytest.approx(t / fps, abs=0.08)
    assert _count_video_frames(out) == t


def test_prediction_only_video_from_a_wav_file(tmp_path, shared_fixtures):
    pred, _, f = _sequence(10)
    wav = shared_fixtures / "speech" / "codetalker_demo_man.wav"  # stereo 44.1 kHz
    out = render_video(
        pred,
        f,
        tmp_path / "p.mp4",
        fps=25.0,
        audio=wav,
        layout="prediction",
        camera=OrthographicCamera(scale=0.8, image_size=48),
    )
    info = _probe(out)
    assert re.search(r"Audio: aac.*44100 Hz", info)
    assert _duration(info) == pytest.approx(10 / 25.0, abs=0.06)
    assert _count_video_frames(out) == 10


def test_video_errors(tmp_path):
    pred, _gt, f = _sequence(3)
    with pytest.raises(ValueError, match="needs gt"):
        render_video(pred, f, tmp_path / "a.mp4", fps=25.0)
    with pytest.raises(FileNotFoundError, match="audio file not found"):
        write_video(
            np.zeros((2, 8, 8, 3), np.uint8), tmp_path / "b.mp4", 25.0, audio=tmp_path / "missing.wav"
        )
    with pytest.raises(ValueError, match="uint8"):
        write_video(np.zeros((2, 8, 8, 3), np.float32), tmp_path / "c.mp4", 25.0)


def _read_obj_vertices(path):
    rows = [line.split()[1:4] for line in path.read_text().splitlines() if line.startswith("v ")]
    return np.array(rows, dtype=np.float64)


def _read_binary_ply_vertices(path):
    data = path.read_bytes()
    header, body = data.split(b"end_header\n", 1)
    lines = header.decode().splitlines()
    assert "format binary_little_endian 1.0" in lines
    count = int(next(line for line in lines if line.startswith("element vertex")).split()[-1])
    props = [line.split()[1:] for line in lines if line.startswith("property") and "list" not in line]
    assert props[:3] == [["float", "x"], ["float", "y"], ["float", "z"]] and len(props) == 3
    return np.frombuffer(body[: count * 12], dtype="<f4").reshape(count, 3)


@pytest.mark.parametrize("fmt", ["obj", "ply"])
def test_export_round_trips_vertex_order(tmp_path, fmt):
    rng = np.random.default_rng(0)
    # random positions (no spatial order to recover), duplicated and unreferenced vertices included
    verts = rng.normal(size=(3, 50, 3)).astype(np.float32)
    verts[:, 7] = verts[:, 3]
    faces = rng.integers(0, 45, size=(40, 3))
    paths = export_meshes(torch.from_numpy(verts), torch.from_numpy(faces), tmp_path, fmt=fmt, fps=30.0)
    assert [p.name for p in paths] == [f"frame_000{i}.{fmt}" for i in range(3)]
    for t, p in enumerate(paths):
        got = _read_obj_vertices(p) if fmt == "obj" else _read_binary_ply_vertices(p)
        if fmt == "ply":
            np.testing.assert_array_equal(got, verts[t])  # bit-exact float32
        else:
            np.testing.assert_allclose(got, verts[t], rtol=0, atol=1e-9)
        back = trimesh.load(p, process=False)
        np.testing.assert_array_equal(np.asarray(back.faces), faces)
    assert (tmp_path / "manifest.json").is_file()


def test_export_rejects_bad_faces(tmp_path):
    with pytest.raises(ValueError, match="faces reference vertices outside"):
        export_meshes(np.zeros((1, 4, 3)), np.array([[0, 1, 4]]), tmp_path)
    with pytest.raises(ValueError, match="fmt"):
        export_meshes(np.zeros((1, 4, 3)), np.array([[0, 1, 2]]), tmp_path, fmt="stl")


def _lip_sequence(t):
    _, f, lips = lip_sheets(rows=6, cols=10, opening=0.0)
    opening = 0.05 + 0.1 * torch.sin(torch.arange(t) / 2.0).abs()
    pred = torch.stack([lip_sheets(rows=6, cols=10, opening=float(o))[0] for o in opening])
    gt = torch.stack([lip_sheets(rows=6, cols=10, opening=float(o) * 0.5)[0] for o in opening])
    return pred, gt, f, lips


def test_mouth_layout_frame_size_and_the_zoom_shows_the_lip_region():
    from PIL import Image

    from mesh_renderer import render_frames
    from mesh_renderer.video import compose_frames

    t, size, margin = 3, 64, 0.35
    pred, gt, f, lips = _lip_sequence(t)
    cam = OrthographicCamera(scale=0.45, image_size=size)
    frames = compose_frames(pred, f, gt=gt, camera=cam, layout="mouth", mouth=lips, mouth_margin=margin)
    # top row: three titled 64-px panels + the 72-px colour bar; bottom row: three 64 x 32 zoom panels
    assert frames.shape == (t, (18 + size) + (18 + size // 2), 3 * size + 72, 3)
    top = compose_frames(pred, f, gt=gt, camera=cam, layout="side_by_side")
    np.testing.assert_array_equal(frames[:, : 18 + size], top)  # the first row is the side-by-side layout

    # independent reference: a 4x larger render of the ground truth, cropped around the lip vertices'
    # pixel bounding box (over every frame of the ground truth) widened by the margin and to 2:1, resized
    k = 4
    hi_cam = OrthographicCamera(scale=0.45, image_size=k * size)
    hi = render_frames(gt, f, hi_cam)
    px = hi_cam.project(gt[:, lips]).reshape(-1, 3)[:, :2].numpy()
    (x0, y0), (x1, y1) = px.min(axis=0), px.max(axis=0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    hx, hy = (x1 - x0) / 2 * (1 + margin), (y1 - y0) / 2 * (1 + margin)
    hx, hy = max(hx, 2 * hy), max(hy, hx / 2)  # the panel is twice as wide as high
    assert hx < k * size / 2  # the zoom is a true crop of the face, not the whole picture

    def crop(frame, dy=0.0):
        box = (cx - hx, cy - hy + dy, cx + hx, cy + hy + dy)
        img = Image.fromarray(frame).resize((size, size // 2), Image.Resampling.BOX, box=box)
        return np.asarray(img).astype(float)

    zoom_gt = frames[:, 18 + size + 18 :, size : 2 * size].astype(float)  # "ground truth, mouth" panel
    for i in range(t):
        want = crop(hi[i])
        assert want.max() > 100  # the crop shows lit lips, not black background
        diff = np.abs(zoom_gt[i] - want).mean()
        shifted = np.abs(zoom_gt[i] - crop(hi[i], dy=hy)).mean()  # half a crop lower: another region
        assert diff < 12 and shifted > 2 * diff


def test_mouth_zoom_frames_the_ground_truth_whatever_the_prediction():
    from mesh_renderer.video import compose_frames

    t, size = 3, 64
    pred, gt, f, lips = _lip_sequence(t)
    cam = OrthographicCamera(scale=0.45, image_size=size)
    near = compose_frames(pred, f, gt=gt, camera=cam, layout="mouth", mouth=lips)
    wild = pred.clone()
    wild[:, lips] += torch.tensor([3.0, -2.0, 0.0])  # lips of a diverged model, far off the face
    far = compose_frames(wild, f, gt=gt, camera=cam, layout="mouth", mouth=lips)
    # the ground-truth zoom panel, with its title giving the zoom factor, does not change
    np.testing.assert_array_equal(far[:, 18 + size :, size : 2 * size], near[:, 18 + size :, size : 2 * size])


def test_mouth_layout_video_and_errors(tmp_path):
    pred, gt, f, lips = _lip_sequence(4)
    cam = OrthographicCamera(scale=0.45, image_size=48)
    out = render_video(pred, f, tmp_path / "m.mp4", fps=25.0, gt=gt, camera=cam, layout="mouth", mouth=lips)
    video = re.search(r"Stream #\d+:\d+.*Video: h264.*", _probe(out)).group(0)
    w, h = map(int, re.search(r"(\d{2,})x(\d{2,})", video).groups())
    assert (w, h) == (3 * 48 + 72, 18 + 48 + 18 + 24)
    assert _count_video_frames(out) == 4
    with pytest.raises(ValueError, match="needs mouth"):
        render_video(pred, f, tmp_path / "x.mp4", fps=25.0, gt=gt, camera=cam, layout="mouth")
    with pytest.raises(ValueError, match="needs gt"):
        render_video(pred, f, tmp_path / "x.mp4", fps=25.0, camera=cam, layout="mouth", mouth=lips)
    with pytest.raises(ValueError, match="OrthographicCamera"):
        render_video(pred, f, tmp_path / "x.mp4", fps=25.0, gt=gt, layout="mouth", mouth=lips,
                     camera=PerspectiveCamera(image_size=48))
    with pytest.raises(ValueError, match="layout must be one of"):
        render_video(pred, f, tmp_path / "x.mp4", fps=25.0, gt=gt, layout="grid")


def test_each_panel_is_the_render_of_that_panel_alone():
    """The prediction and its error map share one rasterization and the ground-truth panels may come from
    the panel cache; every panel still equals rendering that panel on its own (one MeshRenderer call)."""
    from mesh_renderer import (
        BlendParams,
        LambertShader,
        MeshRenderer,
        RasterSettings,
        apply_colormap,
        blur_radius_for_pixels,
        get_rasterizer,
    )
    from mesh_renderer.video import compose_frames, mouth_camera

    t, size = 3, 48
    pred, gt, f, lips = _lip_sequence(t)
    albedo = torch.rand(pred.shape[1], 3, generator=torch.Generator().manual_seed(0))
    cam = OrthographicCamera(scale=0.45, image_size=size)

    def alone(v, camera, colours):
        blur = blur_radius_for_pixels(0.75, camera.image_size)
        settings = RasterSettings(image_size=camera.image_size, blur_radius=blur, faces_per_pixel=3)
        shader = LambertShader(vertex_colors=colours, blend=BlendParams(sigma=blur / 9.21), two_sided=True)
        img = MeshRenderer(camera, get_rasterizer("torch", settings), shader, restore_covered=True)(v, f)
        return (img[..., :3].clamp(0, 1) * 255).round().to(torch.uint8).numpy()

    err = (pred - gt).norm(dim=-1)
    heat = apply_colormap(err, 0.0, float(err.max()))
    zoom = mouth_camera(cam, gt[:, lips], (size // 2, size))
    for _ in range(2):  # the second call takes the ground-truth panels from the cache
        frames = compose_frames(pred, f, gt=gt, camera=cam, layout="mouth", mouth=lips, albedo=albedo)
        top, bottom = frames[:, 18 : 18 + size], frames[:, 18 + size + 18 :]
        np.testing.assert_array_equal(top[:, :, :size], alone(pred, cam, albedo))
        np.testing.assert_array_equal(top[:, :, size : 2 * size], alone(gt, cam, albedo))
        np.testing.assert_array_equal(top[:, :, 2 * size : 3 * size], alone(pred, cam, heat))
        np.testing.assert_array_equal(bottom[:, :, :size], alone(pred, zoom, albedo))
        np.testing.assert_array_equal(bottom[:, :, size : 2 * size], alone(gt, zoom, albedo))
        np.testing.assert_array_equal(bottom[:, :, 2 * size : 3 * size], alone(pred, zoom, heat))
    # another ground truth is rendered, not served from the cache
    other = compose_frames(pred, f, gt=gt * 0.9, camera=cam, layout="side_by_side", albedo=albedo)
    np.testing.assert_array_equal(other[:, 18:, size : 2 * size], alone(gt * 0.9, cam, albedo))


def test_shared_error_scale_in_another_unit_and_a_caption_band():
    from mesh_renderer.colormap import apply_colormap
    from mesh_renderer.video import FOOTER_HEIGHT, compose_frames

    t, size = 2, 48
    pred, gt, f = _sequence(t)
    cam = OrthographicCamera(scale=0.45, image_size=size)
    # metres shown in millimetres on a fixed 0-100 mm scale colour like metres on a fixed 0-0.1 m scale
    mm = compose_frames(pred, f, gt=gt, camera=cam, error_max=100.0, error_scale=1e3)
    m = compose_frames(pred, f, gt=gt, camera=cam, error_max=0.1)
    heat = slice(2 * size, 3 * size)  # the error panel
    np.testing.assert_allclose(mm[:, 18:, heat].astype(int), m[:, 18:, heat].astype(int), atol=1)
    # the fixed scale does not follow the sequence's own largest error (the default does)
    err = (pred - gt).norm(dim=-1)
    assert float(err.max()) < 0.1
    own = compose_frames(pred, f, gt=gt, camera=cam)
    assert np.abs(own[:, 18:, heat].astype(int) - m[:, 18:, heat].astype(int)).max() > 20
    top = tuple(int(c) for c in (apply_colormap(torch.tensor([1.0]), 0.0, 1.0)[0] * 255).round())
    assert top == (0xFD, 0xE7, 0x25)  # viridis' top colour: what an error at or above error_max shows
    # a caption band below the panels, where a player's controls then sit
    cap = compose_frames(pred, f, gt=gt, camera=cam, error_max=0.1, footer="shared scale")
    assert cap.shape[1] == m.shape[1] + FOOTER_HEIGHT
    np.testing.assert_array_equal(cap[:, : m.shape[1]], m)
    band = cap[:, m.shape[1] :]
    assert band.max() > 100 and (band == band[:1]).all()  # text drawn, the same in every frame
    with pytest.raises(ValueError, match="error_scale"):
        compose_frames(pred, f, gt=gt, camera=cam, error_scale=0.0)
