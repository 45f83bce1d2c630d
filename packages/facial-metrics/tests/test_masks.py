"""RegionMask construction, hashing, checks and loaders."""

from __future__ import annotations

import hashlib
import pickle

import numpy as np
import pytest

from facial_metrics import RegionMask, load_flame_masks, load_index_file, register_topology

# sha256 of the CodeTalker BIWI region files as little-endian int64 ids, computed with hashlib
# directly on the parsed ids (independently of RegionMask).
BIWI_LVE_SHA256 = "bf030dc9cf393bb961ec0bade2787038375005e65a1ab7310ce99c0d9bd81bd0"
BIWI_FDD_SHA256 = "8e311af01cc6777fc62b9f6b868c46ecab7c9cb9291eb6eacbe278fd264aec36"


def _independent_sha(path) -> tuple[int, str]:
    ids = [int(tok) for tok in path.read_text().replace(",", " ").split()]
    raw = b"".join(i.to_bytes(8, "little", signed=True) for i in ids)
    return len(ids), hashlib.sha256(raw).hexdigest()


@pytest.mark.parametrize(
    ("fname", "name", "count", "lo", "hi", "pinned"),
    [
        ("lve.txt", "lips", 4996, 2, 23339, BIWI_LVE_SHA256),
        ("fdd.txt", "upper_face", 7784, 7, 23368, BIWI_FDD_SHA256),
    ],
)
def test_biwi_masks_load(shared_fixtures, fname, name, count, lo, hi, pinned):
    path = shared_fixtures / "biwi" / fname
    mask = load_index_file(path, name, "biwi-23370")
    n, sha = _independent_sha(path)
    assert len(mask) == count == n
    assert mask.indices.dtype == np.int64
    assert (mask.indices.min(), mask.indices.max()) == (lo, hi)
    assert mask.sha256 == sha == pinned
    assert mask.id == f"biwi-23370/{name}"
    mask.check(23370)
    with pytest.raises(ValueError, match="23370 vertices"):
        mask.check(5023)


def test_biwi_mask_fits_the_ply_topology(shared_fixtures):
    header = (shared_fixtures / "biwi" / "BIWI.ply").read_bytes()[:400].decode("latin1")
    n_vertices = int(header.split("element vertex ")[1].split()[0])
    assert n_vertices == 23370
    load_index_file(shared_fixtures / "biwi" / "lve.txt", "lips", "biwi-23370").check(n_vertices)


def test_from_indices_hash_and_immutability():
    mask = RegionMask.from_indices("lips", "flame-5023", [3, 1, 2, 2])
    expected = hashlib.sha256(np.array([3, 1, 2, 2], dtype="<i8").tobytes()).hexdigest()
    assert mask.sha256 == expected
    assert mask.indices.tolist() == [3, 1, 2, 2]  # order and duplicates kept
    with pytest.raises(ValueError):
        mask.indices[0] = 7
    with pytest.raises(AttributeError):
        mask.name = "other"
    assert mask == RegionMask.from_indices("lips", "flame-5023", np.array([3, 1, 2, 2], dtype=np.int32))
    assert mask != RegionMask.from_indices("lips", "flame-5023", [1, 2, 3])
    assert len({mask, RegionMask.from_indices("lips", "flame-5023", [3, 1, 2, 2])}) == 1


def test_constructor_rejects_bad_data():
    idx = np.array([1, 2], dtype=np.int64)
    with pytest.raises(ValueError, match="sha256"):
        RegionMask("lips", "flame-5023", idx, "0" * 64)
    with pytest.raises(ValueError, match="negative"):
        RegionMask.from_indices("lips", "flame-5023", [-1, 2])
    with pytest.raises(ValueError, match="non-empty"):
        RegionMask.from_indices("lips", "flame-5023", [])
    with pytest.raises(ValueError, match="integers"):
        RegionMask.from_indices("lips", "flame-5023", np.array([1.5, 2.0]))


