"""Protocol objects carry the splits, rates and scales of baselines.md §4–6."""

from __future__ import annotations

import pytest

from facial_metrics import RegionMask, get_protocol, list_protocols


def test_names():
    assert list_protocols() == ["biwi-test-a", "biwi-test-b", "synth", "synth-head", "vocaset"]
    with pytest.raises(KeyError, match="known protocols"):
        get_protocol("voca")


def test_vocaset():
    p = get_protocol("vocaset")
    assert (p.topology, p.fps, p.gt_stride) == ("flame-5023", 30.0, 2)
    assert len(p.train_subjects) == 8 and len(p.val_subjects) == 2 and len(p.test_subjects) == 2
    assert "FaceTalk_170809_00138_TA" in p.test_subjects and "FaceTalk_170731_00024_TA" in p.test_subjects
    assert p.train_sentences.numbers() == tuple(range(1, 41))
    assert p.test_sentences.numbers() == tuple(range(21, 41))
    assert p.sentence_format.format(21) == "sentence21"
    assert p.test_condition == "all_train_styles"
    assert p.style_subjects("FaceTalk_170809_00138_TA") == p.train_subjects
    assert p.report_scales["lve"] == 1e-5 and p.report_scales["fdd"] == 1e-7
    assert p.report("lve", 3.2238e-5) == pytest.approx(3.2238)


def test_biwi():
    a, b = get_protocol("biwi-test-a"), get_protocol("biwi-test-b")
    for p in (a, b):
        assert (p.topology, p.fps, p.gt_stride) == ("biwi-23370", 25.0, 1)
        assert p.train_subjects == ("F2", "F3", "F4", "M3", "M4", "M5")
        assert (p.train_sentences.first, p.train_sentences.last) == (1, 32)
        assert (p.val_sentences.first, p.val_sentences.last) == (33, 36)
        assert p.test_sentences.numbers() == (37, 38, 39, 40)
        assert p.sentence_format.format(37) == "e37"
        assert p.report_scales["lve"] == 1e-4 and p.report_scales["fdd"] == 1e-5
    assert a.test_subjects == a.train_subjects and a.test_condition == "own_style"
    assert len(a.test_subjects) * 4 == 24
    assert a.style_subjects("M3") == ("M3",) and a.style_index("M3") == 3
    assert set(b.test_subjects) == {"F1", "F5", "F6", "F7", "F8", "M1", "M2", "M6"}
    assert len(b.test_subjects) * 4 == 32 and b.test_condition == "all_train_styles"
    assert not set(b.test_subjects) & set(b.train_subjects)
    with pytest.raises(ValueError, match="not a training subject"):
        a.style_subjects("F1")


def test_synth():
    p = get_protocol("synth")
    assert p.train_subjects == tuple(f"synth0{i}" for i in range(1, 9))
    assert p.val_subjects == ("synth09", "synth10") and p.test_subjects == ("synth11", "synth12")
    assert p.train_sentences is None and p.test_sentences is None
    assert (p.topology, p.fps, p.gt_stride) == ("synth-face-v1", 30.0, 1)
    assert p.test_condition == "all_train_styles"
    assert p.report_scales["lve"] == 1e-5 and p.report_scales["fdd"] == 1e-7
    assert (p.lip_mask, p.upper_mask) == ("lips", "upper_face")
    assert p.split_of("synth10") == "val"


def test_synth_head_differs_from_synth_by_its_topology_only():
    a, b = get_protocol("synth"), get_protocol("synth-head")
    assert (b.topology, b.dataset) == ("synth-head-v2", "synth")
    for field in ("train_subjects", "val_subjects", "test_subjects", "fps", "gt_stride", "test_condition",
                  "report_scales", "lip_mask", "upper_mask"):
        assert getattr(a, field) == getattr(b, field), field


def test_resolve_mask_union_and_topology():
    p = get_protocol("vocaset")
    masks = {
        "lips": RegionMask.from_indices("lips", "flame-5023", [1, 2]),
        "forehead": RegionMask.from_indices("forehead", "flame-5023", [10, 11]),
        "eye_region": RegionMask.from_indices("eye_region", "flame-5023", [11, 12]),
    }
    assert p.resolve_mask("lip", masks) is masks["lips"]
    upper = p.resolve_mask("upper", masks)
    assert upper.indices.tolist() == [10, 11, 12]
    with pytest.raises(KeyError, match="eye_region"):
        p.resolve_mask("upper", {"forehead": masks["forehead"]})
    with pytest.raises(ValueError, match="biwi-23370"):
        p.resolve_mask("lip", {"lips": RegionMask.from_indices("lips", "biwi-23370", [1])})
