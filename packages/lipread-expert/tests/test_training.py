"""Schedule, training step and checkpoints."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from lipread_expert import (
    Batch,
    CharTokenizer,
    LipReader,
    WarmupCosine,
    load_checkpoint,
    make_optimizer,
    make_scheduler,
    read_checkpoint,
    save_checkpoint,
    train_step,
)


def test_warmup_cosine_values() -> None:
    f = WarmupCosine(warmup_steps=4, total_steps=12)
    assert [f(s) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert f(4) == pytest.approx(1.0)
    assert f(8) == pytest.approx(0.5)  # halfway through the 8 cosine steps: ½(1 + cos(π/2))
    assert f(6) == pytest.approx(0.5 * (1 + math.cos(math.pi / 4)))
    assert f(12) == pytest.approx(0.0, abs=1e-12)
    assert f(50) == pytest.approx(0.0, abs=1e-12)
    assert WarmupCosine(0, 10, min_ratio=0.1)(10) == pytest.approx(0.1)
    with pytest.raises(ValueError):
        WarmupCosine(5, 3)


def _batch(tok: CharTokenizer) -> Batch:
    torch.manual_seed(0)
    targets, _ = tok.batch_encode(["AB", "BA"])
    return Batch(targets=targets, video=torch.randn(2, 6, 1, 88, 88), video_lengths=torch.tensor([6, 5]))


def test_train_step_reduces_loss_and_clips() -> None:
    torch.manual_seed(0)
    tok = CharTokenizer("AB")
    model = LipReader.from_preset("nano", "video", tok.vocab_size)
    opt = make_optimizer(model, lr=3e-3)
    sched = make_scheduler(opt, warmup_steps=2, total_steps=40)
    batch = _batch(tok)
    logs = [train_step(model, batch, opt, sched, grad_clip=1.0) for _ in range(25)]
    assert logs[0]["lr"] == pytest.approx(1.5e-3)  # first warm-up step: (0 + 1)/2 · 3e-3
    assert logs[-1]["loss"] < 0.5 * logs[0]["loss"]
    assert set(logs[0]) == {"loss", "ctc", "att", "accuracy", "grad_norm", "lr"}
    # Clipping: after the step the clipped gradient norm is at most 1.
    total = torch.norm(torch.stack([p.grad.norm() for p in model.parameters() if p.grad is not None]))
    assert float(total) <= 1.0 + 1e-4


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(0)
    tok = CharTokenizer("AB")
    model = LipReader.from_preset("nano", "audiovisual", tok.vocab_size)
    opt = make_optimizer(model)
    sched = make_scheduler(opt, 2, 10)
    batch = _batch(tok)
    batch.audio = torch.randn(2, 6 * 640)
    train_step(model, batch, opt, sched)
    path = save_checkpoint(tmp_path / "ck" / "reader.pt", model, opt, sched, step=1,
                           token_list=tok.token_list, extra={"note": "x"})
    assert path.is_file()
    assert [p.name for p in path.parent.iterdir()] == ["reader.pt"]  # no temporary file left
    payload = torch.load(path, weights_only=True)  # loads under the safe unpickler
    assert payload["token_list"] == tok.token_list and payload["step"] == 1
    restored, info = load_checkpoint(path)
    assert restored.modality == "audiovisual" and restored.config == model.config
    for key, value in model.state_dict().items():
        assert torch.equal(value, restored.state_dict()[key]), key
    opt2 = make_optimizer(restored)
    sched2 = make_scheduler(opt2, 2, 10)
    load_checkpoint(path, restored, opt2, sched2)
    assert sched2.last_epoch == sched.last_epoch
    assert info["extra"] == {"note": "x"}
    model.eval()
    restored.eval()
    with torch.no_grad():
        a = model.encode(batch.video, batch.audio).features
        b = restored.encode(batch.video, batch.audio).features
    torch.testing.assert_close(a, b)


def test_checkpoint_errors(tmp_path: Path) -> None:
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    with pytest.raises(ValueError, match="not a lipread-expert checkpoint"):
        read_checkpoint(other)
    with pytest.raises(FileNotFoundError, match=r"absent\.pt"):
        read_checkpoint(tmp_path / "absent.pt")
    model = LipReader.from_preset("nano", "video", 4)
    path = save_checkpoint(tmp_path / "v.pt", model)
    with pytest.raises(ValueError, match="audio"):
        load_checkpoint(path, LipReader.from_preset("nano", "audio", 4))
    with pytest.raises(ValueError, match="token_list"):
        save_checkpoint(tmp_path / "w.pt", model, token_list=["<blank>", "<eos>"])
