"""Datasets of the benchmark: one :class:`Sample` type, VOCASET, BIWI, the synthetic corpus, alignment.

Every loader returns :class:`Sample` objects (vertices ``(T, V, 3)`` at the dataset fps, template,
faces, 16 kHz mono audio, transcript and alignments when known); :func:`collate_samples` pads them
into a :class:`Batch` for ``torch.utils.data.DataLoader``.
"""

from .alignment import Aligner, AlignmentError, align_file, compare_onsets, normalise_transcript
from .audio_io import AudioError, load_audio, to_mono_16k
from .biwi import biwi_dataset
from .checks import DataError, truncate_pair
from .processed import ProcessedDataset, load_alignment, load_templates, read_faces, save_alignment
from .sample import AUDIO_RATE, Batch, Sample, collate_samples
from .splits import SplitSpec, split_spec
from .synth import generate_corpus, load_synth_masks, synth_dataset
from .transcripts import TranscriptSource
from .vocaset import RawVocaset, VocasetRawDataset, convert_vocaset, vocaset_dataset

__all__ = [
    "AUDIO_RATE",
    "Aligner",
    "AlignmentError",
    "AudioError",
    "Batch",
    "DataError",
    "ProcessedDataset",
    "RawVocaset",
    "Sample",
    "SplitSpec",
    "TranscriptSource",
    "VocasetRawDataset",
    "align_file",
    "biwi_dataset",
    "collate_samples",
    "compare_onsets",
    "convert_vocaset",
    "generate_corpus",
    "load_alignment",
    "load_audio",
    "load_synth_masks",
    "load_templates",
    "normalise_transcript",
    "read_faces",
    "save_alignment",
    "split_spec",
    "synth_dataset",
    "to_mono_16k",
    "truncate_pair",
    "vocaset_dataset",
]
