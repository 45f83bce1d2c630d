"""Datasets of the benchmark: one :class:`Sample` type, VOCASET, BIWI, the synthetic corpus, alignment.

Every loader returns :class:`Sample` objects (vertices ``(T, V, 3)`` at the dataset fps, template,
faces, 16 kHz mono audio, transcript and alignments when known); :func:`collate_samples` pads them
into a :class:`Batch` for ``torch.utils.data.DataLoader``.

Names are imported on first use (PEP 562), so ``import talkbench.datasets`` stays cheap: corpus
generation workers import only what they need.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Aligner": "alignment",
    "AlignmentError": "alignment",
    "align_file": "alignment",
    "compare_onsets": "alignment",
    "normalise_transcript": "alignment",
    "AudioError": "audio_io",
    "load_audio": "audio_io",
    "to_mono_16k": "audio_io",
    "Batch": "batching",
    "collate_samples": "batching",
    "biwi_dataset": "biwi",
    "DataError": "checks",
    "truncate_pair": "checks",
    "load_alignment": "alignment_io",
    "save_alignment": "alignment_io",
    "ProcessedDataset": "processed",
    "load_templates": "processed",
    "read_faces": "processed",
    "AUDIO_RATE": "sample",
    "Sample": "sample",
    "SplitSpec": "splits",
    "split_spec": "splits",
    "generate_corpus": "synth",
    "load_synth_masks": "synth",
    "synth_dataset": "synth",
    "TranscriptSource": "transcripts",
    "RawVocaset": "vocaset",
    "VocasetRawDataset": "vocaset",
    "convert_vocaset": "vocaset",
    "vocaset_dataset": "vocaset",
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
