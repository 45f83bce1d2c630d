"""The shipped evaluation judge: it loads, it reads the ground truth, it refuses what it cannot read."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import jiwer
import numpy as np
import pytest
import torch

from talkbench import shipped_manifests
from talkbench import shipped_readers as shipped
from talkbench.config import ConfigError, load_config
from talkbench.shipped_readers import (
    ReaderRecipe,
    ShippedReaderError,
    load_shipped,
    read_ground_truth,
    shipped_manifest,
    train_shipped,
)
from talkbench.training.stage1 import file_sha256

NAME = "synth-video-v1"


@pytest.fixture(scope="module")
def test_split(tmp_path_factory: pytest.TempPathFactory, face_v1_overrides: tuple[str, ...]) -> list:
    """The default corpus's test split on synth-face-v1: seed 0, the first 8 sentences of the two test
    speakers.

    Sentences are drawn per (seed, speaker, sentence number), so these are the default corpus's own
    test sequences (the grid scores the first 4 of each test speaker).
    """
    from talkbench.datasets.synth.corpus import CorpusSize, generate_corpus
    from talkbench.training.data import load_split

    root = tmp_path_factory.mktemp("judge") / "synth"
    generate_corpus(root, seed=0, size=CorpusSize(8, 0))
    # synth-video-v1 reads the procedural face synth-face-v1 that the presets used before the head
    config = load_config("default", [f"data.root={root}", "data.generate=false", *face_v1_overrides])
    return [config, load_split(config, "test")]


def _normalise(text: str) -> str:
    return " ".join(text.lower().split())


def test_shipped_judge_matches_its_manifest() -> None:
    manifest = shipped_manifest(NAME)
    assert file_sha256(shipped.shipped_path(NAME)) == manifest["sha256"]
    reader = load_shipped(NAME)
    assert not any(p.requires_grad for p in reader.model.parameters())
    assert reader.model.modality == "video"
    assert manifest["recipe"] == shipped.RECIPES[NAME].model_dump()


def test_judge_reads_ground_truth_and_not_the_template(test_split: list) -> None:
    """Target of the default preset: GT renders at CER <= 8 % and WER <= 15 %; a motionless face >= 60 %.

    CER / WER are checked with jiwer (utterance mean), independently of facial_metrics.
    """
    config, samples = test_split
    torch.set_num_threads(2)
    reader = load_shipped(NAME)
    from talkbench.training.data import load_masks

    lips = load_masks(config)["lip"].indices
    gt = read_ground_truth(reader, samples, lips, config.render)
    refs = [_normalise(s.transcript) for s in samples]
    hyps = [_normalise(h) for h in gt["hypotheses"]]
    cer = float(np.mean([jiwer.cer(r, h) for r, h in zip(refs, hyps)]))
    wer = float(np.mean([jiwer.wer(r, h) if h else 1.0 for r, h in zip(refs, hyps)]))
    assert cer == pytest.approx(gt["cer"], abs=1e-9)
    assert cer <= 0.08 and wer <= 0.15, (cer, wer, hyps)

    still = [
        dataclasses.replace(s, vertices=np.broadcast_to(s.template[None], s.vertices.shape).copy())
        for s in samples
    ]
    tpl = read_ground_truth(reader, still, lips, config.render)
    tpl_hyps = [_normalise(h) for h in tpl["hypotheses"]]
    tpl_cer = float(np.mean([jiwer.cer(r, h) if h else 1.0 for r, h in zip(refs, tpl_hyps)]))
    assert tpl_cer >= 0.60, tpl["hypotheses"]


def test_preset_with_other_renders_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"render\.out_size is 88, the reader's 44"):
        load_config("default", ["render.out_size=88"])
    with pytest.raises(ConfigError, match=r"reader\.judge .synth-video-v0.: no such shipped reader"):
        load_config("default", ["reader.judge=synth-video-v0"])
    with pytest.raises(ConfigError, match="reads the synthetic face only"):
        load_config("default", ["data.protocol=vocaset"])
    with pytest.raises(ConfigError, match=r"expert.pretrained 'synth-av-v2' reads renders .*out_size is 88"):
        load_config("default", ["render.out_size=88", "reader.judge=null"])
    # without shipped readers the preset may render as it likes (they are trained on it)
    free = load_config("default", ["render.out_size=88", "reader.judge=null", "expert.pretrained=null"])
    assert free.reader.judge is None and free.expert.pretrained is None


def test_altered_judge_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for suffix in (".pt", ".json"):
        shutil.copy(shipped_manifests.SHIPPED_DIR / f"{NAME}{suffix}", tmp_path / f"{NAME}{suffix}")
    monkeypatch.setattr(shipped_manifests, "SHIPPED_DIR", tmp_path)
    load_shipped(NAME)
    with open(tmp_path / f"{NAME}.pt", "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(ShippedReaderError, match="was altered"):
        load_shipped(NAME)


def test_judge_training_is_reproducible(tmp_path: Path) -> None:
    from talkbench.results.curves import TrainingCurve

    """Two trainings of one recipe (a small pool, a few steps) write byte-identical checkpoints."""
    recipe = ReaderRecipe(
        name="probe",
        corpus_seeds=[5],
        sentences_per_speaker=1,
        pool_per_speaker=0,
        steps=3,
        batch_size=2,
        preset="nano",
    )
    shas = []
    for run in ("a", "b"):
        m = train_shipped(tmp_path / run, tmp_path / "work", recipe, log=lambda _: None)
        assert m["sha256"] == file_sha256(tmp_path / run / "probe.pt")
        stored = json.loads((tmp_path / run / "probe.json").read_text())
        assert stored["recipe"]["corpus_seeds"] == [5] and stored["pool_utterances"] == 12
        # the learning curve stays in the manifest: one point per step here (3 steps)
        curve = TrainingCurve.model_validate(stored["curve"])
        assert curve.phase == "reader" and curve.step == [1, 2, 3] and curve.bin_steps == 1
        assert curve.terms["loss"][-1] == pytest.approx(stored["final_loss"], abs=1e-4)
        assert (tmp_path / "work" / "tensorboard" / "probe").is_dir()
        shas.append(m["sha256"])
    assert shas[0] == shas[1]
