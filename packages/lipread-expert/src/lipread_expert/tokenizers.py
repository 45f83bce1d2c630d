"""Tokenizers: character-level and the official auto-avsr SentencePiece unigram-5000.

Both use the auto-avsr token list layout ``<blank>`` (id 0) + units (ids 1 … N) + ``<eos>``
(id N + 1), so ``vocab_size = N + 2`` and ``sos = eos = vocab_size − 1``. No ``<eos>`` is
appended when encoding; the model adds ``<sos>``/``<eos>`` itself.

Case: the official SentencePiece vocabulary is UPPER-CASE only; lower-case words tokenize to
``▁`` followed by ``<unk>`` (``methods.md`` §1.4). Both tokenizers therefore upper-case text by
default (``uppercase=True``). With ``uppercase=False`` the SentencePiece tokenizer reproduces the
official behaviour (lower-case words become ``<unk>``), and ``strict=True`` turns any ``<unk>``
into an error instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol

import torch

from .loss import IGNORE_ID

BLANK = "<blank>"
EOS = "<eos>"
SPACE_PIECE = "\u2581"  # "▁", SentencePiece's word-boundary marker

#: Default character set of the character tokenizer: space, apostrophe, A–Z, 0–9.
DEFAULT_CHARACTERS = " '" + "ABCDEFGHIJKLMNOPQRSTUVWXYZ" + "0123456789"


class Tokenizer(Protocol):
    """What the readers, losses and decoders need from a tokenizer."""

    token_list: list[str]

    @property
    def vocab_size(self) -> int: ...

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: Iterable[int]) -> str: ...

    def batch_encode(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]: ...


def _normalise_spaces(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


class _TokenListMixin:
    token_list: list[str]

    @property
    def vocab_size(self) -> int:
        """Output size of a model using this tokenizer (``<blank>`` + units + ``<eos>``)."""
        return len(self.token_list)

    @property
    def blank_id(self) -> int:
        return 0

    @property
    def eos_id(self) -> int:
        return len(self.token_list) - 1

    sos_id = eos_id

    def batch_encode(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Targets (B, L) padded with −1 and their lengths (B,)."""
        encoded = [self.encode(t) for t in texts]  # type: ignore[attr-defined]
        width = max((len(e) for e in encoded), default=0)
        out = torch.full((len(encoded), max(width, 1)), IGNORE_ID, dtype=torch.long)
        for i, ids in enumerate(encoded):
            out[i, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        return out, torch.tensor([len(e) for e in encoded], dtype=torch.long)

    def _check_ids(self, ids: Iterable[int]) -> list[int]:
        out = []
        for i in ids:
            i = int(i)
            if i == IGNORE_ID:
                continue
            if not 0 <= i < len(self.token_list):
                raise ValueError(f"token id {i} is outside the vocabulary [0, {len(self.token_list)})")
            if i in (0, len(self.token_list) - 1):
                continue  # <blank> and <eos> carry no text
            out.append(i)
        return out


class CharTokenizer(_TokenListMixin):
    """One token per character. Unknown characters raise ``ValueError`` naming them.

    ``token_list = ["<blank>", *characters, "<eos>"]``; whitespace runs collapse to one space and
    text is upper-cased first when ``uppercase`` (the default).
    """

    def __init__(self, characters: str | Sequence[str] = DEFAULT_CHARACTERS, uppercase: bool = True) -> None:
        chars = list(characters)
        if len(set(chars)) != len(chars):
            raise ValueError("characters must be distinct")
        if any(len(c) != 1 for c in chars):
            raise ValueError("every character entry must be a single character")
        self.uppercase = uppercase
        self.token_list = [BLANK, *chars, EOS]
        self._index = {c: i + 1 for i, c in enumerate(chars)}

    @classmethod
    def from_texts(cls, texts: Iterable[str], uppercase: bool = True) -> CharTokenizer:
        """A tokenizer whose characters are those seen in ``texts`` (sorted, space first)."""
        seen: set[str] = set()
        for t in texts:
            seen.update(_normalise_spaces(t.upper() if uppercase else t))
        return cls("".join(sorted(seen)), uppercase=uppercase)

    def normalise(self, text: str) -> str:
        text = _normalise_spaces(text)
        return text.upper() if self.uppercase else text

    def encode(self, text: str) -> list[int]:
        text = self.normalise(text)
        unknown = sorted({c for c in text if c not in self._index})
        if unknown:
            raise ValueError(
                f"characters {unknown} are not in the tokenizer's character set; build it with "
                "CharTokenizer.from_texts(...) or clean the transcript"
            )
        return [self._index[c] for c in text]

    def decode(self, ids: Iterable[int]) -> str:
        return "".join(self.token_list[i] for i in self._check_ids(ids))


class SentencePieceTokenizer(_TokenListMixin):
    """The auto-avsr SentencePiece tokenizer.

    Pieces come from the SentencePiece model; their ids come from the units file (``piece id`` per
    line, ids 1 … N, ``<unk>`` = 1), exactly as auto-avsr's ``TextTransform`` does, so the official
    unigram-5000 model gives ``vocab_size`` 5049. Needs the optional ``sentencepiece`` package.
    """

    def __init__(
        self, model_path: str | Path, units_path: str | Path, uppercase: bool = True, strict: bool = False
    ) -> None:
        try:
            import sentencepiece
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                "SentencePieceTokenizer needs the sentencepiece package: "
                "pip install 'lipread-expert[sentencepiece]'"
            ) from exc
        model_path, units_path = Path(model_path), Path(units_path)
        for p in (model_path, units_path):
            if not p.is_file():
                raise FileNotFoundError(f"SentencePiece file not found: {p}")
        self.spm = sentencepiece.SentencePieceProcessor(model_file=str(model_path))
        self.uppercase = uppercase
        self.strict = strict
        units: list[str] = []
        self._piece_to_id: dict[str, int] = {}
        for lineno, line in enumerate(units_path.read_text(encoding="utf-8").splitlines(), start=1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 2 or not parts[1].isdigit():
                raise ValueError(f"{units_path}:{lineno}: expected 'piece id', got {line!r}")
            piece, idx = parts[0], int(parts[1])
            if idx != len(units) + 1:
                raise ValueError(f"{units_path}:{lineno}: ids must run 1, 2, …; got {idx} after {len(units)}")
            units.append(piece)
            self._piece_to_id[piece] = idx
        if "<unk>" not in self._piece_to_id:
            raise ValueError(f"{units_path}: no <unk> entry")
        self.unk_id = self._piece_to_id["<unk>"]
        self.token_list = [BLANK, *units, EOS]

    def pieces(self, text: str) -> list[str]:
        text = _normalise_spaces(text)
        if self.uppercase:
            text = text.upper()
        return list(self.spm.encode_as_pieces(text))

    def encode(self, text: str) -> list[int]:
        pieces = self.pieces(text)
        ids = [self._piece_to_id.get(p, self.unk_id) for p in pieces]
        if self.strict and self.unk_id in ids:
            bad = [p for p, i in zip(pieces, ids) if i == self.unk_id]
            raise ValueError(f"text has pieces outside the vocabulary ({bad}); is it upper-case?")
        return ids

    def decode(self, ids: Iterable[int]) -> str:
        text = "".join(self.token_list[i] for i in self._check_ids(ids))
        return text.replace(SPACE_PIECE, " ").strip()
