"""An interrupted run resumed from its checkpoint ends exactly where an uninterrupted run does.

The comparison is bit-exact with one CPU thread, which isolates the checkpointing from the kernels:
with several threads, a kernel that accumulates with atomic adds sums in an order that follows
thread timing (docs/reproducing.md, "Bit-exact reruns and CPU threads", for the renderer's case and
its fix).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lipread_expert import LipReader
from talkbench.config import BenchConfig
from talkbench.renders import input_spec_for
from talkbench.training.animator import AnimatorTrainer, StopTraining
from talkbench.training.data import load_masks, load_split
from talkbench.training.stage1 import TrainedReader, make_tokenizer


def _trainer(config: BenchConfig, registry: str, variant: str, seed: int = 3) -> AnimatorTrainer:
    spec = next(s for s in config.run_specs() if s.animator.registry == registry and s.variant == variant)
    samples = load_split(config, "train")
    masks = load_masks(config)
    expert = None
    if spec.uses_av:
        tok = make_tokenizer()
        torch.manual_seed(0)
        model = LipReader.from_preset(
            "nano", "audiovisual", tok.vocab_size, input_spec=input_spec_for(config.render)
        )
        expert = TrainedReader(model, tok, Path("unused"), "0" * 64)
    return AnimatorTrainer(spec, seed, samples, samples[0].faces, masks["lip"].indices, expert)


def _state(trainer: AnimatorTrainer) -> dict[str, torch.Tensor]:
    state = {f"model.{k}": v.detach().clone() for k, v in trainer.model.state_dict().items()}
    if trainer.guidance is not None:
        state |= {f"expert.{k}": v.detach().clone() for k, v in trainer.guidance.expert.state_dict().items()}
    return state


@pytest.mark.parametrize(("registry", "variant"), [("faceformer", "both"), ("codetalker", "phonetic")])
def test_interrupted_run_resumes_to_the_same_parameters(
    tiny_config: BenchConfig, tmp_path: Path, registry: str, variant: str
) -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _resume_case(tiny_config, tmp_path, registry, variant)
    finally:
        torch.set_num_threads(threads)


def _resume_case(tiny_config: BenchConfig, tmp_path: Path, registry: str, variant: str) -> None:
    steps = tiny_config.training.steps
    assert tiny_config.training.checkpoint_every < steps
    whole = _trainer(tiny_config, registry, variant)
    full_logs = whole.fit(tmp_path / "whole.pt")
    assert len(full_logs) == steps

    ckpt = tmp_path / "killed.pt"
    first = _trainer(tiny_config, registry, variant)
    kill_at = 3  # after step 3; the last checkpoint is from step 2, so step 3 is done twice

    def kill(step: int, _: dict[str, float]) -> None:
        if step == kill_at:
            raise StopTraining

    with pytest.raises(StopTraining):
        first.fit(ckpt, on_step=kill)
    del first
    resumed = _trainer(tiny_config, registry, variant)
    logs = resumed.fit(ckpt)
    assert len(logs) == steps - tiny_config.training.checkpoint_every  # resumed after step 2
    a, b = _state(whole), _state(resumed)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert logs[-1]["loss"] == full_logs[-1]["loss"]
    # the training curve survives the interruption: the checkpoint carries the steps before it
    assert resumed.history == whole.history and len(whole.history) == steps
    assert resumed.vq_history == whole.vq_history


def test_different_seeds_give_different_models(tiny_config: BenchConfig) -> None:
    a = _trainer(tiny_config, "faceformer", "baseline", seed=0)
    b = _trainer(tiny_config, "faceformer", "baseline", seed=1)
    a.fit()
    b.fit()
    sa, sb = _state(a), _state(b)
    assert any(not torch.equal(sa[k], sb[k]) for k in sa)


def test_lip_term_is_applied_on_every_step_of_av_variants(tiny_config: BenchConfig) -> None:
    # Lrlv is part of the reconstruction objective; only the expensive AV term is intermittent
    config = tiny_config.model_copy(
        update={"guidance": tiny_config.guidance.model_copy(update={"av_every": 3})}
    )
    trainer = _trainer(config, "faceformer", "av")
    logs = trainer.fit()
    assert all("rlv" in log for log in logs)
    assert ["av" in log for log in logs] == [step % 3 == 0 for step in range(len(logs))]
    baseline = _trainer(config, "faceformer", "baseline").fit()
    assert not any("rlv" in log for log in baseline)


def test_codetalker_stage1_from_the_shared_cache_gives_the_same_run(
    tiny_config: BenchConfig, tmp_path: Path
) -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        cache = tmp_path / "stage1.pt"
        fresh = _trainer(tiny_config, "codetalker", "baseline")
        fresh.fit()  # no cache: trains stage 1
        writer = _trainer(tiny_config, "codetalker", "phonetic")
        writer.fit(vq_cache=cache)  # trains stage 1 and stores it
        assert cache.is_file()
        reader = _trainer(tiny_config, "codetalker", "baseline")
        reader.fit(vq_cache=cache)  # loads the phonetic run's stage 1
        a, b = _state(fresh), _state(reader)
        for k in a:
            assert torch.equal(a[k], b[k]), k
        # the stored stage 1 is the one both variants used
        auto = {k for k in a if k.startswith("model.autoencoder.")}
        assert auto
        w = _state(writer)
        assert all(torch.equal(w[k], a[k]) for k in auto)
    finally:
        torch.set_num_threads(threads)


def test_animator_steps_lr_and_adam_eps_reach_the_trainer(tiny_config: BenchConfig) -> None:
    """An animator entry's own ``steps`` / ``lr`` and ``training.adam_eps`` are what the trainer uses."""
    base = tiny_config.model_dump()
    base["training"]["adam_eps"] = 1e-12
    ct = next(a for a in base["animators"] if a["registry"] == "codetalker")
    ct.update(steps=3, lr=3e-4)
    config = type(tiny_config).model_validate(base)
    ct_trainer = _trainer(config, "codetalker", "baseline")
    ff_trainer = _trainer(config, "faceformer", "baseline")
    assert ct_trainer.total_steps == 3 and ff_trainer.total_steps == config.training.steps == 6
    (ct_group,) = ct_trainer.optimizer.param_groups
    (ff_group,) = ff_trainer.optimizer.param_groups
    assert (ct_group["lr"], ct_group["eps"]) == (3e-4, 1e-12)
    assert (ff_group["lr"], ff_group["eps"]) == (config.training.lr, 1e-12)
    ct_trainer.fit()
    assert ct_trainer.step_index == 3
