"""Decoding: greedy CTC and joint CTC/attention beam search.

Beam search scores a hypothesis ``y`` (token sequence, ``<eos>`` counted on completion) as

    score(y) = (1 − λ)·log p_dec(y) + λ·log ψ_ctc(y),   λ = ctc_weight (official 0.1)

where ``log p_dec`` sums the decoder's next-token log-probabilities and ``ψ_ctc`` is the CTC prefix
probability (:mod:`lipread_expert.ctc_prefix`; the full-sequence probability once ``<eos>`` is
added). As in espnet's ``BatchBeamSearch`` (auto-avsr ``get_beam_search_decoder``: beam 40,
decoder 0.9, CTC 0.1, no length bonus, ``maxlenratio`` 0 so the maximum length is the number of
encoder frames), each step pre-selects ``int(1.5·beam)`` candidates per hypothesis by decoder score
and CTC-scores only those. All running hypotheses of an utterance are scored in one batch.

Ending: every term is a log-probability (≤ 0), so no extension of a hypothesis scores above it;
the search stops when no running hypothesis beats the best finished one (an exact criterion that
replaces espnet's heuristic ``end_detect``), or at the maximum length, where only ``<eos>`` is
allowed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from . import ctc_prefix
from .model import EncoderOutput, LipReader
from .tokenizers import Tokenizer


@dataclass
class Hypothesis:
    """A finished hypothesis: token ids (no ``<sos>``/``<eos>``) and its scores."""

    tokens: list[int]
    score: float
    decoder_score: float
    ctc_score: float


def greedy_ctc(log_probs: torch.Tensor, lengths: torch.Tensor, blank: int = 0) -> list[list[int]]:
    """Best-path CTC decoding: per-frame arg-max, repeats merged, blanks removed. (B, T, V) → ids."""
    best = log_probs.argmax(dim=-1).cpu()
    out = []
    for b in range(best.size(0)):
        path = best[b, : int(lengths[b])].tolist()
        ids, prev = [], None
        for p in path:
            if p != prev and p != blank:
                ids.append(p)
            prev = p
        out.append(ids)
    return out


@torch.no_grad()
def greedy_decode(model: LipReader, enc: EncoderOutput) -> list[list[int]]:
    """Greedy CTC decoding of an encoded batch."""
    return greedy_ctc(model.ctc_log_probs(enc), enc.lengths)


@torch.no_grad()
def beam_search(
    model: LipReader,
    enc: EncoderOutput,
    beam_size: int | None = None,
    ctc_weight: float | None = None,
    pre_beam_size: int | None = None,
    maxlen: int | None = None,
    nbest: int = 1,
) -> list[list[Hypothesis]]:
    """Joint CTC/attention beam search; returns the ``nbest`` best hypotheses of each utterance.

    ``beam_size`` and ``ctc_weight`` default to the model config (official 40 and 0.1).
    ``pre_beam_size`` defaults to ``int(1.5·beam_size)``; ``maxlen`` to the utterance's frame count.
    """
    beam = beam_size if beam_size is not None else model.config.beam_size
    lam = model.config.ctc_weight if ctc_weight is None else ctc_weight
    if beam < 1:
        raise ValueError(f"beam_size must be ≥ 1, got {beam}")
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"ctc_weight must be in [0, 1], got {lam}")
    was_training = model.training
    model.eval()
    try:
        ctc_lp = model.ctc_log_probs(enc)
        results = []
        for b in range(enc.features.size(0)):
            t_b = int(enc.lengths[b])
            results.append(
                _search_one(
                    model, enc.features[b : b + 1, :t_b], ctc_lp[b, :t_b], beam, lam,
                    pre_beam_size or int(1.5 * beam), t_b if maxlen is None else maxlen, nbest,
                )
            )
    finally:
        model.train(was_training)
    return results


def _search_one(
    model: LipReader,
    memory: torch.Tensor,
    ctc_lp: torch.Tensor,
    beam: int,
    lam: float,
    pre_beam: int,
    maxlen: int,
    nbest: int,
) -> list[Hypothesis]:
    eos, vocab, device = model.eos, model.odim, memory.device
    ys = torch.full((1, 1), model.sos, dtype=torch.long, device=device)
    scores = torch.zeros(1, device=device)
    dec_scores = torch.zeros(1, device=device)
    ctc_psi = torch.zeros(1, device=device)
    states = ctc_prefix.initial_state(ctc_lp).unsqueeze(0)
    last = torch.full((1,), -1, dtype=torch.long, device=device)
    ended: list[Hypothesis] = []
    for step in range(maxlen + 1):
        n = ys.size(0)
        dec_lp = model.decoder.score_next(ys, memory.expand(n, -1, -1), None)
        dec_lp[:, 0] = float("-inf")  # the CTC blank is not an output token
        if step == maxlen:
            cand = torch.full((n, 1), eos, dtype=torch.long, device=device)
        elif lam < 1.0:
            k = min(pre_beam, vocab - 1)
            cand = dec_lp.topk(k, dim=-1).indices
        else:
            cand = torch.arange(1, vocab, device=device).expand(n, -1)
        cand_dec = dec_lp.gather(1, cand)
        if lam > 0.0:
            psi, new_states = ctc_prefix.extend(ctc_lp, states, last, cand, eos)
        else:
            psi = torch.zeros_like(cand_dec)
            new_states = states.unsqueeze(1).expand(-1, cand.size(1), -1, -1)
        total = scores[:, None] + (1 - lam) * cand_dec + lam * (psi - ctc_psi[:, None])
        flat = total.flatten()
        finite = torch.isfinite(flat)
        if not bool(finite.any()):
            break
        top = flat.masked_fill(~finite, float("-inf")).topk(min(beam, int(finite.sum()))).indices
        src, col = top // cand.size(1), top % cand.size(1)
        tok = cand[src, col]
        keep = []
        for j in range(top.numel()):
            s, c, t = int(src[j]), int(col[j]), int(tok[j])
            if t == eos:
                ended.append(
                    Hypothesis(
                        tokens=ys[s, 1:].tolist(), score=float(total[s, c]),
                        decoder_score=float(dec_scores[s] + cand_dec[s, c]), ctc_score=float(psi[s, c]),
                    )
                )
            else:
                keep.append(j)
        if not keep:
            break
        idx = torch.tensor(keep, device=device)
        s_idx, c_idx = src[idx], col[idx]
        ys = torch.cat([ys[s_idx], tok[idx, None]], dim=1)
        scores = total[s_idx, c_idx]
        dec_scores = dec_scores[s_idx] + cand_dec[s_idx, c_idx]
        ctc_psi = psi[s_idx, c_idx]
        states = new_states[s_idx, c_idx]
        last = tok[idx]
        if len(ended) >= nbest:
            best_ended = sorted(h.score for h in ended)[-nbest]
            if float(scores.max()) <= best_ended:
                break
    ended.sort(key=lambda h: h.score, reverse=True)
    return ended[:nbest]


def decode_texts(hyps: list[list[int]] | list[list[Hypothesis]], tokenizer: Tokenizer) -> list[str]:
    """Token ids (or n-best lists, first entry used) → text through ``tokenizer.decode``."""
    out = []
    for h in hyps:
        if h and isinstance(h[0], Hypothesis):
            out.append(tokenizer.decode(h[0].tokens))  # type: ignore[union-attr]
        elif not h:
            out.append("")
        else:
            out.append(tokenizer.decode(h))  # type: ignore[arg-type]
    return out


@torch.no_grad()
def transcribe(
    model: LipReader,
    tokenizer: Tokenizer,
    video: torch.Tensor | None = None,
    audio: torch.Tensor | None = None,
    video_lengths: torch.Tensor | None = None,
    audio_lengths: torch.Tensor | None = None,
    method: str = "greedy",
    beam_size: int | None = None,
    ctc_weight: float | None = None,
    **encode_kwargs: Any,
) -> list[str]:
    """Encode a batch in eval mode and decode it to text (``method`` "greedy" or "beam")."""
    if method not in ("greedy", "beam"):
        raise ValueError(f"method must be 'greedy' or 'beam', got {method!r}")
    was_training = model.training
    model.eval()
    try:
        enc = model.encode(video, audio, video_lengths, audio_lengths, **encode_kwargs)
        if method == "greedy":
            return decode_texts(greedy_decode(model, enc), tokenizer)
        return decode_texts(beam_search(model, enc, beam_size, ctc_weight), tokenizer)
    finally:
        model.train(was_training)
