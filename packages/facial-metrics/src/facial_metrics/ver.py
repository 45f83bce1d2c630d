r"""Viseme error rate (VER): CER on viseme strings.

Each transcript is normalised (:func:`~facial_metrics.text.normalize_transcript`), its words are
turned into IPA phones (:class:`~facial_metrics.phonemes.WordPhonemizer`: CMUdict, optionally eSpeak
NG), the phones into viseme classes (:mod:`facial_metrics.visemes`: ``"spectre"`` default, or
``"oculus15"``); each word becomes the concatenation of its class symbols and words are separated by
one space, giving the viseme string :math:`V(\cdot)`. Then

.. math:: \mathrm{VER} = \mathrm{CER}(V(\mathrm{ref}), V(\mathrm{hyp}))

per utterance, averaged over utterances (``aggregate="utterance"``, the AV-guidance paper
``compute_metric_cerver_step2.py``; ``methods.md`` §1.8) or pooled (``aggregate="corpus"``). With the
SPECTRE map, multi-character classes (``er``, ``Or``, ``@t``, ...) count per character, as in the
paper. The paper phonemises with eSpeak (``phone_source="espeak"``); the default CMUdict path gives
the same classes for most words but can differ where the two dictionaries disagree, so a result
records which source was used. Unit: fraction, reported ×10⁻². Lower is better. Words that yield no
viseme (e.g. a lone glottal stop) are dropped from the string.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from .phonemes import PhoneSource, WordPhonemizer
from .text import Aggregate, _aggregate, _check_pairs, _EditRate, edit_counts, normalize_transcript
from .visemes import VisemeMap, get_viseme_map

__all__ = ["VisemeErrorRate", "VisemeTranscriber", "viseme_error_rate"]


class VisemeTranscriber:
    """Turns transcripts into viseme strings (normalise → phones → classes → symbols)."""

    def __init__(
        self,
        viseme_map: str | VisemeMap = "spectre",
        phone_source: PhoneSource = "cmudict",
        oov: Literal["error", "espeak"] = "error",
    ) -> None:
        self.viseme_map = get_viseme_map(viseme_map)
        self.phonemizer = WordPhonemizer(phone_source, oov)

    def __call__(self, transcript: str) -> str:
        words = normalize_transcript(transcript).split()
        phones = self.phonemizer.phones(words)
        strings = []
        for word, ph in zip(words, phones):
            try:
                s = self.viseme_map.word_string(ph)
            except ValueError as exc:
                raise ValueError(f"word {word!r} (phones {' '.join(ph)}): {exc}") from exc
            if s:
                strings.append(s)
        return " ".join(strings)

    def settings(self) -> tuple[str, str, str]:
        return (self.viseme_map.name, self.phonemizer.source, self.phonemizer.oov)


def _viseme_counts(
    transcriber: VisemeTranscriber, references: Sequence[str], hypotheses: Sequence[str]
) -> list[tuple[int, int]]:
    _check_pairs(references, hypotheses)
    refs, hyps = [], []
    for i, (r, h) in enumerate(zip(references, hypotheses)):
        vr = transcriber(r)
        if not vr:
            raise ValueError(f"reference {i} ({r!r}) has no visemes after normalisation; VER is undefined")
        refs.append(vr)
        hyps.append(transcriber(h))
    return edit_counts(refs, hyps, "char", normalize=None)


def viseme_error_rate(
    references: Sequence[str],
    hypotheses: Sequence[str],
    viseme_map: str | VisemeMap = "spectre",
    phone_source: PhoneSource = "cmudict",
    oov: Literal["error", "espeak"] = "error",
    aggregate: Aggregate = "utterance",
) -> float:
    """VER over reference/hypothesis pairs; see the module docstring.

    Raises :class:`~facial_metrics.phonemes.UnknownWordError` naming a word missing from CMUdict
    when ``oov="error"``.
    """
    counts = _viseme_counts(VisemeTranscriber(viseme_map, phone_source, oov), references, hypotheses)
    return _aggregate(counts, aggregate)


class VisemeErrorRate(_EditRate):
    """Streaming VER (``update(references, hypotheses)``); state as :class:`CharErrorRate`."""

    report_key = "ver"

    def __init__(
        self,
        viseme_map: str | VisemeMap = "spectre",
        phone_source: PhoneSource = "cmudict",
        oov: Literal["error", "espeak"] = "error",
        aggregate: Aggregate = "utterance",
        **kwargs: Any,
    ) -> None:
        super().__init__(aggregate, **kwargs)
        self.transcriber = VisemeTranscriber(viseme_map, phone_source, oov)

    def _settings(self) -> tuple[object, ...]:
        return (self.aggregate, *self.transcriber.settings())

    def _counts(self, references: Sequence[str], hypotheses: Sequence[str]) -> list[tuple[int, int]]:
        return _viseme_counts(self.transcriber, references, hypotheses)
