"""Training step time without and with AV guidance, and inference real-time factor per animator.

Everything is measured at the ``default`` preset (its model sizes, render settings, crop length and
loss weights) on 2 CPU threads, with one training sequence of the preset's synthetic corpus (generated
under the preset's ``data.root`` when missing, as the main job does).

Run::

    python -m pytest benchmarks/perf/bm_training.py --benchmark-only --benchmark-autosave
    python -m pytest benchmarks/perf/bm_training.py --benchmark-only --benchmark-json=training.json

Figures (``extra_info`` of each benchmark in the JSON):

* ``test_training_step[<animator>-baseline]`` / ``[<animator>-av]`` / ``[<animator>-av-full]``: one
  optimisation step of :class:`talkbench.training.animator.AnimatorTrainer` on the same batch (a
  60-frame training sequence). ``av`` forces the AV term on as the preset applies it (render of a
  ``guidance.av_clip_frames`` clip → expert → CTC/attention loss → backward through renderer and
  animator); ``av-full`` at the paper's dose, on the whole sequence. Each stores
  ``ratio_to_baseline`` (one guided step over one plain step); ``av`` also ``amortized_ratio``, the
  training-time ratio of a guided run whose AV term comes on every ``guidance.av_every``-th step:
  ``(t_av + (av_every − 1)·t_base) / (av_every·t_base)``. Each ratio also comes from the fastest
  rounds (``..._min``), which a busy machine disturbs least. ``meets_target`` (on ``av-full``) is
  ``ratio_to_baseline_min ≤ 3``, the paper's dose at most three plain steps; the measured figures
  and where the time goes are in docs/reproducing.md ("Cost of the AV step"). CodeTalker's stage 1
  (its VQ autoencoder, the preset's ``training.vq_steps``) is trained before timing.
  The expert has the preset's architecture with untrained weights: the step's cost does not depend on
  the weight values, and stage 1 is not part of the step.
* ``test_decoder_training_mode[<mode>]``: one optimisation step of the preset's FaceFormer trained
  ``teacher`` forced, by ``rollout`` training (a no-grad cached rollout feeds one causal pass; the
  synthetic presets' choice) and by the official ``autoregressive`` loop (gradients through the
  recurrence, O(T²)); ``extra_info["ratio_to_teacher"]`` is each mode's step time over teacher forcing.
* ``test_inference_real_time_factor[<animator>]``: ``predict`` on one synthetic test utterance;
  ``real_time_factor`` = seconds of compute per second of audio (below 1: faster than real time).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

pytest.importorskip("talkbench.training.animator", reason="talkbench's training engine is not installed")

from talkbench.config import BenchConfig, RunSpec, load_config
from talkbench.renders import input_spec_for
from talkbench.training.animator import AnimatorTrainer, build_animator_for
from talkbench.training.data import ensure_corpus, load_masks, load_split, to_animator_input
from talkbench.training.stage1 import TrainedReader, make_tokenizer

PRESET = "default"
TARGET_RATIO = 3.0
#: (mean, min) seconds per step of each (animator, variant) measured so far in this session
_STEP_TIMES: dict[str, tuple[float, float]] = {}


@pytest.fixture(autouse=True)
def _two_threads() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def setup() -> dict[str, Any]:
    config: BenchConfig = load_config(PRESET)
    ensure_corpus(config)
    train = load_split(config, "train", limit=4)
    test = load_split(config, "test", limit=1)
    lips = load_masks(config)["lip"].indices
    return {"config": config, "train": train, "test": test, "lips": lips}


def _untrained_expert(config: BenchConfig) -> TrainedReader:
    from lipread_expert import LipReader

    tok = make_tokenizer()
    cfg = config.expert
    model = LipReader.from_preset(
        cfg.preset, cfg.modality, tok.vocab_size, input_spec=input_spec_for(config.render), **cfg.overrides
    )
    return TrainedReader(model, tok, Path("untrained"), "0" * 64)


ANIMATORS = [a.name for a in load_config(PRESET).animators]


@pytest.mark.parametrize("variant", ["baseline", "av", "av-full"])
@pytest.mark.parametrize("animator", ANIMATORS)
def test_training_step(benchmark, setup: dict[str, Any], animator: str, variant: str) -> None:
    config: BenchConfig = setup["config"]
    spec = next(a for a in config.animators if a.name == animator)
    full = variant == "av-full"
    if full:  # the paper's dose: the whole sequence on every step
        config = config.model_copy(
            update={"guidance": config.guidance.model_copy(update={"av_clip_frames": None, "av_every": 1})}
        )
    if spec.variants is not None and variant.removesuffix("-full") not in spec.variants:
        pytest.skip(f"{animator} is not trained with the {variant!r} variant in the {PRESET} preset")
    run = RunSpec(config=config, animator=spec, variant=variant.removesuffix("-full"))
    expert = _untrained_expert(config) if variant != "baseline" else None
    trainer = AnimatorTrainer(run, 0, setup["train"], setup["train"][0].faces, setup["lips"], expert, "cpu")
    if not trainer.vq_done:
        # CodeTalker stage 1 (the preset's vq_steps) first: an untrained VQ decoder emits meshes far
        # off the face, whose huge triangles make rasterization (and so the AV step) unrepresentative.
        trainer.train_vq()
    batch = to_animator_input(setup["train"][0], max_frames=config.training.max_frames)
    use_av = variant != "baseline"

    def step() -> None:
        trainer.step(batch, use_av=use_av)

    benchmark.pedantic(step, rounds=5 if use_av else 10, iterations=1, warmup_rounds=1)
    mean, fastest = benchmark.stats.stats.mean, benchmark.stats.stats.min
    _STEP_TIMES[f"{animator}-{variant}"] = (mean, fastest)
    info = benchmark.extra_info
    info.update(preset=PRESET, frames=int(batch.target.shape[1]), step_s=mean, target_ratio=TARGET_RATIO)
    base = _STEP_TIMES.get(f"{animator}-baseline")
    if use_av and base:
        every = config.guidance.av_every
        info["av_every"] = every
        info["av_clip_frames"] = config.guidance.av_clip_frames
        for suffix, av_s, base_s in (("", mean, base[0]), ("_min", fastest, base[1])):
            info[f"ratio_to_baseline{suffix}"] = av_s / base_s
            if not full:
                info[f"amortized_ratio{suffix}"] = (av_s + (every - 1) * base_s) / (every * base_s)
        if full:
            info["meets_target"] = info["ratio_to_baseline_min"] <= TARGET_RATIO


_MODE_TIMES: dict[str, float] = {}


@pytest.mark.parametrize("mode", ["teacher", "rollout", "autoregressive"])
def test_decoder_training_mode(benchmark, setup: dict[str, Any], mode: str) -> None:
    config: BenchConfig = setup["config"]
    spec = next(a for a in config.animators if a.registry == "faceformer")
    kwargs = dict(spec.kwargs, teacher_forcing=mode == "teacher", rollout_training=mode == "rollout")
    run = RunSpec(config=config, animator=spec.model_copy(update={"kwargs": kwargs}), variant="baseline")
    trainer = AnimatorTrainer(run, 0, setup["train"], setup["train"][0].faces, setup["lips"], None, "cpu")
    batch = to_animator_input(setup["train"][0], max_frames=config.training.max_frames)
    benchmark.pedantic(lambda: trainer.step(batch), rounds=3 if mode == "autoregressive" else 10,
                       iterations=1, warmup_rounds=1)
    _MODE_TIMES[mode] = benchmark.stats.stats.min
    info = benchmark.extra_info
    info.update(preset=PRESET, frames=int(batch.target.shape[1]), step_s=benchmark.stats.stats.mean)
    if "teacher" in _MODE_TIMES:
        info["ratio_to_teacher"] = _MODE_TIMES[mode] / _MODE_TIMES["teacher"]


@pytest.mark.parametrize("animator", ANIMATORS)
def test_inference_real_time_factor(benchmark, setup: dict[str, Any], animator: str) -> None:
    config: BenchConfig = setup["config"]
    spec = next(a for a in config.animators if a.name == animator)
    sample = setup["test"][0]
    train = setup["train"]
    styles = max(len({s.subject for s in train}), 1)
    from facial_metrics import get_protocol

    styles = max(styles, len(get_protocol(config.data.protocol).train_subjects))
    torch.manual_seed(0)
    model = build_animator_for(spec, sample.template.shape[0], styles, sample.fps).eval()
    inp = to_animator_input(sample, style=0)
    seconds = inp.audio.shape[1] / 16000

    def predict() -> None:
        model.predict(inp.audio, inp.template, inp.style, transcript=inp.transcript, words=inp.words)

    benchmark.pedantic(predict, rounds=3, iterations=1, warmup_rounds=1)
    mean = benchmark.stats.stats.mean
    benchmark.extra_info.update(
        preset=PRESET, audio_s=seconds, frames=int(sample.num_frames), real_time_factor=mean / seconds,
        parameters=sum(p.numel() for p in model.parameters()),
    )
