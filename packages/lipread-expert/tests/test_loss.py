"""CTC and label-smoothed attention losses against values worked out by hand."""

from __future__ import annotations

import math

import pytest
import torch

from lipread_expert import LipReader, add_sos_eos, ctc_loss, label_smoothing_loss


def _logits(*rows: list[float]) -> torch.Tensor:
    """Logits whose softmax is exactly the given probability rows."""
    return torch.log(torch.tensor(rows, dtype=torch.float64))


def test_ctc_two_frames_two_symbols_by_hand() -> None:
    # Vocabulary {blank, a}; frame probabilities (blank, a): t1 (0.3, 0.7), t2 (0.6, 0.4).
    # Paths for "a": (a, a), (a, blank), (blank, a) → p = 0.7·0.4 + 0.7·0.6 + 0.3·0.4 = 0.82.
    logits = _logits([0.3, 0.7], [0.6, 0.4]).unsqueeze(0)
    loss = ctc_loss(logits, torch.tensor([2]), torch.tensor([[1]]))
    assert float(loss) == pytest.approx(-math.log(0.82), rel=1e-6)


def test_ctc_sum_over_batch_divided_by_batch_and_zero_infinity() -> None:
    # Second utterance "a a" needs 3 frames (a, blank, a) but has 2: infinite loss → 0.
    row = [[0.3, 0.7], [0.6, 0.4]]
    logits = _logits(*row).unsqueeze(0).repeat(2, 1, 1)
    targets = torch.tensor([[1, -1], [1, 1]])
    loss = ctc_loss(logits, torch.tensor([2, 2]), targets)
    assert float(loss) == pytest.approx(-math.log(0.82) / 2, rel=1e-6)


def test_ctc_three_frames_repeated_label_by_hand() -> None:
    # "a a" over 3 frames has the single path (a, blank, a).
    probs = [[0.2, 0.8], [0.5, 0.5], [0.1, 0.9]]
    loss = ctc_loss(_logits(*probs).unsqueeze(0), torch.tensor([3]), torch.tensor([[1, 1]]))
    assert float(loss) == pytest.approx(-math.log(0.8 * 0.5 * 0.9), rel=1e-6)


def test_ctc_respects_input_lengths() -> None:
    # Only the first 2 of 3 frames are valid: same value as the 2-frame case.
    logits = _logits([0.3, 0.7], [0.6, 0.4], [0.01, 0.99]).unsqueeze(0)
    loss = ctc_loss(logits, torch.tensor([2]), torch.tensor([[1]]))
    assert float(loss) == pytest.approx(-math.log(0.82), rel=1e-6)


def test_ctc_rejects_blank_in_targets() -> None:
    with pytest.raises(ValueError, match="blank"):
        ctc_loss(torch.zeros(1, 2, 3), torch.tensor([2]), torch.tensor([[0]]))


def test_label_smoothing_kl_by_hand() -> None:
    # V = 3, p = (0.2, 0.5, 0.3), target 1, ε = 0.1 → q = (0.05, 0.9, 0.05);
    # KL = 0.05 ln(0.05/0.2) + 0.9 ln(0.9/0.5) + 0.05 ln(0.05/0.3) = 0.3701053…
    kl = 0.05 * math.log(0.05 / 0.2) + 0.9 * math.log(0.9 / 0.5) + 0.05 * math.log(0.05 / 0.3)
    assert kl == pytest.approx(0.3701053, abs=1e-7)
    logits = _logits([0.2, 0.5, 0.3], [0.2, 0.5, 0.3]).view(2, 1, 3)
    targets = torch.tensor([[1], [-1]])  # the second utterance is all padding
    # Sum over valid positions divided by the batch size (normalize_length=False).
    assert float(label_smoothing_loss(logits, targets, 0.1)) == pytest.approx(kl / 2, rel=1e-6)
    assert float(label_smoothing_loss(logits, targets, 0.1, normalize_length=True)) == pytest.approx(kl)
    # No smoothing: plain cross-entropy −ln 0.5.
    assert float(label_smoothing_loss(logits[:1], targets[:1], 0.0)) == pytest.approx(math.log(2))


def test_add_sos_eos() -> None:
    ys_in, ys_out = add_sos_eos(torch.tensor([[3, 4, -1], [5, -1, -1]]), sos=9, eos=9)
    assert ys_in.tolist() == [[9, 3, 4], [9, 5, 9]]
    assert ys_out.tolist() == [[3, 4, 9], [5, 9, -1]]


def test_joint_loss_weights_and_separate_terms() -> None:
    torch.manual_seed(0)
    model = LipReader.from_preset("nano", "video", 6).eval()
    video = torch.randn(2, 5, 1, 88, 88)
    targets = torch.tensor([[1, 2, 3], [4, -1, -1]])
    out = model(targets, video)
    assert out.total.item() == pytest.approx(0.1 * out.ctc.item() + 0.9 * out.att.item(), rel=1e-6)
    expected = 0.3 * out.ctc.item() + 0.7 * out.att.item()
    assert out.weighted(0.3, 0.7).item() == pytest.approx(expected, rel=1e-6)
    # The CTC term is the CTC head's loss on the encoder output; recompute it from the parts.
    enc = model.encode(video)
    assert out.ctc.item() == pytest.approx(ctc_loss(model.ctc(enc.features), enc.lengths, targets).item())
    # Gradients reach the input video (what the AV guidance needs).
    video.requires_grad_(True)
    model(targets, video).weighted(0.1, 0.9).backward()
    assert video.grad is not None and float(video.grad.abs().sum()) > 0
