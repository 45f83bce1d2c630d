import numpy as np
import pytest

from talkbench.datasets import DataError, biwi_dataset, collate_samples


def test_biwi_splits_test_a_and_b(biwi_root: dict) -> None:
    root = biwi_root["root"]
    names = {split: biwi_dataset(root, split).names for split in ("train", "val", "test")}
    # only emotional sentences: F2_01 (neutral) never appears
    assert names["train"] == ["F2_e01"]
    assert names["val"] == ["F2_e33"]
    assert sorted(names["test"]) == ["F2_e37", "M3_e40"]  # Test-A: seen speakers, e37-e40
    test_b = biwi_dataset(root, "test", test_set="B")
    assert sorted(test_b.names) == ["F1_e37", "M6_e38"]  # Test-B: unseen speakers
    assert all("F2_01" not in n for ns in names.values() for n in ns)


def test_biwi_sample_rate_topology_and_transcript(biwi_root: dict) -> None:
    ds = biwi_dataset(biwi_root["root"], "test")
    s = ds[ds.names.index("F2_e37")]
    assert s.fps == 25.0 and s.topology == "biwi-23370"
    assert s.vertices.shape == (10, 23370, 3) and s.vertices.dtype == np.float32
    assert s.faces is not None and s.faces.shape == (46068, 3) and s.faces.max() == 23369
    assert s.audio.shape == (6400,)  # 0.4 s at 16 kHz, from 44.1 kHz
    # the file's line "biwi sentence number 37", normalised as CER / WER normalise (digits are not letters)
    assert s.transcript == "biwi sentence number"
    assert s.speaker_index == 0  # F2 is the first training subject: Test-A uses its own style
    b = biwi_dataset(biwi_root["root"], "test", test_set="B")
    assert b[0].speaker_index == -1
    batch = collate_samples([ds[0], ds[1]])
    assert batch.vertices.shape == (2, 10, 23370, 3)


def test_biwi_template_vertex_count_is_checked(biwi_root: dict) -> None:
    import pickle

    root = biwi_root["root"]
    t = dict(biwi_root["templates"])
    t["F2"] = np.zeros((100, 3))
    with open(root / "templates.pkl", "wb") as fh:
        pickle.dump(t, fh, protocol=2)
    with pytest.raises(DataError, match=r"templates\.pkl.*'F2'.*100 vertices"):
        biwi_dataset(root, "train")


def test_biwi_bad_test_set_argument(biwi_root: dict) -> None:
    with pytest.raises(ValueError, match="test_set"):
        biwi_dataset(biwi_root["root"], "test", test_set="C")
