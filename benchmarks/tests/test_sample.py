import numpy as np
import pytest
import torch

from talkbench.datasets import Sample, collate_samples


def _sample(frames: int, samples: int, fps: float = 30.0, verts: int = 4, idx: int = 0) -> Sample:
    v = np.arange(frames * verts * 3, dtype=np.float32).reshape(frames, verts, 3)
    return Sample(
        "s",
        f"x{frames:02d}",
        v,
        np.zeros((verts, 3), np.float32),
        np.ones(samples, np.float32),
        fps,
        "t",
        speaker_index=idx,
    )


def test_collate_pads_with_zeros_and_records_lengths() -> None:
    a, b = _sample(3, 1600, idx=2), _sample(5, 2700, idx=-1)
    batch = collate_samples([a, b])
    assert batch.vertices.shape == (2, 5, 4, 3)
    assert batch.audio.shape == (2, 2700)
    assert batch.vertex_lengths.tolist() == [3, 5]
    assert batch.audio_lengths.tolist() == [1600, 2700]
    assert batch.speaker_index.tolist() == [2, -1]
    assert torch.equal(batch.vertices[0, :3], torch.from_numpy(a.vertices))
    assert batch.vertices[0, 3:].abs().sum() == 0
    assert batch.audio[0, 1600:].abs().sum() == 0 and batch.audio[0, :1600].sum() == 1600
    assert batch.frame_mask().tolist() == [[True] * 3 + [False] * 2, [True] * 5]


def test_collate_rejects_mixed_rates_and_topologies() -> None:
    with pytest.raises(ValueError, match="fps"):
        collate_samples([_sample(3, 10), _sample(3, 10, fps=25.0)])
    with pytest.raises(ValueError, match="vertices"):
        collate_samples([_sample(3, 10), _sample(3, 10, verts=5)])


def test_sample_properties() -> None:
    s = _sample(45, 10)
    assert s.name == "s_x45" and s.num_frames == 45 and s.duration_s == pytest.approx(1.5)
