"""Metrics for speech-driven 3D facial animation: LVE, FDD, MVE, CER/WER/VER, region masks, protocols."""

from . import safe_pickle
from ._version import __version__
from .fdd import (
    FDD_VARIANTS,
    UpperFaceDynamicsDeviation,
    fdd_sequence_deviation,
    upper_face_dynamics_deviation,
)
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
from .mve import MeanVertexError, mean_vertex_error, mve_frame_errors
from .protocols import Protocol, SentenceRange, get_protocol, list_protocols
from .safe_pickle import load_restricted_pickle
from .vertex_core import StreamingMetric, align_lengths

__all__ = [
    "FDD_VARIANTS",
    "KNOWN_TOPOLOGY_VERTICES",
    "LVE_VARIANTS",
    "LipVertexError",
    "MeanVertexError",
    "Protocol",
    "RegionMask",
    "SentenceRange",
    "StreamingMetric",
    "UpperFaceDynamicsDeviation",
    "__version__",
    "align_lengths",
    "fdd_sequence_deviation",
    "get_protocol",
    "indices_sha256",
    "lip_vertex_error",
    "list_protocols",
    "load_flame_masks",
    "load_index_file",
    "load_restricted_pickle",
    "lve_frame_errors",
    "mean_vertex_error",
    "mve_frame_errors",
    "register_topology",
    "safe_pickle",
    "topology_num_vertices",
    "upper_face_dynamics_deviation",
]
