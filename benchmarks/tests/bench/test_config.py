"""Benchmark configs: presets validate, unknown keys are rejected with the file name, overrides apply."""

from __future__ import annotations

from pathlib import Path

import pytest

from talkbench.config import PRESETS, VARIANTS, ConfigError, apply_overrides, load_config


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_validates(preset: str) -> None:
    config = load_config(preset)
    assert config.name == preset
    if config.sweep is not None:  # a study of one cell's knob, not a leaderboard grid
        swept = [s for s in config.run_specs() if s.sweep]
        assert swept and all(s.variant in (config.sweep.variants or config.variants) for s in swept)
        return
    papers = {"faceformer", "codetalker", "joint_audio_text"}
    registries = {a.registry for a in config.animators}
    assert set(config.variants) == set(VARIANTS)
    if preset.startswith("paper-"):
        assert registries == papers
        assert len(config.run_specs()) == 3 * 5
    else:  # the synthetic presets add the conv regressor's baseline as the reference row
        assert registries == papers | {"conv_regressor"}
        assert len(config.run_specs()) == 3 * 5 + 1
        reference = [s for s in config.run_specs() if s.animator.registry == "conv_regressor"]
        assert [s.variant for s in reference] == ["baseline"]


def test_unknown_animator_is_refused_at_load_with_a_suggestion(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nanimators: [{name: F, registry: facefromer}]\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(bad)
    assert "animators.0.registry" in str(err.value) and "Did you mean 'faceformer'" in str(err.value)


def test_animator_arguments_are_checked_against_the_constructor_at_load() -> None:
    # FaceFormer.__init__ has feature_dim; a misspelt key would otherwise fail with a TypeError when
    # the grid reaches the cell, after the cells before it have trained
    with pytest.raises(ConfigError, match=r"animators\.0: kwargs\.feature_dmi: not an argument of animator "
                       r"'faceformer'.*Did you mean 'feature_dim'\?"):
        load_config("smoke", ["animators.0.kwargs.feature_dmi=8"])
    with pytest.raises(ConfigError, match=r"animators\.1: vq\.face_quan_nun: not a field of VQConfig.*"
                       r"Did you mean 'face_quan_num'\?"):
        load_config("smoke", ["animators.1.vq={face_quan_nun: 4}"])
    no_vq = r"animators\.0: vq: animator 'faceformer'.*has no stage-1 VQ config"
    with pytest.raises(ConfigError, match=no_vq):
        load_config("smoke", ["animators.0.vq={face_quan_num: 4}"])
    # an animator without a dataset argument (the example MLP) is refused one
    with pytest.raises(ConfigError, match=r"kwargs\.dataset: not an argument of animator 'example_mlp'"):
        load_config("smoke", ["animators=[{name: M, registry: example_mlp, kwargs: {dataset: biwi}}]"])
    assert load_config("smoke", ["animators.0.kwargs.dataset=biwi"]).animators[0].kwargs["dataset"] == "biwi"


def test_default_has_a_spread_over_seeds() -> None:
    assert len(load_config("default").seeds) >= 2


@pytest.mark.parametrize("preset", ["paper-vocaset", "paper-biwi"])
def test_paper_presets_use_the_official_weights(preset: str) -> None:
    # methods.md section 1.2: lipread_weight 1e-7, mtlalpha 0.1 (ctc) / 0.9 (att), lip_vert_weight 1;
    # section 1.4 and 1.7: one Adam at lr 1e-4 for animator and expert; the expert keeps training
    g = load_config(preset).guidance
    assert (g.lambda_av, g.lambda_ctc, g.lambda_ce, g.lambda_rlv, g.lambda_mse) == (1e-7, 0.1, 0.9, 1.0, 1.0)
    c = load_config(preset)
    assert c.training.lr == 1e-4 and g.expert_trainable and g.expert_lr == 1e-4
    assert c.expert.preset == "base" and c.expert.modality == "audiovisual"
    assert c.render.out_size == 88 and c.render.reader_fps == 25.0


def test_unknown_key_names_the_file_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: x\nanimators: [{name: F, registry: faceformer}]\ntraining: {steps: 3, stepz: 4}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as err:
        load_config(bad)
    assert str(bad) in str(err.value) and "training.stepz: unknown key" in str(err.value)


def test_bad_value_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"training\.steps"):
        load_config("smoke", ["training.steps=0"])
    with pytest.raises(ConfigError, match="phonetic_window"):
        load_config("smoke", ["guidance.phonetic_window=4"])
    with pytest.raises(ConfigError, match="expected key=value"):
        load_config("smoke", ["training.steps"])
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")


def test_overrides_are_parsed_as_yaml() -> None:
    c = load_config(
        "smoke",
        [
            "training.steps=7",
            "seeds=[3, 4, 5]",
            "guidance.expert_trainable=false",
            "guidance.lambda_av=2.5e-3",
            "variants=[baseline]",
        ],
    )
    assert c.training.steps == 7 and c.seeds == [3, 4, 5]
    assert c.guidance.expert_trainable is False and c.guidance.lambda_av == 0.0025
    assert [s.variant for s in c.run_specs()] == ["baseline"] * 4  # 3 animators + the conv regressor


def test_apply_overrides_does_not_touch_the_input() -> None:
    data = {"a": {"b": 1}}
    out = apply_overrides(data, ["a.b=2", "a.c.d=x"])
    assert data == {"a": {"b": 1}} and out == {"a": {"b": 2, "c": {"d": "x"}}}


