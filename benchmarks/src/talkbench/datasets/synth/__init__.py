"""The synthetic talking-face corpus: eSpeak NG speech, a procedural face (``synth-face-v1``) or the
CC0 human head ``synth-head-v2`` with ARKit face units, a viseme rig with Cohen–Massaro
coarticulation, mood-driven upper face and blinks (docs/datasets.md).

Names are imported on first use (PEP 562).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "SIZES": "corpus",
    "CorpusSize": "corpus",
    "generate_corpus": "corpus",
    "speakers": "corpus",
    "load_manifest": "dataset",
    "load_synth_masks": "dataset",
    "synth_dataset": "dataset",
    "TOPOLOGY": "face",
    "FaceMesh": "face",
    "build_face": "face",
    "HEAD_TOPOLOGY": "head",
    "HeadMesh": "head",
    "load_head": "head",
    "HEAD_CHANNELS": "head_rig",
    "HeadRig": "head_rig",
    "build_head_rig": "head_rig",
    "head_identity_shape": "head_identity",
    "MOODS": "grammar",
    "Sentence": "grammar",
    "sample_sentence": "grammar",
    "vocabulary": "grammar",
    "CHANNELS": "rig",
    "Rig": "rig",
    "build_rig": "rig",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
