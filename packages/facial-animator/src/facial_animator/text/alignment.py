"""Words of a transcript and their placement on motion frames.

* :func:`split_words` — words are maximal runs of non-whitespace characters; each keeps its
  character span so sub-word tokens can be pooled per word through tokenizer offsets.
* :func:`match_word_timings` — pairs the transcript's words with timed word labels
  ``[(label, start_s, end_s), ...]`` (forced-aligner or synthesiser output). Labels are compared after
  lower-casing and stripping punctuation; silence labels (``sil``, ``sp``, ``spn``, ``<sil>``, ``<s>``,
  ``</s>``, empty) are skipped. Any other mismatch raises an error naming both words.
* :func:`align_words_to_frames` — motion frame *t* sits at time ``t / fps`` and takes the word whose
  interval ``[start, end)`` contains that time; frames in pauses get no word (mask ``False``). Without
  timings the words are spread uniformly: frame *t* takes word ``⌊t·W/T⌋`` (every frame has a word;
  when W > T some words get no frame).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = ["SILENCE_LABELS", "align_words_to_frames", "match_word_timings", "normalize_word", "split_words"]

SILENCE_LABELS = frozenset({"", "sil", "sp", "spn", "<sil>", "<s>", "</s>", "<unk>", "{sil}"})

_WORD = re.compile(r"\S+")
_PUNCT = re.compile(r"[^\w']+")


def split_words(transcript: str) -> list[tuple[str, int, int]]:
    """Whitespace-separated words of ``transcript`` with their ``[start, end)`` character spans."""
    return [(m.group(0), m.start(), m.end()) for m in _WORD.finditer(transcript)]


def normalize_word(word: str) -> str:
    """Lower-case ``word`` and drop punctuation (apostrophes kept), for matching against timings."""
    return _PUNCT.sub("", word.lower()).strip("'")


def match_word_timings(
    words: Sequence[str], timings: Sequence[tuple[str, float, float]]
) -> list[tuple[float, float]]:
    """``(start_s, end_s)`` for each of ``words`` from timed labels (see the module docstring)."""
    timed = []
    for label, start, end in timings:
        if label.strip().lower() in SILENCE_LABELS or not normalize_word(label):
            continue
        if not (end >= start >= 0):
            raise ValueError(f"word timing ({label!r}, {start}, {end}) is not a valid interval")
        timed.append((label, float(start), float(end)))
    keep = [w for w in words if normalize_word(w)]
    if len(keep) != len(timed):
        raise ValueError(
            f"the transcript has {len(keep)} words but the word timings have {len(timed)} non-silence "
            f"labels; transcript words {list(keep)[:8]}..., timing labels {[t[0] for t in timed][:8]}..."
        )
    spans: list[tuple[float, float]] = []
    it = iter(timed)
    for w in words:
        if not normalize_word(w):  # a punctuation-only token: zero-length span, never shown
            spans.append((0.0, 0.0))
            continue
        label, start, end = next(it)
        if normalize_word(label) != normalize_word(w):
            raise ValueError(
                f"transcript word {w!r} does not match the timed label {label!r} at the same position; "
                "pass timings of this transcript's words in order"
            )
        spans.append((start, end))
    return spans


def align_words_to_frames(
    num_words: int,
    num_frames: int,
    fps: float,
    spans: Sequence[tuple[float, float]] | None = None,
) -> tuple[Tensor, Tensor]:
    """Word index per motion frame, ``(T,)`` long, and a ``(T,)`` bool mask of frames that have a word.

    With ``spans`` (one ``(start_s, end_s)`` per word) a frame at time ``t/fps`` takes the first word
    whose interval contains it; otherwise the words are spread uniformly over the frames.
    """
    if num_frames <= 0:
        raise ValueError(f"num_frames must be positive, got {num_frames}")
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    index = torch.zeros(num_frames, dtype=torch.long)
    mask = torch.zeros(num_frames, dtype=torch.bool)
    if num_words == 0:
        return index, mask
    if spans is None:
        t = torch.arange(num_frames)
        return torch.div(t * num_words, num_frames, rounding_mode="floor"), torch.ones(
            num_frames, dtype=torch.bool
        )
    if len(spans) != num_words:
        raise ValueError(f"{len(spans)} word spans for {num_words} words")
    times = torch.arange(num_frames, dtype=torch.float64) / fps
    for w in reversed(range(num_words)):  # reversed so the first containing word wins
        start, end = spans[w]
        inside = (times >= start) & (times < end)
        index[inside] = w
        mask |= inside
    return index, mask
