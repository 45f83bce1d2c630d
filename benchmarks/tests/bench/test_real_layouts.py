"""The paper presets on the real topologies' layouts: region masks from ``data.masks``, the data checks.

Tiny datasets in the processed VOCASET layout (5,023-vertex meshes, FLAME region pickle built here) and
the BIWI layout (the real 23,370-vertex mesh and CodeTalker's region files from ``../shared/fixtures``).
The end-to-end CPU dry run of both presets is documented in ``docs/reproducing.md``.
"""

from __future__ import annotations

import importlib.util
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from talkbench.cli import app
from talkbench.config import load_config
from talkbench.datasets import DataError
from talkbench.training.data import check_masks_path, load_masks

# the builders live beside this file (pytest imports test modules by path, not as a package)
_spec = importlib.util.spec_from_file_location("real_layouts", Path(__file__).with_name("real_layouts.py"))
assert _spec is not None and _spec.loader is not None
_layouts = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_layouts)
build_biwi, build_vocaset = _layouts.build_biwi, _layouts.build_vocaset


def test_vocaset_masks_come_from_data_masks(tmp_path: Path, shared_fixtures: Path) -> None:
    built = build_vocaset(tmp_path / "vocaset", shared_fixtures)
    root = built["root"]
    config = load_config("paper-vocaset", [f"data.root={root}"])
    masks = load_masks(config)  # data.masks unset: <root>/FLAME_masks.pkl
    np.testing.assert_array_equal(np.sort(masks["lip"].indices), np.sort(built["masks"]["lips"]))
    upper = np.union1d(built["masks"]["forehead"], built["masks"]["eye_region"])
    np.testing.assert_array_equal(np.sort(masks["upper"].indices), upper)
    assert masks["lip"].topology == "flame-5023"

    # the key points anywhere; a missing file is named with the key and the override, before any work
    moved = tmp_path / "elsewhere" / "FLAME_masks.pkl"
    moved.parent.mkdir()
    (root / "FLAME_masks.pkl").rename(moved)
    with pytest.raises(DataError, match=r"FLAME_masks\.pkl: not found \(data\.masks.*data\.masks="):
        check_masks_path(config)
    config = load_config("paper-vocaset", [f"data.root={root}", f"data.masks={moved}"])
    assert len(load_masks(config)["lip"].indices) == len(built["masks"]["lips"])
    # a pickle without the protocol's regions
    with open(moved, "wb") as fh:
        pickle.dump({"lips": built["masks"]["lips"]}, fh, protocol=2)
    with pytest.raises(DataError, match=r"does not fit protocol vocaset.*forehead"):
        load_masks(config)


def test_vocaset_layout_passes_the_data_check(tmp_path: Path, shared_fixtures: Path) -> None:
    root = build_vocaset(tmp_path / "vocaset", shared_fixtures)["root"]
    res = CliRunner().invoke(app, ["data", "info", str(root), "--protocol", "vocaset", "--check", "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    # built: 2 training subjects x 2 sentences, 1 validation and 2 test subjects x 1 sentence
    assert [report[s]["sequences"] for s in ("train", "val", "test")] == [4, 1, 2]
    assert report["check"]["passed"] and report["check"]["sequences"] == 7
    # the protocol's splits hold 8 x 40 + 2 x 20 + 2 x 20 sequences; the rest are reported absent
    assert report["check"]["missing"] == 320 + 40 + 40 - 7


def test_biwi_masks_come_from_the_regions_folder(tmp_path: Path, shared_fixtures: Path) -> None:
    root = build_biwi(tmp_path / "biwi", shared_fixtures)["root"]
    config = load_config("paper-biwi", [f"data.root={root}"])
    masks = load_masks(config)  # <root>/regions/lve.txt and fdd.txt
    ids = [int(t) for t in (shared_fixtures / "biwi" / "lve.txt").read_text().replace(",", " ").split()]
    np.testing.assert_array_equal(np.sort(masks["lip"].indices), np.unique(ids))
    assert masks["upper"].topology == "biwi-23370"
    (root / "regions" / "fdd.txt").unlink()
    with pytest.raises(DataError, match=r"regions: lacks fdd\.txt \(data\.masks"):
        load_masks(config)
