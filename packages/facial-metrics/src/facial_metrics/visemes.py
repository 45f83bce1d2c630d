"""Phone → viseme tables and their application to IPA phone sequences.

Phones are IPA strings as eSpeak NG writes them (``phonemizer``, ``en-us``, no stress), or as
:data:`ARPABET_TO_IPA` converts CMUdict ARPAbet. A phone missing from a table is split greedily into
the longest known phones (eSpeak writes r-coloured vowels and diphthong sequences such as ``aɪɚ`` as
one token); a phone that cannot be split raises ``ValueError`` naming it.

Tables (``methods.md`` §5):

* ``"spectre"`` — the SPECTRE map (``filby89/spectre`` ``data/phonemes2visemes.csv``) used by the
  AV-guidance paper for VER; 16 classes plus the rhotic / syllabic-l compounds ``er``, ``Or``,
  ``ar``, ``ir``, ``@t``; the glottal stop ``ʔ`` is dropped. Class symbols are written as in the
  table, so multi-character classes count per character in VER (as in the paper's scripts).
* ``"oculus15"`` — Meta / Oculus OVRLipSync 15 visemes (sil, PP, FF, TH, DD, kk, CH, SS, nn, RR, aa,
  E, ih, oh, ou), each written as one character (:data:`OCULUS15_SYMBOLS`). Choices where the
  reference marks the assignment as unverified: NG → kk, ER → RR, AH/ə → aa, the flap ɾ → DD, and
  HH (``h``) takes the class of the phone after it in the word (sil at the end of a word).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = [
    "ARPABET_TO_IPA",
    "OCULUS15",
    "OCULUS15_CLASSES",
    "OCULUS15_SYMBOLS",
    "SPECTRE",
    "VisemeMap",
    "arpabet_to_ipa",
    "get_viseme_map",
    "list_viseme_maps",
]

#: ARPAbet (stress digits removed, except where stress changes the vowel) → IPA.
ARPABET_TO_IPA: Mapping[str, str] = MappingProxyType({
    "AA": "ɑ", "AE": "æ", "AH": "ʌ", "AH0": "ə", "AO": "ɔ", "AW": "aʊ", "AY": "aɪ", "EH": "ɛ",
    "ER": "ɝ", "ER0": "ɚ", "EY": "eɪ", "IH": "ɪ", "IY": "i", "OW": "oʊ", "OY": "ɔɪ", "UH": "ʊ",
    "UW": "u", "B": "b", "CH": "tʃ", "D": "d", "DH": "ð", "F": "f", "G": "ɡ", "HH": "h", "JH": "dʒ",
    "K": "k", "L": "l", "M": "m", "N": "n", "NG": "ŋ", "P": "p", "R": "ɹ", "S": "s", "SH": "ʃ",
    "T": "t", "TH": "θ", "V": "v", "W": "w", "Y": "j", "Z": "z", "ZH": "ʒ",
})

_VOWELS = frozenset("ɑæʌəɔaɛɝɚeɪioʊu")
# r-coloured vowels eSpeak writes as one phone when the r closes the syllable
_RHOTIC = {"ɛ": "ɛɹ", "ʊ": "ʊɹ", "ɔ": "ɔːɹ", "oʊ": "oːɹ", "ɑ": "ɑːɹ", "ɪ": "ɪɹ", "i": "ɪɹ"}


def arpabet_to_ipa(arpabet: Sequence[str]) -> tuple[str, ...]:
    """Convert one word's ARPAbet phones (with or without stress digits) to IPA phones.

    Unstressed AH0 becomes ``ə`` and unstressed ER0 ``ɚ``; other stress digits are dropped. To match
    eSpeak's phone inventory, a vowel followed by ``ɹ`` that is not followed by a vowel merges into
    eSpeak's r-coloured vowel (``ɛ ɹ`` → ``ɛɹ``, ``ɔ ɹ`` → ``ɔːɹ``, ...), and a word-final ``ə l``
    becomes the syllabic ``əl``.
    """
    ipa: list[str] = []
    for raw in arpabet:
        key = raw.upper()
        base = key.rstrip("012")
        if key in ("AH0", "ER0"):
            ipa.append(ARPABET_TO_IPA[key])
        elif base in ARPABET_TO_IPA:
            ipa.append(ARPABET_TO_IPA[base])
        else:
            raise ValueError(f"unknown ARPAbet phone {raw!r}")
    merged: list[str] = []
    i = 0
    while i < len(ipa):
        cur = ipa[i]
        nxt = ipa[i + 1] if i + 1 < len(ipa) else None
        after = ipa[i + 2] if i + 2 < len(ipa) else None
        if nxt == "ɹ" and cur in _RHOTIC and (after is None or after[0] not in _VOWELS):
            merged.append(_RHOTIC[cur])
            i += 2
            continue
        if cur == "ə" and nxt == "l" and after is None:
            merged.append("əl")
            i += 2
            continue
        merged.append(cur)
        i += 1
    return tuple(merged)


@dataclass(frozen=True)
class VisemeMap:
    """A phone → viseme-class table.

    Attributes:
        name: table id.
        phone_to_class: IPA phone → class name (``""`` = the phone is dropped).
        class_symbols: class name → the string written for it in viseme strings.
        context_phones: phones that take the class of the following phone (``h`` in ``oculus15``).
        end_class: class of a context phone at the end of a word.
    """

    name: str
    phone_to_class: Mapping[str, str]
    class_symbols: Mapping[str, str]
    context_phones: frozenset[str] = field(default_factory=frozenset)
    end_class: str = ""

    def split_phone(self, phone: str) -> tuple[str, ...]:
        """``(phone,)`` if known, else its greedy longest-match split into known phones."""
        known = self.phone_to_class
        if phone in known or phone in self.context_phones:
            return (phone,)
        parts: list[str] = []
        rest = phone
        while rest:
            for size in range(len(rest), 0, -1):
                head = rest[:size]
                if head in known or head in self.context_phones:
                    parts.append(head)
                    rest = rest[size:]
                    break
            else:
                raise ValueError(
                    f"phone {phone!r} has no class in viseme map {self.name!r} (cannot map {rest!r})"
                )
        return tuple(parts)

    def classes(self, phones: Sequence[str]) -> list[str]:
        """Viseme class names of one word's phones (dropped phones omitted)."""
        flat = [p for phone in phones for p in self.split_phone(phone)]
        out: list[str] = []
        for i, p in enumerate(flat):
            if p in self.context_phones:
                following = [q for q in flat[i + 1 :] if q not in self.context_phones]
                cls = self.phone_to_class[following[0]] if following else self.end_class
            else:
                cls = self.phone_to_class[p]
            if cls:
                out.append(cls)
        return out

    def word_string(self, phones: Sequence[str]) -> str:
        """The viseme string of one word: its class symbols concatenated."""
        return "".join(self.class_symbols[c] for c in self.classes(phones))


