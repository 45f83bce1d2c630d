"""BIWI (B3D(AC)^2) in the processed layout of the CodeTalker preprocessing.

::

    <root>/vertices_npy/<S>_eNN.npy   (T, 70110) float64, 25 fps, area-normalised units
    <root>/wav/<S>_eNN.wav            44.1 kHz audio
    <root>/templates.pkl              dict S -> (23370, 3)
    <root>/BIWI.ply                   topology (23370 vertices, 46068 faces), optional

Only the emotional sentences ``e01``–``e40`` are used. Splits (facial-metrics protocols
``biwi-test-a`` / ``biwi-test-b``): train F2 F3 F4 M3 M4 M5 e01–e32, val the same e33–e36,
Test-A the same six speakers e37–e40 (own style), Test-B F1 F5 F6 F7 F8 M1 M2 M6 e37–e40.
``sentences.txt`` (one line per sentence, line ``n`` for ``eNN``) supplies transcripts.
"""

from __future__ import annotations

import os
from pathlib import Path

from .checks import DEFAULT_MAX_MISMATCH_S, DataError
from .processed import ProcessedDataset, read_faces
from .splits import split_spec

__all__ = ["BIWI_VERTICES", "biwi_dataset"]

BIWI_VERTICES = 23370


def biwi_dataset(
    root: str | os.PathLike[str],
    split: str,
    *,
    test_set: str = "A",
    transcripts: str | os.PathLike[str] | None = None,
    faces_path: str | os.PathLike[str] | None = None,
    max_mismatch_s: float = DEFAULT_MAX_MISMATCH_S,
) -> ProcessedDataset:
    """A split of processed BIWI. ``test_set`` ("A" or "B") picks the protocol ``biwi-test-a|b``.

    ``transcripts`` defaults to ``<root>/sentences.txt`` when that file exists; ``faces_path`` to
    ``<root>/BIWI.ply`` or ``<root>/templates/BIWI.ply``.
    """
    root = Path(root)
    if test_set.upper() not in ("A", "B"):
        raise ValueError(f"test_set must be 'A' or 'B', got {test_set!r}")
    spec = split_spec(f"biwi-test-{test_set.lower()}", split)
    faces = None
    if faces_path is not None:
        faces = read_faces(faces_path)
    else:
        for cand in (root / "BIWI.ply", root / "templates" / "BIWI.ply"):
            if cand.is_file():
                faces = read_faces(cand)
                break
    if transcripts is None and (root / "sentences.txt").is_file():
        transcripts = root / "sentences.txt"
    ds = ProcessedDataset(root, spec, faces=faces, transcripts=transcripts, max_mismatch_s=max_mismatch_s)
    for subject, template in ds.templates.items():
        if template.shape[0] != BIWI_VERTICES:
            raise DataError(
                f"{ds.templates_path}: template {subject!r} has {template.shape[0]} vertices, "
                f"BIWI has {BIWI_VERTICES}"
            )
    return ds
