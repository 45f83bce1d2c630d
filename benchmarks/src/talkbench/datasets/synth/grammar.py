"""The closed, GRID-like sentence grammar of the synthetic corpus.

A sentence is seven words in fixed slots::

    <mood> <command> <colour> <preposition> <letter> <digit> <adverb>
    e.g.  "gladly place blue at f two now"

39 words in all. The mood word is the sentence-level attribute: it sets the upper-face expression
of the whole utterance (brows, eyelids, cheeks) and is spoken very softly (SSML ``prosody volume``),
so the audio carries it only weakly while the transcript carries it exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["MOODS", "MOOD_WORDS", "SLOTS", "Sentence", "sample_sentence", "vocabulary"]

#: Mood classes and the adverbs that express them.
MOOD_WORDS: dict[str, tuple[str, ...]] = {
    "neutral": ("calmly",),
    "happy": ("gladly",),
    "sad": ("sadly",),
    "angry": ("angrily",),
    "surprised": ("suddenly",),
}
MOODS: tuple[str, ...] = tuple(MOOD_WORDS)

SLOTS: dict[str, tuple[str, ...]] = {
    "command": ("bin", "lay", "place", "set"),
    "colour": ("blue", "green", "red", "white"),
    "preposition": ("at", "by", "in", "with"),
    "letter": ("b", "f", "l", "o", "q", "s", "u", "y"),
    "digit": ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
    "adverb": ("again", "now", "please", "soon"),
}


@dataclass(frozen=True)
class Sentence:
    """One sentence of the grammar: its words (mood first) and mood class."""

    words: tuple[str, ...]
    mood: str

    @property
    def text(self) -> str:
        return " ".join(self.words)


def vocabulary() -> list[str]:
    """Every word of the grammar, in slot order."""
    words = [w for ws in MOOD_WORDS.values() for w in ws]
    for ws in SLOTS.values():
        words.extend(ws)
    return words


def sample_sentence(rng: np.random.Generator, slots: tuple[str, ...] = tuple(SLOTS)) -> Sentence:
    """Draw a sentence uniformly: a mood, then one word per slot in ``slots`` (all slots by default)."""
    mood = MOODS[int(rng.integers(len(MOODS)))]
    mood_words = MOOD_WORDS[mood]
    words = [mood_words[int(rng.integers(len(mood_words)))]]
    for slot in slots:
        choices = SLOTS[slot]
        words.append(choices[int(rng.integers(len(choices)))])
    return Sentence(words=tuple(words), mood=mood)
