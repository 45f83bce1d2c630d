"""Fixtures that build miniature datasets in the exact on-disk formats of VOCASET, BIWI and synth."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

VOCA_TRAIN = ("FaceTalk_170728_03272_TA", "FaceTalk_170904_00128_TA")
VOCA_VAL = "FaceTalk_170811_03275_TA"
VOCA_TEST = "FaceTalk_170809_00138_TA"
VOCA_SENTENCES = ("sentence01", "sentence20", "sentence21", "sentence40")
VOCA_FRAMES_60 = 24  # 0.4 s at 60 fps

#: the procedural face synth-face-v1 with the readers and framing it was shipped with. The presets run
#: on the head synth-head-v2; the engine's unit tests run on this face (1,714 vertices, 3x cheaper to
#: render than the head) to keep the suite within its CI budget. The head has its own tests
#: (test_synth_head.py, bench/test_head_readers.py, the smoke regression).
FACE_V1_OVERRIDES = (
    "data.protocol=synth",
    "render.camera_scale=8.0",
    "expert.pretrained=synth-av-v1",
    "reader.judge=synth-video-v1",
)


@pytest.fixture(scope="session")
def face_v1_overrides() -> tuple[str, ...]:
    """Config overrides for a corpus on synth-face-v1 (:data:`FACE_V1_OVERRIDES`)."""
    return FACE_V1_OVERRIDES


def speech_chunk(shared: Path, name: str, start_s: float, seconds: float) -> tuple[np.ndarray, int]:
    data, rate = sf.read(str(shared / "speech" / name), dtype="float32", always_2d=False)
    a = int(start_s * rate)
    return data[a : a + round(seconds * rate)], rate


@pytest.fixture()
def raw_vocaset(tmp_path: Path, shared_fixtures: Path) -> dict:
    """Raw VOCASET release: 4 subjects x 4 sentences, 0.4 s each, rows stored in shuffled order."""
    rng = np.random.default_rng(0)
    root = tmp_path / "voca_raw"
    root.mkdir()
    subjects = (*VOCA_TRAIN, VOCA_VAL, VOCA_TEST)
    n_seq = len(subjects) * len(VOCA_SENTENCES)
    data = (rng.standard_normal((n_seq * VOCA_FRAMES_60, 5023, 3)) * 0.01).astype(np.float32)
    rows = rng.permutation(len(data))
    index: dict = {}
    audio: dict = {}
    truth: dict = {}
    k = 0
    for _si, subj in enumerate(subjects):
        index[subj], audio[subj] = {}, {}
        for sent in VOCA_SENTENCES:
            my_rows = rows[k * VOCA_FRAMES_60 : (k + 1) * VOCA_FRAMES_60]
            frame_ids = np.arange(VOCA_FRAMES_60) * 3 + 5  # arbitrary increasing frame numbers
            order = rng.permutation(VOCA_FRAMES_60)  # dict insertion order shuffled
            index[subj][sent] = {int(frame_ids[i]): int(my_rows[i]) for i in order}
            wav, rate = speech_chunk(
                shared_fixtures, "faceformer_demo.wav", 0.5 + 0.4 * k, VOCA_FRAMES_60 / 60
            )
            audio[subj][sent] = {"audio": (wav * 32767).astype(np.int16), "sample_rate": rate}
            truth[(subj, sent)] = data[my_rows]
            k += 1
    np.save(root / "data_verts.npy", data)
    templates = {s: (rng.standard_normal((5023, 3)) * 0.05).astype(np.float32) for s in subjects}
    for name, obj in (
        ("subj_seq_to_idx.pkl", index),
        ("raw_audio_fixed.pkl", audio),
        ("templates.pkl", templates),
    ):
        with open(root / name, "wb") as fh:
            pickle.dump(obj, fh, protocol=2)
    return {
        "root": root,
        "truth": truth,
        "templates": templates,
        "audio": audio,
        "train": VOCA_TRAIN,
        "val": VOCA_VAL,
        "test": VOCA_TEST,
        "sentences": VOCA_SENTENCES,
        "frames_60": VOCA_FRAMES_60,
    }


@pytest.fixture()
def biwi_root(tmp_path: Path, shared_fixtures: Path) -> dict:
    """Processed BIWI: real topology, emotional sequences of seen and unseen speakers, 44.1 kHz wavs."""
    rng = np.random.default_rng(1)
    root = tmp_path / "biwi"
    (root / "vertices_npy").mkdir(parents=True)
    (root / "wav").mkdir()
    (root / "BIWI.ply").symlink_to(shared_fixtures / "biwi" / "BIWI.ply")
    names = ["F2_e01", "F2_e33", "F2_e37", "M3_e40", "F1_e37", "M6_e38", "F2_01"]
    templates = {s: rng.standard_normal((23370, 3)) * 0.1 for s in ("F2", "M3", "F1", "M6")}
    with open(root / "templates.pkl", "wb") as fh:
        pickle.dump(templates, fh, protocol=2)
    frames = 10  # 0.4 s at 25 fps
    for i, name in enumerate(names):
        subj = name.split("_")[0]
        verts = templates[subj][None] + rng.standard_normal((frames, 23370, 3)) * 0.001
        np.save(root / "vertices_npy" / f"{name}.npy", verts.reshape(frames, -1))  # float64 as from MATLAB
        wav, rate = speech_chunk(shared_fixtures, "codetalker_demo_man.wav", 0.3 + 0.5 * i, frames / 25)
        sf.write(str(root / "wav" / f"{name}.wav"), wav, rate)
    (root / "sentences.txt").write_text(
        "".join(f"biwi sentence number {n}\n" for n in range(1, 41)), encoding="utf-8"
    )
    return {"root": root, "names": names, "templates": templates}


#: the corpus seed of the session's tiny synthetic corpus
TINY_CORPUS_SEED = 7


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from talkbench.datasets.synth.corpus import generate_corpus

    root = tmp_path_factory.mktemp("synth") / "corpus"
    generate_corpus(root, seed=TINY_CORPUS_SEED, size="tiny")
    return root
