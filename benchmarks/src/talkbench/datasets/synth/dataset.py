"""Reading the synthetic corpus: splits of protocol ``synth``, the lip-reader pool, and its masks."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from facial_metrics import RegionMask

from ..checks import DataError
from ..processed import ProcessedDataset
from ..splits import SplitSpec, split_spec
from .head import HEAD_TOPOLOGY
from .topologies import TOPOLOGIES, synth_protocol_of

__all__ = ["load_manifest", "load_synth_masks", "synth_dataset"]


def load_manifest(root: str | os.PathLike[str]) -> dict[str, Any]:
    """``corpus.json`` of a generated corpus."""
    p = Path(root) / "corpus.json"
    if not p.is_file():
        raise FileNotFoundError(
            f"{p}: not found; generate the corpus with `talkbench data synth {Path(root)}`"
        )
    try:
        manifest = json.loads(p.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise DataError(f"{p}: not valid JSON ({exc})") from exc
    if manifest.get("corpus") != "synth" or manifest.get("topology") not in TOPOLOGIES:
        raise DataError(
            f"{p}: not a synth corpus manifest "
            f"(corpus={manifest.get('corpus')!r}, topology={manifest.get('topology')!r})"
        )
    return manifest


def _register_topology(topology: str, num_vertices: int) -> None:
    try:
        from facial_metrics.masks import register_topology
    except ImportError:  # older facial-metrics: masks are then checked by index range only
        return
    register_topology(topology, num_vertices)


def load_synth_masks(root: str | os.PathLike[str]) -> dict[str, RegionMask]:
    """The ``lips`` and ``upper_face`` masks shipped with a corpus, checked against ``masks/masks.json``."""
    mdir = Path(root) / "masks"
    meta_path = mdir / "masks.json"
    if not meta_path.is_file():
        raise FileNotFoundError(f"{meta_path}: not found")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise DataError(f"{meta_path}: not valid JSON ({exc})") from exc
    if not isinstance(meta, dict):
        raise DataError(f"{meta_path}: expected an object of mask name -> info")
    masks: dict[str, RegionMask] = {}
    for name, info in meta.items():
        keys = ("file", "topology", "count", "sha256")
        missing = [k for k in keys if not isinstance(info, dict) or k not in info]
        if missing:
            raise DataError(f"{meta_path}: mask {name!r} lacks {', '.join(missing)}")
        f = mdir / info["file"]
        if not f.is_file():
            raise FileNotFoundError(f"{f}: mask index file missing")
        try:
            idx = np.array(
                [int(t) for t in f.read_text(encoding="utf-8").replace("\n", ",").split(",") if t.strip()]
            )
        except ValueError as exc:
            raise DataError(f"{f}: not a comma-separated list of vertex ids ({exc})") from exc
        if len(idx) != info["count"]:
            raise DataError(f"{f}: {len(idx)} vertex ids, but {meta_path} says {info['count']!r}")
        mask = RegionMask.from_indices(name, info["topology"], idx)
        if mask.sha256 != info["sha256"]:
            raise DataError(f"{f}: indices hash {mask.sha256} differs from {meta_path} ({info['sha256']})")
        masks[name] = mask
    return masks


def synth_dataset(root: str | os.PathLike[str], split: str) -> ProcessedDataset:
    """A split (``"train"``, ``"val"``, ``"test"``) of the corpus, or ``"pool"`` (lip-reader pool).

    Samples carry the transcript, the synthesiser's word/phone alignments, the faces and
    ``attributes={"mood": ...}``. Sequences of the manifest (``corpus.json``) whose files are absent
    are listed in the dataset's ``missing``.
    """
    root = Path(root)
    manifest = load_manifest(root)
    topology = manifest["topology"]
    protocol = synth_protocol_of(topology)
    _register_topology(topology, int(manifest["num_vertices"]))
    faces = np.load(root / "faces.npy", allow_pickle=False)
    albedo_path = root / "albedo.npy"
    albedo = np.load(albedo_path, allow_pickle=False) if albedo_path.is_file() else None
    if albedo is not None and albedo.shape != (int(manifest["num_vertices"]), 3):
        raise DataError(
            f"{albedo_path}: expected ({manifest['num_vertices']}, 3) colours, got {albedo.shape}"
        )
    if split == "pool":
        base = split_spec(protocol, "train")
        spec = SplitSpec(
            protocol=protocol,
            split="pool",
            subjects=tuple(manifest["pool_speakers"]),
            sentences=None,
            fps=base.fps,
            gt_stride=1,
            topology=topology,
            train_subjects=base.train_subjects,
            sentence_format=None,
        )
        data_root, entries = root / "pool", manifest["pool"]
    else:
        spec = split_spec(protocol, split)
        data_root, entries = root, manifest["sequences"]
    attributes = {e["name"]: {"mood": e["mood"]} for e in entries}
    head: dict[str, Any] = {}
    if topology == HEAD_TOPOLOGY:
        head = {"vertex_dir": "units", "vertex_loader": _UnitLoader(data_root / "templates.pkl")}
    return ProcessedDataset(
        data_root,
        spec,
        faces=faces,
        transcripts=data_root / "transcripts",
        attributes=attributes,
        expected=[e["name"] for e in entries],
        albedo=albedo,
        **head,
    )


class _UnitLoader:
    """Vertices ``(T, V*3)`` of a ``synth-head-v2`` sequence from its face-unit weights ``units/<name>.npy``:
    the speaker's template plus the weighted units (:meth:`.head_rig.HeadRig.vertices_from_weights`)."""

    def __init__(self, templates_path: Path) -> None:
        from ..processed import load_templates

        self.templates = load_templates(templates_path)

    def __call__(self, path: Path) -> np.ndarray:
        from ..processed import load_npy
        from .head_rig import build_head_rig

        rig = build_head_rig()
        weights = load_npy(path)
        if weights.ndim != 2 or weights.shape[1] != len(rig.head.unit_names):
            raise DataError(
                f"{path}: expected (T, {len(rig.head.unit_names)}) face-unit weights, got {weights.shape}"
            )
        subject = path.stem.rsplit("_", 1)[0]
        verts = rig.vertices_from_weights(self.templates[subject], weights)
        return verts.reshape(len(verts), -1)