def test_check_range_and_topology():
    mask = RegionMask.from_indices("lips", "flame-5023", [0, 5022])
    mask.check(5023)
    with pytest.raises(ValueError, match="topology 'flame-5023' has 5023 vertices"):
        mask.check(23370)
    with pytest.raises(ValueError, match="not 'biwi-23370'"):
        mask.check(5023, topology="biwi-23370")
    custom = RegionMask.from_indices("lips", "toy-face", [0, 9])
    custom.check(10)
    with pytest.raises(ValueError, match="index 9 is out of range"):
        custom.check(9)
    register_topology("toy-face-registered", 12)
    reg = RegionMask.from_indices("lips", "toy-face-registered", [0, 1])
    with pytest.raises(ValueError, match="12 vertices"):
        reg.check(11)


def test_union():
    a = RegionMask.from_indices("forehead", "flame-5023", [5, 1])
    b = RegionMask.from_indices("eye_region", "flame-5023", [1, 9])
    u = a.union(b)
    assert u.name == "forehead+eye_region" and u.indices.tolist() == [1, 5, 9]
    with pytest.raises(ValueError, match="different topologies"):
        a.union(RegionMask.from_indices("x", "biwi-23370", [1]))


def test_index_file_errors(tmp_path):
    p = tmp_path / "m.txt"
    p.write_text("1, 2,\n3 4\n")
    assert load_index_file(p, "m", "toy").indices.tolist() == [1, 2, 3, 4]
    p.write_text("1, 2, x3")
    with pytest.raises(ValueError, match=r"m\.txt.*'x3'"):
        load_index_file(p, "m", "toy")
    p.write_text(" \n")
    with pytest.raises(ValueError, match="no vertex ids"):
        load_index_file(p, "m", "toy")
    p.write_text("1, -2")
    with pytest.raises(ValueError, match="negative"):
        load_index_file(p, "m", "toy")
    with pytest.raises(FileNotFoundError):
        load_index_file(tmp_path / "absent.txt", "m", "toy")


def test_flame_mask_pickle(tmp_path):
    data = {"lips": np.arange(100, 354, dtype=np.int64), "forehead": np.array([1, 2, 3], dtype=np.int32)}
    path = tmp_path / "FLAME_masks.pkl"
    path.write_bytes(pickle.dumps(data, protocol=2))
    masks = load_flame_masks(path)
    assert set(masks) == {"lips", "forehead"}
    assert len(masks["lips"]) == 254 and masks["lips"].id == "flame-5023/lips"
    assert masks["forehead"].indices.dtype == np.int64
    path.write_bytes(pickle.dumps({"lips": np.array([0, 6000])}, protocol=2))
    with pytest.raises(ValueError, match="6000 is out of range"):
        load_flame_masks(path)
    path.write_bytes(pickle.dumps([1, 2, 3], protocol=2))
    with pytest.raises(ValueError, match="dict"):
        load_flame_masks(path)
    path.write_bytes(pickle.dumps({"lips": np.zeros((2, 2), dtype=np.int64)}, protocol=2))
    with pytest.raises(ValueError, match="1-D integer"):
        load_flame_masks(path)


def test_flame_mask_pickle_rejects_code(tmp_path):
    import os

    class Evil:
        def __reduce__(self):
            return (os.system, ("true",))

    path = tmp_path / "FLAME_masks.pkl"
    path.write_bytes(pickle.dumps({"lips": Evil()}, protocol=2))
    with pytest.raises(pickle.UnpicklingError, match=r"FLAME_masks\.pkl"):
        load_flame_masks(path)


def test_index_file_rejects_ids_past_the_vertex_count(tmp_path):
    p = tmp_path / "lve.txt"
    p.write_text("0, 17, 23369\n")
    assert load_index_file(p, "lips", "biwi-23370").indices.tolist() == [0, 17, 23369]
    p.write_text("0, 17, 23370\n")  # the vertex count itself is one past the last id
    with pytest.raises(ValueError, match=r"lve\.txt: vertex id 23370 is out of range.*23370 vertices"):
        load_index_file(p, "lips", "biwi-23370")
    p.write_text("3, 4, 5")
    with pytest.raises(ValueError, match=r"lve\.txt: vertex id 5 .*5 vertices"):
        load_index_file(p, "m", "toy-unknown", num_vertices=5)
    assert load_index_file(p, "m", "toy-unknown", num_vertices=6).indices.tolist() == [3, 4, 5]
