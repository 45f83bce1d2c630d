"""Phone inventories: eSpeak NG English mnemonics → ARPAbet, and ARPAbet → viseme classes.

The viseme classes are the 15 of Meta's OVRLipSync (``sil PP FF TH DD kk CH SS nn RR aa E ih oh ou``),
with the usual ARPAbet assignment (reference/methods.md §5.1); HH takes no class of its own and is
mapped to ``sil``-like low dominance in the rig (see :mod:`.coarticulation`).
"""

from __future__ import annotations

__all__ = ["ARPABET_TO_VISEME", "ESPEAK_TO_ARPABET", "VISEMES", "espeak_to_arpabet", "is_pause"]

VISEMES = ("sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "ih", "oh", "ou")

ARPABET_TO_VISEME: dict[str, str] = {
    "sil": "sil",
    "HH": "sil",
    "P": "PP",
    "B": "PP",
    "M": "PP",
    "F": "FF",
    "V": "FF",
    "TH": "TH",
    "DH": "TH",
    "T": "DD",
    "D": "DD",
    "K": "kk",
    "G": "kk",
    "NG": "kk",
    "CH": "CH",
    "JH": "CH",
    "SH": "CH",
    "ZH": "CH",
    "S": "SS",
    "Z": "SS",
    "N": "nn",
    "L": "nn",
    "R": "RR",
    "ER": "RR",
    "AA": "aa",
    "AE": "aa",
    "AH": "aa",
    "AY": "aa",
    "AW": "aa",
    "EH": "E",
    "EY": "E",
    "IH": "ih",
    "IY": "ih",
    "Y": "ih",
    "AO": "oh",
    "OW": "oh",
    "OY": "oh",
    "UW": "ou",
    "UH": "ou",
    "W": "ou",
}

#: eSpeak NG ``en`` / ``en-us`` phoneme mnemonics (stress marks removed) → ARPAbet phones.
ESPEAK_TO_ARPABET: dict[str, tuple[str, ...]] = {
    # vowels
    "a": ("AE",),
    "aa": ("AE",),
    "a#": ("AH",),
    "A:": ("AA",),
    "A@": ("AA", "R"),
    "A": ("AA",),
    "aI": ("AY",),
    "aI@": ("AY", "ER"),
    "aI3": ("AY", "ER"),
    "aU": ("AW",),
    "aU@": ("AW", "ER"),
    "@": ("AH",),
    "@-": ("AH",),
    "@2": ("AH",),
    "@5": ("AH",),
    "@L": ("AH", "L"),
    "3": ("ER",),
    "3:": ("ER",),
    "E": ("EH",),
    "E2": ("EH",),
    "e@": ("EH", "R"),
    "eI": ("EY",),
    "i": ("IY",),
    "i:": ("IY",),
    "I": ("IH",),
    "I2": ("IH",),
    "I#": ("IH",),
    "i@": ("IH", "R"),
    "i@3": ("IH", "R"),
    "0": ("AA",),
    "O": ("AO",),
    "O:": ("AO",),
    "O@": ("AO", "R"),
    "o@": ("AO", "R"),
    "OI": ("OY",),
    "oU": ("OW",),
    "o": ("OW",),
    "U": ("UH",),
    "U@": ("UH", "R"),
    "u:": ("UW",),
    "u": ("UW",),
    "V": ("AH",),
    # consonants
    "p": ("P",),
    "b": ("B",),
    "t": ("T",),
    "t#": ("T",),
    "t2": ("T",),
    "d": ("D",),
    "d#": ("D",),
    "*": ("D",),
    "k": ("K",),
    "g": ("G",),
    "f": ("F",),
    "v": ("V",),
    "T": ("TH",),
    "D": ("DH",),
    "s": ("S",),
    "z": ("Z",),
    "S": ("SH",),
    "Z": ("ZH",),
    "h": ("HH",),
    "x": ("HH",),
    "tS": ("CH",),
    "dZ": ("JH",),
    "m": ("M",),
    "n": ("N",),
    "n-": ("N",),
    "N": ("NG",),
    "l": ("L",),
    "l/": ("L",),
    "l#": ("L",),
    "r": ("R",),
    "r-": ("R",),
    "w": ("W",),
    "j": ("Y",),
    "?": (),  # glottal stop: no visible articulation of its own
    ";": (),  # palatalisation / linking mark, no segment of its own
}


def is_pause(mnemonic: str) -> bool:
    """eSpeak pause/boundary pseudo-phonemes (``_``, ``_:``, ``_!``, ``||`` ...)."""
    return mnemonic.startswith("_") or mnemonic.startswith("|") or mnemonic == ""


def espeak_to_arpabet(mnemonic: str) -> tuple[str, ...]:
    """ARPAbet phones of one eSpeak mnemonic (stress marks ``' , % =`` removed); ``KeyError`` if unknown."""
    core = mnemonic.strip("',%=")
    try:
        return ESPEAK_TO_ARPABET[core]
    except KeyError:
        raise KeyError(
            f"eSpeak phoneme {mnemonic!r} has no ARPAbet mapping; add it to ESPEAK_TO_ARPABET"
        ) from None