def _table(groups: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for cls, phones in groups.items():
        for p in phones.split():
            if p in out:
                raise ValueError(f"phone {p!r} listed twice ({out[p]!r}, {cls!r})")
            out[p] = cls
    return out


_SPECTRE_GROUPS = {
    "p": "b m p", "f": "f v", "T": "ð θ", "t": "d t n l ɾ n̩", "s": "s z", "S": "dʒ tʃ ʃ ʒ",
    "k": "ɡ k ŋ h", "r": "ɹ ɹ̩", "u": "w u uː ʊ", "i": "j i iː ɪ iə ᵻ", "@": "ə ɚ",
    "a": "æ aɪ aʊ ɑ ɑː ɐ a aɪə", "e": "eɪ", "E": "ɝ ɜː ɛ ʌ e", "o": "oʊ", "O": "ɔ ɔː ɔɪ oː o",
    "er": "ɛɹ ʊɹ", "Or": "ɔːɹ oːɹ", "ar": "ɑːɹ", "ir": "ɪɹ", "@t": "əl",
}
_spectre = _table(_SPECTRE_GROUPS)
_spectre["ʔ"] = ""
# eSpeak also writes plain "g" and "r" in some words; they are the same phones as ɡ and ɹ
_spectre.setdefault("g", "k")
_spectre.setdefault("r", "r")

SPECTRE = VisemeMap(
    name="spectre",
    phone_to_class=MappingProxyType(_spectre),
    class_symbols=MappingProxyType({c: c for c in _SPECTRE_GROUPS}),
)

#: Oculus viseme names by id (0..14).
OCULUS15_CLASSES: tuple[str, ...] = (
    "sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "ih", "oh", "ou",
)
#: One character per Oculus viseme, used in viseme strings.
OCULUS15_SYMBOLS: Mapping[str, str] = MappingProxyType(dict(zip(OCULUS15_CLASSES, "_pfTtkSsnraeiou")))

_OCULUS_GROUPS = {
    "PP": "p b m", "FF": "f v", "TH": "θ ð", "DD": "t d ɾ", "kk": "k ɡ g ŋ", "CH": "tʃ dʒ ʃ ʒ",
    "SS": "s z", "nn": "n l n̩", "RR": "ɹ r ɹ̩ ɝ ɚ ɜː ɜ", "aa": "ɑ ɑː æ ʌ ə ɐ a aɪ aʊ",
    "E": "ɛ e eɪ", "ih": "ɪ i iː j ᵻ iə", "oh": "ɔ ɔː oʊ ɔɪ o oː", "ou": "u uː ʊ w",
}
_oculus = _table(_OCULUS_GROUPS)
_oculus["ʔ"] = ""

OCULUS15 = VisemeMap(
    name="oculus15",
    phone_to_class=MappingProxyType(_oculus),
    class_symbols=OCULUS15_SYMBOLS,
    context_phones=frozenset({"h"}),
    end_class="sil",
)

_MAPS = {m.name: m for m in (SPECTRE, OCULUS15)}


def list_viseme_maps() -> list[str]:
    """Names of the built-in viseme maps."""
    return sorted(_MAPS)


def get_viseme_map(name: str | VisemeMap) -> VisemeMap:
    """A built-in :class:`VisemeMap` by name (a map passes through unchanged)."""
    if isinstance(name, VisemeMap):
        return name
    try:
        return _MAPS[name]
    except KeyError:
        raise KeyError(f"unknown viseme map {name!r}; known: {', '.join(list_viseme_maps())}") from None
