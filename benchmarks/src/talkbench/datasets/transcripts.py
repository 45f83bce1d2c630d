"""User-supplied transcript files: one line per sentence, line ``n`` is sentence number ``n``.

Two arrangements are read:

* one shared file for every subject (BIWI's ``sentences.txt``: all subjects read the same 40 sentences);
* a folder with one file per subject, ``<folder>/<subject>.txt`` (VOCASET: ``sentencestext/<subject>.txt``).

Lines are stripped; blank lines mean "no transcript for this sentence" and give ``None``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from .checks import DataError

__all__ = ["TranscriptSource", "read_transcript_lines", "sentence_number"]


def sentence_number(sentence: str) -> int:
    """Number of a sentence id: its trailing digits (``"sentence07"`` → 7, ``"e37"`` → 37)."""
    match = re.search(r"(\d+)$", sentence)
    if not match:
        raise ValueError(f"sentence id {sentence!r} does not end in a number")
    return int(match.group(1))


def read_transcript_lines(path: str | os.PathLike[str]) -> list[str]:
    """Lines of a UTF-8 transcript file (stripped). Errors name the file."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"transcript file not found: {p}")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{p}: transcript file is not UTF-8 text ({exc})") from exc
    lines = [line.strip() for line in text.splitlines()]
    if not any(lines):
        raise DataError(f"{p}: transcript file is empty")
    return lines


class TranscriptSource:
    """Transcripts from a shared file or a per-subject folder (see the module docstring)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(
                f"transcripts not found: {self.path} (give a file or a folder of <subject>.txt)"
            )
        self._cache: dict[str, list[str]] = {}

    def _file_for(self, subject: str) -> Path:
        return self.path / f"{subject}.txt" if self.path.is_dir() else self.path

    def get(self, subject: str, sentence: str) -> str | None:
        """Transcript of ``sentence`` (by its number) for ``subject``; ``None`` for a blank line."""
        f = self._file_for(subject)
        key = str(f)
        if key not in self._cache:
            self._cache[key] = read_transcript_lines(f)
        lines = self._cache[key]
        n = sentence_number(sentence)
        if not 1 <= n <= len(lines):
            raise DataError(f"{f}: no line {n} for sentence {sentence!r} (the file has {len(lines)} lines)")
        return lines[n - 1] or None
