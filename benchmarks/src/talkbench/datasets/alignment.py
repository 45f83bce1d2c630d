"""Forced alignment of real speech to its transcript with pocketsphinx (CMU Sphinx), cached as JSON.

pocketsphinx 5 ships the US-English acoustic model and the CMU pronouncing dictionary in its wheel.
Two passes, as its API prescribes: ``set_align_text`` + decode gives the word sequence, then
``set_alignment`` + a second decode gives phone and state durations (10 ms frames); see
:class:`Aligner` for the silence trimming and the filler fallback.

Alignments are written beside the data as ``<root>/alignments/<name>.json`` with the transcript and
the SHA-256 of the audio file, and re-used while both are unchanged.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
from pathlib import Path

import numpy as np

from .alignment_io import load_alignment, save_alignment
from .checks import DataError
from .sample import AUDIO_RATE, Segment

__all__ = [
    "Aligner",
    "AlignmentError",
    "align_file",
    "compare_onsets",
    "normalise_transcript",
    "speech_bounds",
]

_FRAME_S = 0.01
_SILENCES = {"SIL", "<sil>", "<s>", "</s>", "[NOISE]", "+SPN+", "+NSN+"}


class AlignmentError(RuntimeError):
    """The transcript cannot be aligned (unknown word, or the decoder found no path)."""


def normalise_transcript(text: str) -> list[str]:
    """Lower-case words, keeping letters, digits and apostrophes.

    ``"Hello, world!"`` → ``["hello", "world"]``.
    """
    return re.sub(r"[^a-z0-9']+", " ", text.lower()).split()


def speech_bounds(audio: np.ndarray, threshold_db: float = -40.0, margin_s: float = 0.02) -> tuple[int, int]:
    """First and last sample of speech: 10 ms frames whose RMS is within ``threshold_db`` of the
    loudest frame, widened by ``margin_s`` on both sides."""
    win = AUDIO_RATE // 100
    n = len(audio) // win
    if n == 0:
        return 0, len(audio)
    rms = np.sqrt((np.asarray(audio[: n * win], dtype=np.float64).reshape(n, win) ** 2).mean(axis=1) + 1e-20)
    active = np.flatnonzero(rms > rms.max() * 10 ** (threshold_db / 20))
    margin = int(margin_s * AUDIO_RATE)
    return max(0, int(active[0]) * win - margin), min(len(audio), (int(active[-1]) + 1) * win + margin)


class Aligner:
    """pocketsphinx forced aligner for 16 kHz mono audio.

    Leading and trailing silence is cut first (:func:`speech_bounds`). The word sequence is then
    aligned with optional silence/noise fillers between words (``fsgusefiller``, pocketsphinx's
    default, needed for pauses in natural speech); when that search ends without reaching the last
    word (it does on some synthetic utterances), the alignment is redone without fillers. Both
    passes use pocketsphinx's default beams: widening them (``beam=1e-100``) made the grammar search
    lose trailing words more often on the synthetic corpus.
    """

    def __init__(self, **config: float) -> None:
        self._config = config
        self._decoders = {fillers: self._new_decoder(fillers) for fillers in (True, False)}
        self.last_used_fillers = True

    def _new_decoder(self, fillers: bool):
        from pocketsphinx import Decoder

        return Decoder(samprate=AUDIO_RATE, fsgusefiller=fillers, loglevel="FATAL", **self._config)

    def _run(
        self, fillers: bool, pcm: bytes, words: list[str]
    ) -> list[tuple[str, int, int, list[tuple[str, int, int]]]] | None:
        """One alignment attempt; ``None`` when the search misses words or the phone pass fails."""
        d = self._decoders[fillers]
        try:
            d.set_align_text(" ".join(words))
            d.start_utt()
            d.process_raw(pcm, full_utt=True)
            d.end_utt()
            found = [re.sub(r"\(\d+\)$", "", x.word) for x in (d.seg() or []) if x.word not in _SILENCES]
            if found != words:
                return None
            d.set_alignment()
            d.start_utt()
            d.process_raw(pcm, full_utt=True)
            d.end_utt()
            return [
                (w.name, w.start, w.duration, [(p.name, p.start, p.duration) for p in w])
                for w in d.get_alignment()
            ]
        except RuntimeError:
            self._decoders[fillers] = self._new_decoder(fillers)  # a failed utterance leaves it unusable
            return None

    def align(
        self, audio: np.ndarray, transcript: str, source: str = "<audio>"
    ) -> tuple[list[Segment], list[Segment]]:
        """Word and phone segments ``(label, start_s, end_s)`` (silences removed; phones in ARPAbet)."""
        words = normalise_transcript(transcript)
        if not words:
            raise AlignmentError(f"{source}: empty transcript")
        lookup = self._decoders[True]
        unknown = [w for w in words if lookup.lookup_word(w) is None]
        if unknown:
            raise AlignmentError(
                f"{source}: words not in the pocketsphinx dictionary: {', '.join(sorted(set(unknown)))}; "
                "spell numbers as words or add pronunciations with Decoder.add_word"
            )
        start, end = speech_bounds(np.asarray(audio))
        offset = start / AUDIO_RATE
        pcm = (
            (np.clip(np.asarray(audio[start:end], dtype=np.float64), -1.0, 1.0) * 32767)
            .astype("<i2")
            .tobytes()
        )
        alignment = None
        for fillers in (True, False):
            alignment = self._run(fillers, pcm, words)
            if alignment is not None:
                self.last_used_fillers = fillers
                break
        if alignment is None:
            raise AlignmentError(f"{source}: pocketsphinx found no complete alignment for {transcript!r}")
        out_words: list[Segment] = []
        out_phones: list[Segment] = []

        def seg(label: str, first: int, dur: int) -> Segment:
            return (label, round(offset + first * _FRAME_S, 3), round(offset + (first + dur) * _FRAME_S, 3))

        for wname, wstart, wdur, phones in alignment:
            name = re.sub(r"\(\d+\)$", "", wname)
            if name in _SILENCES:
                continue
            out_words.append(seg(name, wstart, wdur))
            out_phones.extend(seg(p, ps, pd) for p, ps, pd in phones if p not in _SILENCES)
        return out_words, out_phones


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def align_file(
    wav: str | os.PathLike[str],
    transcript: str,
    cache: str | os.PathLike[str],
    aligner: Aligner | None = None,
) -> tuple[list[Segment], list[Segment]]:
    """Align ``wav`` to ``transcript``, re-using ``cache`` (JSON) when transcript and audio hash match."""
    from .audio_io import load_audio

    wav, cache = Path(wav), Path(cache)
    digest = _sha256(wav) if wav.is_file() else ""
    if cache.is_file():
        try:
            words, phones, meta = load_alignment(cache)
            if meta.get("transcript") == transcript and meta.get("audio_sha256") == digest:
                return words, phones
        except DataError:
            pass  # unreadable cache: recompute and overwrite
    audio = load_audio(wav)
    words, phones = (aligner or Aligner()).align(audio, transcript, source=str(wav))
    save_alignment(
        cache,
        words,
        phones,
        transcript=transcript,
        audio_sha256=digest,
        audio_duration_s=round(audio.shape[0] / AUDIO_RATE, 4),
        source="pocketsphinx forced alignment",
    )
    return words, phones


def compare_onsets(reference: list[Segment], hypothesis: list[Segment]) -> np.ndarray:
    """Absolute onset differences (s) of the phones matched between two alignments of one utterance.

    Phones are matched by label in order (``difflib.SequenceMatcher`` on the two label sequences),
    so insertions or substitutions on either side are skipped rather than misaligned.
    """
    a = [p[0] for p in reference]
    b = [p[0] for p in hypothesis]
    diffs = []
    for block in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_matching_blocks():
        for k in range(block.size):
            diffs.append(abs(reference[block.a + k][1] - hypothesis[block.b + k][1]))
    return np.asarray(diffs, dtype=np.float64)
