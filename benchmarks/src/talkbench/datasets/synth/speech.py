"""Utterances: eSpeak NG speech at 16 kHz with exact word and phone (ARPAbet) alignments.

Timing comes from the synthesiser's own events: each phoneme event carries the output sample at
which the phoneme starts; a phone ends where the next phoneme or pause starts. Words are the groups of
phones between word events. The waveform gets ``lead_s`` of leading silence and is cut ``tail_s``
after the last phone, then resampled 22050 → 16000 Hz (``resample_poly(320, 441)``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy.signal import resample_poly

from ..sample import AUDIO_RATE, Segment
from .espeak import synthesize
from .grammar import Sentence
from .phonemes import espeak_to_arpabet, is_pause

__all__ = ["Utterance", "Voice", "synthesize_sentence"]


@dataclass(frozen=True)
class Voice:
    """eSpeak NG settings of one speaker: voice (with variant), words per minute, pitch, pitch range."""

    name: str
    rate: int
    pitch: int
    pitch_range: int


@dataclass
class Utterance:
    """A synthesised sentence: 16 kHz mono audio and its alignments (seconds)."""

    audio: np.ndarray
    words: list[Segment]
    phones: list[Segment]
    espeak_phonemes: list[tuple[str, float]]

    @property
    def duration_s(self) -> float:
        return self.audio.shape[0] / AUDIO_RATE


def synthesize_sentence(
    sentence: Sentence,
    voice: Voice,
    mood_volume: int = 15,
    lead_s: float = 0.15,
    tail_s: float = 0.15,
    seed: int = 0,
) -> Utterance:
    """Speak ``sentence`` with ``voice``; the mood word (first word) at ``mood_volume`` % loudness."""
    rest = " ".join(sentence.words[1:])
    ssml = f'<speak><prosody volume="{mood_volume}">{sentence.words[0]}</prosody> {rest}</speak>'
    res = synthesize(
        ssml,
        voice=voice.name,
        rate=voice.rate,
        pitch=voice.pitch,
        pitch_range=voice.pitch_range,
        ssml=True,
        seed=seed,
    )
    sr = res.sample_rate
    # phoneme boundaries: every phoneme / pause event starts a new interval; word events come, in
    # stream order, before the first phoneme of their word (their sample field is not reliable)
    marks: list[tuple[str, int, int]] = []  # (label, start sample, word number)
    word = 0
    for ev in res.events:
        if ev.kind == "phoneme":
            marks.append((ev.label, ev.sample, word))
        elif ev.kind == "word":
            word += 1
        elif ev.kind == "end":
            marks.append(("_", ev.sample, word))
    if word != len(sentence.words):
        raise RuntimeError(
            f"eSpeak NG reported {word} words for {sentence.text!r} ({len(sentence.words)} expected)"
        )
    raw: list[tuple[str, int, int, int]] = []  # (espeak mnemonic, start, end, word number) of real phonemes
    for (label, start, wnum), (_, nxt, _) in itertools.pairwise(marks):
        if not is_pause(label) and nxt > start:
            raw.append((label, start, nxt, wnum))
    if not raw:
        raise RuntimeError(f"eSpeak NG reported no phonemes for {sentence.text!r}")
    lead = round(lead_s * sr)
    last = raw[-1][2]
    audio = np.concatenate(
        [np.zeros(lead, np.float32), res.audio[: min(len(res.audio), last + int(tail_s * sr))]]
    )

    def sec(sample: float) -> float:
        return (sample + lead) / sr

    phones: list[Segment] = []
    words: list[Segment] = []
    word_phones: list[list[Segment]] = [[] for _ in sentence.words]
    for label, start, end, wnum in raw:
        wi = min(max(wnum - 1, 0), len(sentence.words) - 1)
        arpa = espeak_to_arpabet(label)
        if not arpa:
            continue
        step = (end - start) / len(arpa)
        for k, ph in enumerate(arpa):
            seg = (ph, round(sec(start + k * step), 5), round(sec(start + (k + 1) * step), 5))
            phones.append(seg)
            word_phones[wi].append(seg)
    for word, segs in zip(sentence.words, word_phones):
        if not segs:
            raise RuntimeError(f"eSpeak NG gave no phonemes for word {word!r} in {sentence.text!r}")
        words.append((word, segs[0][1], segs[-1][2]))
    audio16 = resample_poly(audio.astype(np.float64), 320, 441).astype(np.float32)
    return Utterance(
        audio=audio16,
        words=words,
        phones=phones,
        espeak_phonemes=[(label, round(sec(start), 5)) for label, start, _, _ in raw],
    )
