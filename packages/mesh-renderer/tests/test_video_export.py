import re
import subprocess

import numpy as np
import pytest
import torch
import trimesh

from mesh_renderer import OrthographicCamera, export_meshes, lip_sheets, render_video, write_video


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
