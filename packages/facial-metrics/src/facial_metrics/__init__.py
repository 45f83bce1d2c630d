"""Metrics for speech-driven 3D facial animation: LVE, FDD, MVE, CER/WER/VER, lip sync (MTM, SLCC, LOC),
region masks, protocols. Every streaming class is a :class:`torchmetrics.Metric`."""

from . import safe_pickle
from ._version import __version__
from .fdd import (
    FDD_VARIANTS,
    UpperFaceDynamicsDeviation,
    fdd_sequence_deviation,
    upper_face_dynamics_deviation,
)
from .lip_opening import lip_opening
from .loc import LipOpeningCorrelation, lip_opening_correlation, loc_sequence_correlations
from .lve import LVE_VARIANTS, LipVertexError, lip_vertex_error, lve_frame_errors
from .masks import (
    KNOWN_TOPOLOGY_VERTICES,
    RegionMask,
    indices_sha256,
    load_flame_masks,
    load_index_file,
    register_topology,
    topology_num_vertices,
)
from .mtm import TemporalMisalignment, mtm_sequence_offsets, temporal_misalignment
from .mve import MeanVertexError, mean_vertex_error, mve_frame_errors
from .phonemes import UnknownWordError, WordPhonemizer
from .protocols import Protocol, SentenceRange, get_protocol, list_protocols
from .safe_pickle import load_restricted_pickle
from .slcc import (
    SLCC_VARIANTS,
    SpeechLipCorrelation,
    clip_lip_intensity,
    frame_rms_energy,
    speech_lip_correlation,
)
from .text import CharErrorRate, WordErrorRate, char_error_rate, normalize_transcript, word_error_rate
from .ver import VisemeErrorRate, VisemeTranscriber, viseme_error_rate
from .vertex_core import StreamingMetric, align_lengths
from .visemes import OCULUS15, SPECTRE, VisemeMap, arpabet_to_ipa, get_viseme_map, list_viseme_maps

__all__ = [
    "FDD_VARIANTS",
    "KNOWN_TOPOLOGY_VERTICES",
    "LVE_VARIANTS",
    "OCULUS15",
    "SLCC_VARIANTS",
    "SPECTRE",
    "CharErrorRate",
    "LipOpeningCorrelation",
    "LipVertexError",
    "MeanVertexError",
    "Protocol",
    "RegionMask",
    "SentenceRange",
    "SpeechLipCorrelation",
    "StreamingMetric",
    "TemporalMisalignment",
    "UnknownWordError",
    "UpperFaceDynamicsDeviation",
    "VisemeErrorRate",
    "VisemeMap",
    "VisemeTranscriber",
    "WordErrorRate",
    "WordPhonemizer",
    "__version__",
    "align_lengths",
    "arpabet_to_ipa",
    "char_error_rate",
    "clip_lip_intensity",
    "fdd_sequence_deviation",
    "frame_rms_energy",
    "get_protocol",
    "get_viseme_map",
    "indices_sha256",
    "lip_opening",
    "lip_opening_correlation",
    "lip_vertex_error",
    "list_protocols",
    "list_viseme_maps",
    "load_flame_masks",
    "load_index_file",
    "load_restricted_pickle",
    "loc_sequence_correlations",
    "lve_frame_errors",
    "mean_vertex_error",
    "mtm_sequence_offsets",
    "mve_frame_errors",
    "normalize_transcript",
    "register_topology",
    "safe_pickle",
    "speech_lip_correlation",
    "temporal_misalignment",
    "topology_num_vertices",
    "upper_face_dynamics_deviation",
    "viseme_error_rate",
    "word_error_rate",
]
