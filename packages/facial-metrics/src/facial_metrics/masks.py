"""Vertex region masks (lip region for LVE, upper face for FDD) as hashed, topology-keyed data.

Published LVE / FDD numbers are only comparable when computed on the same vertex set (CodeTalker #22,
FaceFormer #92), so a mask is never a bare index list here: it carries the topology it belongs to and
the SHA-256 of its indices, and results record ``mask.id`` and ``mask.sha256``.

The hash is ``hashlib.sha256(indices.astype("<i8").tobytes()).hexdigest()``: the indices in the order
given (duplicates kept), as little-endian int64.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .safe_pickle import load_restricted_pickle

__all__ = [
    "KNOWN_TOPOLOGY_VERTICES",
    "RegionMask",
    "indices_sha256",
    "load_flame_masks",
    "load_index_file",
    "register_topology",
    "topology_num_vertices",
]

#: Vertex count of each topology id. Ids ending in ``-<digits>`` need no entry (the suffix is the
#: count); others (e.g. ``synth-face-v1``) are added by whoever defines them via :func:`register_topology`.
KNOWN_TOPOLOGY_VERTICES: dict[str, int] = {"flame-5023": 5023, "biwi-23370": 23370}


def register_topology(topology: str, num_vertices: int) -> None:
    """Declare the vertex count of a topology id so masks on it can be checked."""
    if num_vertices <= 0:
        raise ValueError(f"num_vertices must be positive, got {num_vertices} for topology {topology!r}")
    known = topology_num_vertices(topology)
    if known is not None and known != num_vertices:
        raise ValueError(
            f"topology {topology!r} already has {known} vertices; cannot re-register as {num_vertices}"
        )
    KNOWN_TOPOLOGY_VERTICES[topology] = int(num_vertices)


def topology_num_vertices(topology: str) -> int | None:
    """Vertex count of ``topology`` if known (registered, or a ``-<digits>`` suffix), else ``None``."""
    if topology in KNOWN_TOPOLOGY_VERTICES:
        return KNOWN_TOPOLOGY_VERTICES[topology]
    match = re.fullmatch(r".+-(\d+)", topology)
    return int(match.group(1)) if match else None


def indices_sha256(indices: np.ndarray) -> str:
    """SHA-256 hex digest of ``indices`` as little-endian int64 bytes, in the given order."""
    return hashlib.sha256(np.ascontiguousarray(indices, dtype="<i8").tobytes()).hexdigest()


@dataclass(frozen=True, eq=False)
class RegionMask:
    """A named set of vertex ids on one topology.

    Attributes:
        name: region name, e.g. ``"lips"`` or ``"upper_face"``.
        topology: topology id, e.g. ``"flame-5023"``, ``"biwi-23370"``, ``"synth-face-v1"``.
        indices: read-only 1-D ``int64`` array of 0-based vertex ids (order and duplicates as given).
        sha256: :func:`indices_sha256` of ``indices``; verified on construction.

    Two masks are equal when name, topology and hash agree. Build one with :meth:`from_indices`.
    """

    name: str
    topology: str
    indices: np.ndarray
    sha256: str

    def __post_init__(self) -> None:
        if not self.name or not self.topology:
            raise ValueError(
                f"RegionMask needs a non-empty name and topology, got {self.name!r}, {self.topology!r}"
            )
        idx = np.asarray(self.indices)
        if idx.ndim != 1 or idx.size == 0:
            raise ValueError(
                f"mask {self.name!r}: indices must be a non-empty 1-D array, got shape {idx.shape}"
            )
        if not np.issubdtype(idx.dtype, np.integer):
            raise ValueError(f"mask {self.name!r}: indices must be integers, got dtype {idx.dtype}")
        if idx.min() < 0:
            raise ValueError(
                f"mask {self.name!r}: negative vertex index {int(idx.min())} (indices are 0-based)"
            )
        idx = np.array(idx, dtype=np.int64, copy=True)
        idx.setflags(write=False)
        object.__setattr__(self, "indices", idx)
        expected = indices_sha256(idx)
        if self.sha256 != expected:
            raise ValueError(
                f"mask {self.name!r}: sha256 {self.sha256!r} does not match its indices ({expected}); "
                "use RegionMask.from_indices to compute it"
            )

    @classmethod
    def from_indices(cls, name: str, topology: str, indices: Iterable[int] | np.ndarray) -> RegionMask:
        """Build a mask from 0-based vertex ids, computing its SHA-256 (see the module docstring)."""
        idx = np.asarray(list(indices) if not isinstance(indices, np.ndarray) else indices)
        if idx.size and not np.issubdtype(idx.dtype, np.integer):
            raise ValueError(f"mask {name!r}: indices must be integers, got dtype {idx.dtype}")
        idx = idx.astype(np.int64)
        return cls(name=name, topology=topology, indices=idx, sha256=indices_sha256(idx))

    @property
    def id(self) -> str:
        """``"<topology>/<name>"``, the identifier results record next to :attr:`sha256`."""
        return f"{self.topology}/{self.name}"

    def __len__(self) -> int:
        return int(self.indices.size)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RegionMask):
            return NotImplemented
        return (self.name, self.topology, self.sha256) == (other.name, other.topology, other.sha256)

    def __hash__(self) -> int:
        return hash((self.name, self.topology, self.sha256))

    def check(self, num_vertices: int, topology: str | None = None) -> None:
        """Raise ``ValueError`` unless this mask fits meshes with ``num_vertices`` vertices.

        Fails when ``topology`` is given and differs from the mask's, when the mask's topology has a
        known vertex count (see :func:`topology_num_vertices`) other than ``num_vertices``, or when an
        index is ``>= num_vertices``.
        """
        if topology is not None and topology != self.topology:
            raise ValueError(f"mask {self.id} is for topology {self.topology!r}, not {topology!r}")
        expected = topology_num_vertices(self.topology)
        if expected is not None and expected != num_vertices:
            raise ValueError(
                f"mask {self.id}: topology {self.topology!r} has {expected} vertices but the meshes have "
                f"{num_vertices}; use the mask of the meshes' topology"
            )
        top = int(self.indices.max())
        if top >= num_vertices:
            raise ValueError(
                f"mask {self.id}: vertex index {top} is out of range for meshes with {num_vertices} vertices"
            )

    def union(self, other: RegionMask, name: str | None = None) -> RegionMask:
        """Sorted unique union of two masks of the same topology (named ``"a+b"`` unless ``name``)."""
        if other.topology != self.topology:
            raise ValueError(f"cannot unite {self.id} and {other.id}: different topologies")
        idx = np.union1d(self.indices, other.indices)
        return RegionMask.from_indices(name or f"{self.name}+{other.name}", self.topology, idx)


def load_index_file(
    path: str | os.PathLike[str], name: str, topology: str, num_vertices: int | None = None
) -> RegionMask:
    """Read a vertex-id text file (BIWI ``lve.txt`` / ``fdd.txt`` style) into a :class:`RegionMask`.

    The file holds 0-based integer ids separated by commas, spaces and/or newlines. Anything else
    (a non-integer token, a negative id, an empty file, an id ``>=`` the vertex count) raises
    ``ValueError`` naming the file. The vertex count is ``num_vertices`` or, when not given, that of
    ``topology`` if it is known (:func:`topology_num_vertices`).
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"mask index file not found: {p}")
    text = p.read_text(encoding="utf-8")
    tokens = [t for t in re.split(r"[\s,]+", text) if t]
    if not tokens:
        raise ValueError(f"{p}: no vertex ids found")
    bad = [t for t in tokens if not re.fullmatch(r"[+-]?\d+", t)]
    if bad:
        raise ValueError(
            f"{p}: not a vertex id: {bad[0]!r} (expected comma/space/newline separated integers)"
        )
    values = np.array([int(t) for t in tokens], dtype=np.int64)
    if values.min() < 0:
        raise ValueError(f"{p}: negative vertex id {int(values.min())} (ids are 0-based)")
    count = num_vertices if num_vertices is not None else topology_num_vertices(topology)
    if count is not None and values.max() >= count:
        raise ValueError(
            f"{p}: vertex id {int(values.max())} is out of range for topology {topology!r} with "
            f"{count} vertices (ids are 0-based: 0..{count - 1})"
        )
    return RegionMask.from_indices(name, topology, values)


