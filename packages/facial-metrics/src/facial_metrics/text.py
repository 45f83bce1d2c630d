r"""Character and word error rates (CER, WER) of lip-reading transcripts, through jiwer.

Both strings are first passed through :func:`normalize_transcript`, the one text normaliser of this
package (AV-guidance paper ``compute_metric_cerver_step*.py``, ``methods.md`` §1.8):

1. Unicode NFKC normalisation (composed and decomposed spellings of "café", and compatibility
   forms such as the "ﬁ" ligature or full-width letters, become one string);
2. lower-case, then NFKC again (lower-casing "İ" yields "i" + U+0307 COMBINING DOT ABOVE);
3. every character that is not a letter becomes a space (digits, punctuation, apostrophes:
   "don't" → "don t", "R2-D2" → "r d"); a combining mark (Unicode category ``M*``) that follows a
   letter stays with it, so "İstanbul" → "i̇stanbul", not "i stanbul";
4. runs of whitespace collapse to one space; leading / trailing spaces are removed.

Letters are Unicode letters (``str.isalpha``), so accented words survive, and the same transcript
in any Unicode normal form (NFC, NFD, NFKC, NFKD) normalises to the same string.

With :math:`S, D, I` the substitutions, deletions and insertions of the Levenshtein alignment and
:math:`N` the reference length (characters, spaces included, for CER; words for WER):

* per-utterance mean (``aggregate="utterance"``, default; the AV-guidance paper's CER / VER):
  :math:`\frac{1}{U}\sum_u \frac{S_u + D_u + I_u}{N_u}`;
* corpus level (``aggregate="corpus"``; jiwer on lists, torchmetrics ``WordErrorRate``):
  :math:`\frac{\sum_u (S_u + D_u + I_u)}{\sum_u N_u}`.

Rates are fractions (0.25 = 25 %), can exceed 1 when the hypothesis is longer than the reference,
and are reported ×10⁻² (percent). Lower is better. An empty reference (after normalisation) has no
defined rate and is rejected.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Literal

import jiwer
import torch

from .vertex_core import StreamingMetric

__all__ = [
    "Aggregate",
    "CharErrorRate",
    "WordErrorRate",
    "char_error_rate",
    "edit_counts",
    "normalize_transcript",
    "word_error_rate",
]

Aggregate = Literal["utterance", "corpus"]
_AGGREGATES = ("utterance", "corpus")


def normalize_transcript(text: str) -> str:
    """NFKC, lower-case, non-letters to spaces (marks stay with their letter), collapse whitespace.

    See the module docstring for the exact steps.
    """
    if not isinstance(text, str):
        raise TypeError(f"transcript must be a str, got {type(text).__name__}")
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).lower())
    out: list[str] = []
    after_letter = False
    for ch in folded:
        if ch.isalpha():
            out.append(ch)
            after_letter = True
        elif after_letter and unicodedata.category(ch).startswith("M"):
            out.append(ch)
        else:
            out.append(" ")
            after_letter = False
    return " ".join("".join(out).split())


def _check_pairs(references: Sequence[str], hypotheses: Sequence[str]) -> None:
    if isinstance(references, str) or isinstance(hypotheses, str):
        raise TypeError("references and hypotheses must be lists of strings, not a single str")
    if len(references) == 0:
        raise ValueError("empty transcript lists: pass at least one reference/hypothesis pair")
    if len(references) != len(hypotheses):
        raise ValueError(f"got {len(references)} references but {len(hypotheses)} hypotheses")


def edit_counts(
    references: Sequence[str],
    hypotheses: Sequence[str],
    unit: Literal["char", "word"],
    normalize: Callable[[str], str] | None = normalize_transcript,
) -> list[tuple[int, int]]:
    """``(S + D + I, N)`` for every pair, from jiwer's alignment (the core of CER, WER and VER).

    ``normalize`` is applied to both strings first (``None`` = use them as given).
    """
    _check_pairs(references, hypotheses)
    out: list[tuple[int, int]] = []
    process = jiwer.process_characters if unit == "char" else jiwer.process_words
    for i, (ref, hyp) in enumerate(zip(references, hypotheses)):
        if not isinstance(ref, str) or not isinstance(hyp, str):
            raise TypeError(f"pair {i}: reference and hypothesis must be str")
        r = normalize(ref) if normalize else ref
        h = normalize(hyp) if normalize else hyp
        if not r.strip():
            raise ValueError(
                f"reference {i} ({ref!r}) is empty after normalisation; its error rate is undefined"
            )
        o = process(r, h)
        out.append((o.substitutions + o.deletions + o.insertions, o.substitutions + o.deletions + o.hits))
    return out


def _aggregate(counts: list[tuple[int, int]], aggregate: Aggregate) -> float:
    if aggregate not in _AGGREGATES:
        raise ValueError(f"aggregate must be one of {_AGGREGATES}, got {aggregate!r}")
    if aggregate == "corpus":
        return sum(e for e, _ in counts) / sum(n for _, n in counts)
    return sum(e / n for e, n in counts) / len(counts)


def char_error_rate(
    references: Sequence[str], hypotheses: Sequence[str], aggregate: Aggregate = "utterance"
) -> float:
    """CER over reference/hypothesis pairs (see the module docstring for both ``aggregate`` forms)."""
    return _aggregate(edit_counts(references, hypotheses, "char"), aggregate)


def word_error_rate(
    references: Sequence[str], hypotheses: Sequence[str], aggregate: Aggregate = "utterance"
) -> float:
    """WER over reference/hypothesis pairs (see the module docstring for both ``aggregate`` forms)."""
    return _aggregate(edit_counts(references, hypotheses, "word"), aggregate)


class _EditRate(StreamingMetric):
    """Streaming edit-distance rate (a :class:`torchmetrics.Metric`); float64 sum states: errors,
    reference length, sum of per-utterance rates, utterances."""

    _unit: ClassVar[Literal["char", "word"]] = "char"
    higher_is_better = False
    is_differentiable = False
    unit = "fraction"
    state_names = ("errors", "total", "rate_sum", "num_utterances")

    def __init__(self, aggregate: Aggregate = "utterance", **kwargs: Any) -> None:
        if aggregate not in _AGGREGATES:
            raise ValueError(f"aggregate must be one of {_AGGREGATES}, got {aggregate!r}")
        super().__init__(**kwargs)
        self.aggregate: Aggregate = aggregate

    def _settings(self) -> tuple[object, ...]:
        return (self.aggregate,)

    def _counts(self, references: Sequence[str], hypotheses: Sequence[str]) -> list[tuple[int, int]]:
        return edit_counts(references, hypotheses, self._unit)

    def update(self, references: Sequence[str], hypotheses: Sequence[str]) -> None:
        """Add the edit counts of reference/hypothesis pairs."""
        counts = self._counts(references, hypotheses)
        self._add("errors", float(sum(e for e, _ in counts)))
        self._add("total", float(sum(n for _, n in counts)))
        self._add("rate_sum", float(sum(e / n for e, n in counts)))
        self._add("num_utterances", float(len(counts)))

    def compute(self) -> torch.Tensor:
        """Rate over all pairs seen (float64 scalar); ``RuntimeError`` before any update."""
        if float(self.num_utterances) == 0:
            raise RuntimeError(f"{type(self).__name__}.compute() called before any update()")
        if self.aggregate == "corpus":
            return self.errors / self.total
        return self.rate_sum / self.num_utterances


class CharErrorRate(_EditRate):
    """Streaming CER (``update(references, hypotheses)``); see :func:`char_error_rate`."""

    _unit = "char"
    report_key = "cer"


class WordErrorRate(_EditRate):
    """Streaming WER (``update(references, hypotheses)``); see :func:`word_error_rate`."""

    _unit = "word"
    report_key = "wer"
