"""Training curves: the compact copy in the run directory, the TensorBoard event files, the AV dose."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from talkbench.config import BenchConfig
from talkbench.results import load_result
from talkbench.results.curves import CURVES_FILE, MAX_POINTS, binned_curve, load_curves
from talkbench.run import av_dose, run_grid


def test_binned_curve_means_by_hand() -> None:
    history = [{"loss": 1.0}, {"loss": 3.0, "av": 10.0}, {"loss": 5.0}, {"loss": 7.0}, {"loss": 9.0}]
    curve = binned_curve(history, seed=2, phase="animator")
    assert curve.bin_steps == 1 and curve.step == [1, 2, 3, 4, 5] and curve.steps == 5
    assert curve.terms["av"] == [None, 10.0, None, None, None]
    long = [{"loss": float(i), **({"av": 2.0 * i} if i % 4 == 0 else {})} for i in range(250)]
    curve = binned_curve(long, seed=0, phase="animator", first_step=50)
    assert curve.bin_steps == 3 and len(curve.step) <= MAX_POINTS  # ceil(250 / 100)
    assert curve.step[:3] == [53, 56, 59] and curve.step[-1] == 300 and curve.steps == 300
    assert curve.terms["loss"][:3] == [1.0, 4.0, 7.0]  # means of (0, 1, 2), (3, 4, 5), (6, 7, 8)
    assert curve.terms["loss"][-1] == 249.0  # the last bin holds step 249 alone
    # steps 0 | 4 | 8 hold the AV term; none of 9, 10, 11
    assert curve.terms["av"][:4] == [0.0, 8.0, 16.0, None]
    assert binned_curve([{"x": 1 / 3}], 0, "stage1").terms["x"] == [0.333333]  # 6 significant digits


def test_av_dose_counts_steps_and_frames(tiny_config: BenchConfig) -> None:
    class Seq:
        def __init__(self, n: int) -> None:
            self.num_frames = n

    cfg = tiny_config.model_copy(update={"guidance": tiny_config.guidance.model_copy(update={"av_every": 2})})
    # max_frames 20: sequences of 10 and 40 frames give steps of 10 and 20 frames, 15 on average
    train = [Seq(10), Seq(40)]
    histories = [[{"av": 1.0, "av_frames": 10.0}, {}, {"av": 1.0, "av_frames": 20.0}, {}],
                 [{"av": 1.0, "av_frames": 15.0}, {}]]
    dose = av_dose(cfg, histories, train)
    assert (dose.steps, dose.av_steps, dose.av_every) == (6, 3, 2)
    assert dose.frames_per_av_step == 15.0 and dose.frames_per_step == 15.0
    assert dose.fraction == pytest.approx(3 * 15.0 / (6 * 15.0))


def _event_tags(folder: Path) -> dict[str, list[int]]:
    """Tags and steps of every scalar in a folder's event files, read as TFRecords (length, crc,
    payload, crc) holding ``Event`` protocol buffers."""
    from tensorboardX.proto import event_pb2

    tags: dict[str, list[int]] = {}
    files = sorted(folder.glob("events.out.tfevents.*"))
    assert files, f"no event file in {folder}"
    for file in files:
        data = file.read_bytes()
        pos = 0
        while pos < len(data):
            (length,) = struct.unpack("<Q", data[pos : pos + 8])
            event = event_pb2.Event.FromString(data[pos + 12 : pos + 12 + length])
            pos += 12 + length + 4
            for v in event.summary.value:
                tags.setdefault(v.tag, []).append(event.step)
    return tags


@pytest.mark.slow(seconds=45)
def test_grid_writes_curves_and_event_files(tiny_config: BenchConfig, tmp_path: Path) -> None:
    # the AV term on every step and on the whole sequence: the paper's dose
    guidance = tiny_config.guidance.model_copy(update={"av_every": 1, "av_clip_frames": None})
    config = tiny_config.model_copy(
        update={"variants": ["baseline", "av"], "animators": tiny_config.animators[:2], "seeds": [0, 1],
                "guidance": guidance}
    )
    results = tmp_path / "results"
    run_grid(config, results, progress=False)
    steps = config.training.steps
    for run_id, codetalker in (("faceformer-av", False), ("codetalker-baseline", True)):
        run = results / "synth" / run_id
        curves = load_curves(run / CURVES_FILE)
        phases = sorted((c.seed, c.phase) for c in curves.trainings)
        want = [(s, p) for s in (0, 1) for p in (("animator", "stage1") if codetalker else ("animator",))]
        assert phases == want
        for c in curves.trainings:
            n = config.training.vq_steps if c.phase == "stage1" else steps
            assert c.steps == n and c.step[-1] == n
            assert all(v is not None for v in c.terms["loss"])
        animator = next(c for c in curves.trainings if c.phase == "animator")
        assert {"loss", "rec", "lr"} <= set(animator.terms)
        assert ("av" in animator.terms) == (not codetalker)
        tb = Path(config.work_dir) / config.name / "tensorboard" / run_id
        tags = _event_tags(tb / "s1")
        assert tags["train/loss"] == list(range(1, steps + 1))
        assert tags["train/grad_norm"] == list(range(1, steps + 1))  # every step, with no clipping set
        if codetalker:
            stage1 = _event_tags(tb / "s1" / "stage1")["stage1/loss"]
            assert stage1 == list(range(1, config.training.vq_steps + 1))
    av = load_result(results / "synth" / "faceformer-av" / "result.json")
    assert av.av_dose is not None and av.av_dose.av_every == 1 and av.av_dose.steps == 2 * steps
    assert av.av_dose.av_steps == 2 * steps and av.av_dose.fraction == pytest.approx(1.0)
    assert load_result(results / "synth" / "faceformer-baseline" / "result.json").av_dose is None
    assert not (results / "synth" / "template" / CURVES_FILE).exists()

    # the site plots them on each trained run's page
    from talkbench.leaderboard import build_site

    summary = build_site(results, tmp_path / "site")
    for run_id in ("faceformer-av", "codetalker-baseline"):
        base = f"runs/synth/{run_id}"
        assert {f"{base}/curves.svg", f"{base}/{CURVES_FILE}"} <= set(summary.files)
        svg = (tmp_path / "site" / base / "curves.svg").read_text(encoding="utf-8")
        assert svg.startswith("<?xml") and "<svg" in svg
        page = (tmp_path / "site" / base / "index.html").read_text(encoding="utf-8")
        assert 'src="curves.svg"' in page and "Training curves" in page
    template = (tmp_path / "site" / "runs/synth/template/index.html").read_text(encoding="utf-8")
    assert "curves.svg" not in template
    # the AV run's dose is on the leaderboard
    index = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert index.count("AV dose 100.0 %") == 2  # faceformer-av and codetalker-av
    assert "AV term on every step, on whole sequences" in index


def test_a_preset_does_not_replace_another_presets_runs(tiny_config: BenchConfig, tmp_path: Path) -> None:
    from talkbench.config import ConfigError

    config = tiny_config.model_copy(
        update={"variants": ["baseline"], "animators": tiny_config.animators[:1], "seeds": [0]}
    )
    results = tmp_path / "results"
    run_grid(config, results, progress=False)
    stamp = (results / "synth" / "ground-truth" / "result.json").stat().st_mtime_ns
    other = config.model_copy(update={"name": "other-preset"})
    with pytest.raises(ConfigError, match=r"holds a run of preset 'smoke'.*--results runs/other-preset"):
        run_grid(other, results, progress=False)
    assert (results / "synth" / "ground-truth" / "result.json").stat().st_mtime_ns == stamp
    run_grid(other, tmp_path / "elsewhere", progress=False)  # its own folder: fine


def test_the_logged_gradient_norm_is_the_norm_of_the_gradients(tiny_config: BenchConfig) -> None:
    from talkbench.training.animator import AnimatorTrainer
    from talkbench.training.data import load_masks, load_split

    assert tiny_config.training.grad_clip is None
    spec = next(s for s in tiny_config.run_specs() if s.run_id == "faceformer-baseline")
    samples = load_split(tiny_config, "train")
    trainer = AnimatorTrainer(spec, 0, samples, samples[0].faces, load_masks(tiny_config)["lip"].indices)
    logs = trainer.step(trainer.batch_for_step(0))
    # the gradients stay in .grad until the next step's zero_grad: their L2 norm, by hand in float64
    grads = [p.grad for p in trainer.model.parameters() if p.grad is not None]
    squares = sum(float((g.double() ** 2).sum()) for g in grads)
    assert logs["grad_norm"] == pytest.approx(squares**0.5, rel=1e-5)