def test_resolved_config_differs_per_cell() -> None:
    specs = load_config("smoke").run_specs()
    ids = [s.run_id for s in specs]
    assert len(set(ids)) == len(ids)
    base = next(s for s in specs if s.variant == "baseline")
    assert base.resolved()["expert"] is None  # the expert is no input of a run without AV guidance
    assert base.resolved()["expert_sha256"] is None
    lrlv = next(s for s in specs if s.variant == "lrlv")
    assert lrlv.resolved()["expert"] is None and lrlv.resolved()["expert_sha256"] is None
    av = next(s for s in specs if s.variant == "av")
    assert av.resolved()["expert"]["pretrained"] == "synth-av-v2"
    # the shipped files' hashes are inputs: a retrained judge or expert re-runs the cells
    from talkbench.shipped_readers import shipped_path
    from talkbench.training.stage1 import file_sha256

    assert av.resolved()["expert_sha256"] == file_sha256(shipped_path("synth-av-v2"))
    assert base.resolved()["judge_sha256"] == file_sha256(shipped_path("synth-video-v2"))


def test_where_the_data_lie_is_no_input_of_a_cell(tmp_path: Path) -> None:
    """The same corpus named by a relative path, an absolute one (as the cluster engines pass it) or
    moved elsewhere gives the same resolved config; what the data hold is keyed by the data hash."""
    here = load_config("default", ["data.root=data/synth-head-default"]).run_specs()
    there = load_config("default", [f"data.root={tmp_path / 'moved'}"]).run_specs()
    assert [s.resolved() for s in here] == [s.resolved() for s in there]
    other = load_config("default", ["data.root=data/synth-head-default", "data.corpus_seed=1"])
    assert other.run_specs()[0].resolved() != here[0].resolved()  # what the data are still is


@pytest.mark.parametrize(
    ("key", "bad", "allowed"),
    [
        ("lve_variant", "max_sqq", "LVE_VARIANTS"),
        ("fdd_variant", "signed", "FDD_VARIANTS"),
        ("ver_variant", "spectre:festival:utterance", None),
        ("ver_variant", "visemes15:espeak:utterance", None),
        ("ver_variant", "spectre:espeak", None),
    ],
)
def test_metric_variants_are_checked_at_load(key: str, bad: str, allowed: str | None) -> None:
    import facial_metrics

    with pytest.raises(ConfigError) as err:
        load_config("smoke", [f"eval.{key}={bad}"])
    msg = str(err.value)
    assert "smoke.yaml" in msg and f"eval.{key}" in msg and repr(bad) in msg
    for value in getattr(facial_metrics, allowed) if allowed else ():
        assert value in msg


def test_every_facial_metrics_variant_is_accepted() -> None:
    import facial_metrics

    for v in facial_metrics.LVE_VARIANTS:
        assert load_config("smoke", [f"eval.lve_variant={v}"]).eval.lve_variant == v
    for v in facial_metrics.FDD_VARIANTS:
        assert load_config("smoke", [f"eval.fdd_variant={v}"]).eval.fdd_variant == v
    for vmap in facial_metrics.list_viseme_maps():
        for source in ("cmudict", "espeak"):
            for agg in ("utterance", "corpus"):
                value = f"{vmap}:{source}:{agg}"
                assert load_config("smoke", [f"eval.ver_variant={value}"]).eval.ver_variant == value


def test_bad_metric_variant_fails_before_any_work(monkeypatch, capsys) -> None:
    import talkbench.run
    from talkbench.cli import main

    def run_grid(*args, **kwargs):
        raise AssertionError("the grid must not start")

    monkeypatch.setattr(talkbench.run, "run_grid", run_grid)
    with pytest.raises(SystemExit) as exit_:
        main(["run", "-p", "smoke", "--no-site", "eval.lve_variant=max_sqq"])
    err = capsys.readouterr().err
    assert exit_.value.code == 1
    assert "eval.lve_variant" in err and "max_sq, max_l2, mean_l2" in err and "Traceback" not in err


def test_a_preset_extends_another(tmp_path: Path) -> None:
    full = load_config("full-dose")
    default = load_config("default")
    assert (full.name, full.guidance.av_every, full.guidance.av_clip_frames) == ("full-dose", 1, None)
    assert (default.guidance.av_every, default.guidance.av_clip_frames) == (14, 16)
    # everything but the name, the description and the AV dose is the default preset's
    same = {"name", "description", "guidance"}
    assert full.model_dump(exclude=same) == default.model_dump(exclude=same)
    assert full.guidance.model_dump(exclude={"av_every", "av_clip_frames"}) == default.guidance.model_dump(
        exclude={"av_every", "av_clip_frames"}
    )
    # a file extends a preset or a file beside it; mappings merge, lists replace
    (tmp_path / "a.yaml").write_text("extends: smoke\nname: a\nseeds: [5]\ntraining: {steps: 3}\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\nname: b\n")
    b = load_config(tmp_path / "b.yaml")
    smoke = load_config("smoke")
    assert (b.name, b.seeds, b.training.steps) == ("b", [5], 3)
    assert b.training.lr == smoke.training.lr and b.animators == smoke.animators
    (tmp_path / "c.yaml").write_text("extends: d.yaml\nname: c\n")
    (tmp_path / "d.yaml").write_text("extends: c.yaml\nname: d\n")
    with pytest.raises(ConfigError, match="cycle"):
        load_config(tmp_path / "c.yaml")
    (tmp_path / "e.yaml").write_text("extends: nosuchpreset\nname: e\n")
    with pytest.raises(ConfigError, match=r"e\.yaml: extends 'nosuchpreset'"):
        load_config(tmp_path / "e.yaml")
