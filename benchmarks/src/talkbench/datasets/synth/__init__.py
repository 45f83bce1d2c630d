"""The synthetic talking-face corpus: eSpeak NG speech, a procedural face, a viseme rig with
Cohen–Massaro coarticulation, mood-driven upper face and blinks (docs/datasets.md)."""

from .corpus import SIZES, CorpusSize, generate_corpus, speakers
from .dataset import load_manifest, load_synth_masks, synth_dataset
from .face import TOPOLOGY, FaceMesh, build_face
from .grammar import MOODS, Sentence, sample_sentence, vocabulary
from .rig import CHANNELS, Rig, build_rig

__all__ = [
    "CHANNELS",
    "MOODS",
    "SIZES",
    "TOPOLOGY",
    "CorpusSize",
    "FaceMesh",
    "Rig",
    "Sentence",
    "build_face",
    "build_rig",
    "generate_corpus",
    "load_manifest",
    "load_synth_masks",
    "sample_sentence",
    "speakers",
    "synth_dataset",
    "vocabulary",
]
