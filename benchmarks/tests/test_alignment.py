import itertools
from pathlib import Path

import numpy as np
import pytest

from talkbench.datasets import (
    Aligner,
    AlignmentError,
    align_file,
    compare_onsets,
    normalise_transcript,
    synth_dataset,
)
from talkbench.datasets.alignment import speech_bounds


def test_normalise_and_compare_onsets_by_hand() -> None:
    assert normalise_transcript("Hello, World! It's 2 o'clock.") == ["hello", "world", "it's", "2", "o'clock"]
    ref = [("P", 0.10, 0.2), ("L", 0.20, 0.3), ("EY", 0.30, 0.5), ("S", 0.5, 0.6)]
    hyp = [("P", 0.12, 0.2), ("EY", 0.27, 0.5), ("S", 0.5, 0.6)]  # L missing: skipped, not misaligned
    np.testing.assert_allclose(compare_onsets(ref, hyp), [0.02, 0.03, 0.0], atol=1e-12)


def test_speech_bounds() -> None:
    audio = np.zeros(16000)
    audio[4000:8000] = 0.5 * np.sin(np.arange(4000))
    start, end = speech_bounds(audio, margin_s=0.02)
    assert start == 4000 - 320 and end == 8000 + 320


def test_pocketsphinx_agrees_with_the_synthesiser(tiny_corpus: Path) -> None:
    ds = synth_dataset(tiny_corpus, "train")
    aligner = Aligner()
    diffs = []
    for i in range(3):
        s = ds[i]
        words, phones = aligner.align(s.audio, s.transcript, source=s.name)
        assert [w for w, _, _ in words] == s.transcript.split()
        assert all(a <= b for (_, a, _), (_, b, _) in itertools.pairwise(phones))
        diffs.append(compare_onsets(s.phones, phones))
    d = np.concatenate(diffs)
    assert len(d) > 40 and np.median(d) < 0.04


def test_unknown_word_is_named(tiny_corpus: Path) -> None:
    s = synth_dataset(tiny_corpus, "val")[0]
    with pytest.raises(AlignmentError, match="zxqvbnm"):
        Aligner().align(s.audio, "zxqvbnm place", source=s.name)


class _NoAligner:
    def align(self, *args: object, **kwargs: object) -> None:
        raise AssertionError("the cache should have been used")


def test_align_file_caches_and_invalidates(tiny_corpus: Path, tmp_path: Path) -> None:
    s = synth_dataset(tiny_corpus, "test")[0]
    wav = tiny_corpus / "wav" / f"{s.name}.wav"
    cache = tmp_path / "alignments" / f"{s.name}.json"
    words, phones = align_file(wav, s.transcript, cache)
    assert cache.is_file()
    again = align_file(wav, s.transcript, cache, aligner=_NoAligner())  # type: ignore[arg-type]
    assert again == (words, phones)
    with pytest.raises(AssertionError, match="cache"):
        align_file(wav, s.transcript.upper(), cache, aligner=_NoAligner())  # transcript changed: recompute
