"""Joint CTC / attention loss of the auto-avsr readers (as used by the AV-guidance paper).

With B utterances, V output classes and targets padded with ``IGNORE_ID`` (−1):

- CTC (Graves et al. 2006): ``L_ctc = Σ_b −log p_ctc(y_b | x_b) / B``, i.e. ``torch.nn.CTCLoss``
  with ``reduction="sum"`` and ``zero_infinity=True`` divided by the batch size; blank id 0;
  the input lengths are the encoder (video) frame counts.
- Attention (label-smoothed KL, Szegedy et al. 2016; espnet ``LabelSmoothingLoss`` with
  ``normalize_length=False``): targets ``ys_out = y + [eos]``; the smoothed target distribution puts
  ``1 − ε`` on the true class and ``ε / (V − 1)`` on every other class;
  ``L_att = Σ_{b,l valid} Σ_v q_v (log q_v − log p_v) / B``.
- Joint: ``L = α·L_ctc + (1 − α)·L_att`` with ``α = mtlalpha = 0.1`` and ``ε = 0.1`` officially.

Source: auto-avsr @ 8acf580 (``espnet/nets/pytorch_backend/ctc.py``,
``transformer/label_smoothing_loss.py``, ``e2e_asr_conformer*.py``), summarised in the project's
``methods.md`` §1.2 and §2.5.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F

IGNORE_ID = -1
BLANK_ID = 0


@dataclass
class LipReadingLoss:
    """The loss terms of one batch. ``total = mtlalpha·ctc + (1 − mtlalpha)·att``.

    ``ctc`` and ``att`` are kept separately so that a caller can weight them itself (the AV
    guidance uses ``λctc·ctc + λce·att``). ``accuracy`` is the teacher-forced token accuracy of the
    attention decoder (a float, no gradient).
    """

    total: torch.Tensor
    ctc: torch.Tensor
    att: torch.Tensor
    accuracy: float

    def weighted(self, ctc_weight: float, att_weight: float) -> torch.Tensor:
        """``ctc_weight·ctc + att_weight·att``."""
        return ctc_weight * self.ctc + att_weight * self.att


def _check_targets(targets: torch.Tensor, num_classes: int, name: str = "targets") -> None:
    if targets.dim() != 2:
        raise ValueError(f"{name} must be (B, L) padded with {IGNORE_ID}, got shape {tuple(targets.shape)}")
    valid = targets[targets != IGNORE_ID]
    if valid.numel() and (int(valid.min()) < 0 or int(valid.max()) >= num_classes):
        raise ValueError(
            f"{name} holds ids outside [0, {num_classes}); pad with {IGNORE_ID} and check the tokenizer"
        )


def target_lengths(targets: torch.Tensor) -> torch.Tensor:
    """Number of non-padding ids per row of a (B, L) target tensor padded with −1."""
    return (targets != IGNORE_ID).sum(dim=1)


def ctc_loss(logits: torch.Tensor, lengths: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """``Σ_b −log p_ctc(y_b | x_b) / B`` from frame logits (B, T, V) (blank id 0, zero_infinity)."""
    _check_targets(targets, logits.size(-1))
    if bool((targets == BLANK_ID).any()):
        raise ValueError("targets contain the CTC blank id 0; token ids must start at 1")
    log_probs = torch.log_softmax(logits.float(), dim=-1).transpose(0, 1)  # (T, B, V)
    tlens = target_lengths(targets)
    flat = targets[targets != IGNORE_ID]
    loss = F.ctc_loss(
        log_probs, flat, lengths.to(torch.long), tlens, blank=BLANK_ID, reduction="sum", zero_infinity=True
    )
    return loss / logits.size(0)


def label_smoothing_loss(
    logits: torch.Tensor, targets: torch.Tensor, smoothing: float, normalize_length: bool = False
) -> torch.Tensor:
    """Label-smoothed KL divergence summed over valid positions, divided by B (or by the token
    count when ``normalize_length``). ``logits`` (B, L, V), ``targets`` (B, L) padded with −1."""
    vocab = logits.size(-1)
    _check_targets(targets, vocab)
    x = logits.float().reshape(-1, vocab)
    target = targets.reshape(-1)
    ignore = target == IGNORE_ID
    with torch.no_grad():
        true_dist = torch.full_like(x, smoothing / (vocab - 1))
        true_dist.scatter_(1, target.masked_fill(ignore, 0).unsqueeze(1), 1.0 - smoothing)
    kl = F.kl_div(torch.log_softmax(x, dim=1), true_dist, reduction="none")
    denom = int((~ignore).sum()) if normalize_length else logits.size(0)
    return kl.masked_fill(ignore.unsqueeze(1), 0.0).sum() / max(denom, 1)


def add_sos_eos(targets: torch.Tensor, sos: int, eos: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Decoder input ``[sos] + y`` (padded with eos) and output ``y + [eos]`` (padded with −1)."""
    b = targets.size(0)
    lens = target_lengths(targets)
    width = int(lens.max()) + 1 if b else 1
    ys_in = torch.full((b, width), eos, dtype=torch.long, device=targets.device)
    ys_out = torch.full((b, width), IGNORE_ID, dtype=torch.long, device=targets.device)
    ys_in[:, 0] = sos
    for i in range(b):
        y = targets[i][targets[i] != IGNORE_ID]
        ys_in[i, 1 : 1 + y.numel()] = y
        ys_out[i, : y.numel()] = y
        ys_out[i, y.numel()] = eos
    return ys_in, ys_out


def token_accuracy(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """Fraction of non-ignored positions where the arg-max equals the target."""
    mask = targets != IGNORE_ID
    if not bool(mask.any()):
        return 0.0
    return float((logits.argmax(-1)[mask] == targets[mask]).float().mean())
