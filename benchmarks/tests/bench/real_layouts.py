"""Tiny datasets in the processed VOCASET and BIWI layouts, on the real topologies' vertex counts.

VOCASET: 5,023 vertices (FLAME) on a curved sheet the size of a face (metres), with the FLAME region
pickle the protocol reads (``lips``, ``forehead``, ``eye_region``) built here, since the real
``FLAME_masks.pkl`` is licensed. BIWI: the real 23,370-vertex mesh of ``../shared/fixtures/biwi`` with
CodeTalker's region files. Both: real speech, a mouth that opens with the speech's energy, word / phone
alignments (the transcripts and timings ``talkbench data align`` would write), official subject names.
"""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import numpy as np
import soundfile as sf

from talkbench.datasets.alignment_io import save_alignment

SPEECH = "faceformer_demo.wav"
WORDS = ("the", "birch", "canoe", "slid", "on", "smooth", "planks")


def _speech(shared: Path, start_s: float, seconds: float) -> np.ndarray:
    """16 kHz mono float32 speech (the fixture resampled by linear interpolation)."""
    data, rate = sf.read(str(shared / "speech" / SPEECH), dtype="float32", always_2d=False)
    if data.ndim == 2:
        data = data.mean(1)
    a = int(start_s * rate)
    chunk = data[a : a + round(seconds * rate)]
    t = np.arange(round(seconds * 16000)) / 16000
    return np.interp(t, np.arange(len(chunk)) / rate, chunk).astype(np.float32)


def _energy(wav: np.ndarray, frames: int) -> np.ndarray:
    """Per-frame RMS of ``wav`` scaled to [0, 1]."""
    hop = len(wav) // frames
    rms = np.sqrt(np.array([np.mean(wav[i * hop : (i + 1) * hop] ** 2) for i in range(frames)]) + 1e-12)
    return rms / max(float(rms.max()), 1e-9)


def _alignment(path: Path, wav_path: Path, seconds: float, sentence: int) -> None:
    words = [WORDS[(sentence + i) % len(WORDS)] for i in range(3)]
    step = seconds / (len(words) + 1)
    word_segs = [(w, 0.5 * step + i * step, 0.5 * step + (i + 1) * step) for i, w in enumerate(words)]
    phones = []
    for w, s0, e0 in word_segs:
        d = (e0 - s0) / len(w)
        phones += [(c.upper(), s0 + j * d, s0 + (j + 1) * d) for j, c in enumerate(w)]
    n = sf.info(str(wav_path)).frames
    save_alignment(
        path, word_segs, phones, transcript=" ".join(words).capitalize() + ".", audio_duration_s=n / 16000
    )


def flame_sized_sheet() -> tuple[np.ndarray, np.ndarray]:
    """``(5023, 3)`` vertices of a face-sized curved sheet (metres) and its triangles.

    A 71 × 70 grid (4,970 vertices) plus a partial row of 53 joined to the first columns of the last row.
    """
    cols, rows, extra = 71, 70, 53
    x = np.linspace(-0.08, 0.08, cols)
    y = np.linspace(0.1, -0.1, rows + 1)
    grid = [(xi, yi) for yi in y[:rows] for xi in x] + [(x[i], y[rows]) for i in range(extra)]
    xy = np.array(grid)
    z = 0.06 * np.cos(np.pi * xy[:, 0] / 0.2) * np.cos(np.pi * xy[:, 1] / 0.3)
    verts = np.column_stack([xy, z]).astype(np.float32)
    faces = []
    for r in range(rows):
        width = cols if r < rows - 1 else extra
        for c in range(width - 1):
            a, b = r * cols + c, r * cols + c + 1
            d = (r + 1) * cols + c if r < rows - 1 else rows * cols + c
            e = d + 1
            faces += [[a, d, b], [b, d, e]]
    assert verts.shape == (5023, 3)
    return verts, np.array(faces, dtype=np.int64)


def _write_ply(path: Path, verts: np.ndarray, faces: np.ndarray) -> None:
    lines = [
        "ply", "format ascii 1.0", f"element vertex {len(verts)}", "property float x", "property float y",
        "property float z", f"element face {len(faces)}", "property list uchar int vertex_indices",
        "end_header",
    ]
    lines += [f"{a:.6f} {b:.6f} {c:.6f}" for a, b, c in verts]
    lines += [f"3 {a} {b} {c}" for a, b, c in faces]
    path.write_text("\n".join(lines) + "\n", encoding="ascii")


def _region(verts: np.ndarray, x: tuple[float, float], y: tuple[float, float]) -> np.ndarray:
    m = (verts[:, 0] >= x[0]) & (verts[:, 0] <= x[1]) & (verts[:, 1] >= y[0]) & (verts[:, 1] <= y[1])
    return np.flatnonzero(m).astype(np.int64)