def load_flame_masks(path: str | os.PathLike[str], topology: str = "flame-5023") -> dict[str, RegionMask]:
    """Read a FLAME mask pickle (e.g. ``FLAME_masks.pkl``, latin1) into ``{name: RegionMask}``.

    The file is read with :func:`facial_metrics.safe_pickle.load_restricted_pickle`; it must hold a
    dict mapping region names to 1-D integer arrays of 0-based vertex ids. Every mask is checked
    against the vertex count of ``topology`` when that count is known.
    """
    data: Any = load_restricted_pickle(path, encoding="latin1")
    src = os.fspath(path)
    if not isinstance(data, Mapping) or not data:
        raise ValueError(
            f"{src}: expected a non-empty dict of region name -> vertex ids, got {type(data).__name__}"
        )
    masks: dict[str, RegionMask] = {}
    count = topology_num_vertices(topology)
    for key, value in data.items():
        name = key.decode("latin1") if isinstance(key, bytes) else key
        if not isinstance(name, str):
            raise ValueError(f"{src}: region name {key!r} is not a string")
        arr = np.asarray(value)
        if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(
                f"{src}: region {name!r} must be a 1-D integer array, "
                f"got shape {arr.shape} dtype {arr.dtype}"
            )
        mask = RegionMask.from_indices(name, topology, arr)
        if count is not None:
            mask.check(count)
        masks[name] = mask
    return masks
