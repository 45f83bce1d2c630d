"""Metrics for speech-driven 3D facial animation: LVE, FDD, MVE, CER/WER/VER, region masks, protocols."""

from . import safe_pickle
from ._version import __version__
from .masks import (
    KNOWN_TOPOLOGY_VERTICES,
    RegionMask,
    indices_sha256,
    load_flame_masks,
    load_index_file,
    register_topology,
    topology_num_vertices,
)
from .protocols import Protocol, SentenceRange, get_protocol, list_protocols
from .safe_pickle import load_restricted_pickle

__all__ = [
    "KNOWN_TOPOLOGY_VERTICES",
    "Protocol",
    "RegionMask",
    "SentenceRange",
    "__version__",
    "get_protocol",
    "indices_sha256",
    "list_protocols",
    "load_flame_masks",
    "load_index_file",
    "load_restricted_pickle",
    "register_topology",
    "safe_pickle",
    "topology_num_vertices",
]