def build_vocaset(root: Path, shared: Path, seconds: float = 1.0) -> dict:
    """Processed VOCASET layout: 2 training, 1 validation and 2 test subjects; 60 fps vertices."""
    from facial_metrics import get_protocol

    proto = get_protocol("vocaset")
    base, faces = flame_sized_sheet()
    (root / "vertices_npy").mkdir(parents=True)
    (root / "wav").mkdir()
    (root / "alignments").mkdir()
    _write_ply(root / "FLAME_sample.ply", base, faces)
    lips = _region(base, (-0.025, 0.025), (-0.06, -0.03))
    masks = {
        "lips": lips,
        "forehead": _region(base, (-0.07, 0.07), (0.06, 0.1)),
        "eye_region": _region(base, (-0.07, 0.07), (0.02, 0.05)),
        "nose": _region(base, (-0.02, 0.02), (-0.02, 0.02)),
    }
    with open(root / "FLAME_masks.pkl", "wb") as fh:
        pickle.dump(masks, fh, protocol=2)
    lower = lips[base[lips, 1] < -0.045]
    plan = {
        proto.train_subjects[0]: (1, 2),
        proto.train_subjects[1]: (1, 2),
        proto.val_subjects[0]: (21,),
        proto.test_subjects[0]: (21,),
        proto.test_subjects[1]: (22,),
    }
    rng = np.random.default_rng(0)
    templates, k = {}, 0
    frames = round(seconds * 60)
    for subject, sentences in plan.items():
        templates[subject] = base + rng.normal(0, 0.002, base.shape).astype(np.float32)
        for n in sentences:
            name = f"{subject}_sentence{n:02d}"
            wav = _speech(shared, 0.3 + 0.8 * k, seconds)
            sf.write(str(root / "wav" / f"{name}.wav"), wav, 16000, subtype="PCM_16")
            open_ = _energy(wav, frames)
            seq = np.repeat(templates[subject][None], frames, 0)
            seq[:, lower, 1] -= 0.01 * open_[:, None]
            np.save(root / "vertices_npy" / f"{name}.npy", seq.reshape(frames, -1))
            _alignment(root / "alignments" / f"{name}.json", root / "wav" / f"{name}.wav", seconds, n)
            k += 1
    with open(root / "templates.pkl", "wb") as fh:
        pickle.dump(templates, fh, protocol=2)
    return {"root": root, "faces": faces, "masks": masks}


def build_biwi(root: Path, shared: Path, seconds: float = 1.0) -> dict:
    """Processed BIWI layout on the real BIWI mesh: 2 training speakers, 1 unseen test speaker (Test-B)."""
    import trimesh

    from facial_metrics import get_protocol

    proto = get_protocol("biwi-test-b")
    mesh = trimesh.load(str(shared / "biwi" / "BIWI.ply"), process=False)
    base = np.asarray(mesh.vertices, dtype=np.float64)
    for d in ("vertices_npy", "wav", "alignments", "regions"):
        (root / d).mkdir(parents=True)
    shutil.copy(shared / "biwi" / "BIWI.ply", root / "BIWI.ply")
    for f in ("lve.txt", "fdd.txt"):
        shutil.copy(shared / "biwi" / f, root / "regions" / f)
    lips = np.array(
        [int(t) for t in (shared / "biwi" / "lve.txt").read_text().replace(",", " ").split()], dtype=np.int64
    )
    centre = base[lips].mean(0)
    lower = lips[base[lips, 1] < centre[1]]
    plan = {proto.train_subjects[0]: (1, 33), proto.train_subjects[1]: (2,), proto.test_subjects[0]: (37,)}
    rng = np.random.default_rng(1)
    span = float(np.ptp(base[:, 1]))
    templates, k = {}, 0
    frames = round(seconds * 25)
    for subject, sentences in plan.items():
        templates[subject] = base + rng.normal(0, 1e-3 * span, base.shape)
        for n in sentences:
            name = f"{subject}_e{n:02d}"
            wav = _speech(shared, 0.2 + 0.8 * k, seconds)
            sf.write(str(root / "wav" / f"{name}.wav"), wav, 16000, subtype="PCM_16")
            seq = np.repeat(templates[subject][None], frames, 0)
            seq[:, lower, 1] -= 0.03 * span * _energy(wav, frames)[:, None]
            np.save(root / "vertices_npy" / f"{name}.npy", seq.reshape(frames, -1))
            _alignment(root / "alignments" / f"{name}.json", root / "wav" / f"{name}.wav", seconds, n)
            k += 1
    with open(root / "templates.pkl", "wb") as fh:
        pickle.dump(templates, fh, protocol=2)
    return {"root": root}
