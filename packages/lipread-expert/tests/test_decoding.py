"""Greedy CTC, CTC prefix scores and beam search against brute-force enumeration."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from lipread_expert import EncoderOutput, LipReader, beam_search, greedy_ctc
from lipread_expert.ctc_prefix import extend, initial_state


def _collapse(path: tuple[int, ...]) -> tuple[int, ...]:
    out, prev = [], None
    for p in path:
        if p != prev and p != 0:
            out.append(p)
        prev = p
    return tuple(out)


def _brute_force(log_probs: torch.Tensor) -> dict[tuple[int, ...], float]:
    """Probability of every label sequence: sum over all frame paths collapsing to it."""
    t_len, vocab = log_probs.shape
    probs: dict[tuple[int, ...], float] = {}
    for path in itertools.product(range(vocab), repeat=t_len):
        p = math.exp(sum(float(log_probs[t, s]) for t, s in enumerate(path)))
        key = _collapse(path)
        probs[key] = probs.get(key, 0.0) + p
    return probs


def test_greedy_ctc_merges_repeats_and_drops_blanks() -> None:
    path = torch.tensor([[0, 1, 1, 0, 1, 2, 2, 0], [3, 3, 3, 0, 0, 0, 0, 0]])
    log_probs = torch.nn.functional.one_hot(path, 4).float().log()
    assert greedy_ctc(log_probs, torch.tensor([8, 3])) == [[1, 1, 2], [3]]


def test_ctc_prefix_scores_equal_brute_force() -> None:
    torch.manual_seed(0)
    t_len, vocab, eos = 4, 4, 3  # blank 0, labels 1 and 2 (and 3 scored as <eos>)
    lp = torch.log_softmax(torch.randn(t_len, vocab, dtype=torch.float64) * 2, dim=-1)
    seq_probs = _brute_force(lp)

    def prefix_prob(prefix: tuple[int, ...]) -> float:
        return sum(p for seq, p in seq_probs.items() if seq[: len(prefix)] == prefix)

    states = initial_state(lp).unsqueeze(0)
    last = torch.tensor([-1])
    prefix: tuple[int, ...] = ()
    for step_token in (1, 1, 2):
        cand = torch.tensor([[1, 2, eos]])
        psi, new_states = extend(lp, states, last, cand, eos)
        for j, c in enumerate((1, 2)):
            assert math.exp(float(psi[0, j])) == pytest.approx(prefix_prob((*prefix, c)), rel=1e-9, abs=1e-12)
        assert math.exp(float(psi[0, 2])) == pytest.approx(seq_probs.get(prefix, 0.0), rel=1e-9, abs=1e-12)
        j = (1, 2).index(step_token)
        states, last, prefix = new_states[:, j], torch.tensor([step_token]), (*prefix, step_token)


def _exhaustive(model: LipReader, memory: torch.Tensor, lp: torch.Tensor, lam: float, maxlen: int):
    """Best sequence over all token sequences of length ≤ maxlen (tokens 1 … odim − 2)."""
    seq_probs = _brute_force(lp)
    tokens = range(1, model.odim - 1)
    best, best_score = None, -math.inf
    for n in range(maxlen + 1):
        for seq in itertools.product(tokens, repeat=n):
            p_ctc = seq_probs.get(seq, 0.0)
            if p_ctc == 0.0:
                continue
            ys_in = torch.tensor([[model.sos, *seq]])
            logp = torch.log_softmax(model.decoder(ys_in, memory, None), dim=-1)[0]
            dec = sum(float(logp[i, t]) for i, t in enumerate((*seq, model.eos)))
            score = (1 - lam) * dec + lam * math.log(p_ctc)
            if score > best_score:
                best, best_score = list(seq), score
    return best, best_score


@pytest.mark.parametrize("lam", [0.1, 0.5, 1.0])
def test_beam_search_equals_exhaustive_search(lam: float) -> None:
    torch.manual_seed(1)
    model = LipReader.from_preset("nano", "video", 4).eval()  # blank, tokens 1 and 2, eos 3
    for p in model.parameters():
        p.data.mul_(3.0)  # sharper, less uniform distributions
    features = torch.randn(2, 4, model.config.adim)
    lengths = torch.tensor([4, 3])
    mask = (torch.arange(4)[None] < lengths[:, None]).unsqueeze(1)
    enc = EncoderOutput(features, lengths, mask)
    with torch.no_grad():
        ctc_lp = model.ctc_log_probs(enc).double()
        results = beam_search(model, enc, beam_size=64, ctc_weight=lam, pre_beam_size=3)
        for b in range(2):
            t_b = int(lengths[b])
            best, best_score = _exhaustive(model, features[b : b + 1, :t_b], ctc_lp[b, :t_b], lam, t_b)
            hyp = results[b][0]
            assert hyp.tokens == best
            assert hyp.score == pytest.approx(best_score, rel=1e-4, abs=1e-4)


def test_beam_search_nbest_is_sorted_and_beam_one_is_valid() -> None:
    torch.manual_seed(2)
    model = LipReader.from_preset("nano", "video", 5).eval()
    enc = model.encode(torch.randn(1, 6, 1, 88, 88))
    nbest = beam_search(model, enc, beam_size=8, nbest=3)[0]
    assert len(nbest) == 3
    assert [h.score for h in nbest] == sorted((h.score for h in nbest), reverse=True)
    for h in nbest:
        assert h.score == pytest.approx(0.9 * h.decoder_score + 0.1 * h.ctc_score, rel=1e-5, abs=1e-5)
        assert all(1 <= t <= 3 for t in h.tokens) and len(h.tokens) <= 6
    single = beam_search(model, enc, beam_size=1)[0][0]
    assert single.score <= nbest[0].score + 1e-6
    with pytest.raises(ValueError, match="beam_size"):
        beam_search(model, enc, beam_size=0)
