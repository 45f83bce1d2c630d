"""CER / WER equal jiwer's on normalised text; the normaliser is checked by hand."""

from __future__ import annotations

import jiwer
import pytest

from facial_metrics import (
    CharErrorRate,
    WordErrorRate,
    char_error_rate,
    normalize_transcript,
    word_error_rate,
)

REFS = [
    "Bin blue at F two now.",
    "Place red by G 9 please!",
    "Don't   lay WHITE with   S zero again",
    "set green in U eight soon",
]
HYPS = [
    "bin blue at f now",
    "place red by G nine please please",
    "lay white wit s zero again",
    "",
]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Hello, World! It's 2024.", "hello world it s"),
        ("  tabs\tand\nnewlines  ", "tabs and newlines"),
        ("R2-D2_and C-3PO", "r d and c po"),
        ("Café déjà vu", "café déjà vu"),
        ("...!!!", ""),
    ],
)
def test_normalizer(raw, expected):
    assert normalize_transcript(raw) == expected


UNICODE_TEXTS = ["café naïve", "İstanbul", "Ångström ﬁnal", "Ｆｕｌｌ width", "Zoë's coöperation"]


@pytest.mark.parametrize("text", UNICODE_TEXTS)
@pytest.mark.parametrize("form", ["NFC", "NFD", "NFKC", "NFKD"])
def test_unicode_normal_forms_score_zero(text, form):
    import unicodedata

    other = unicodedata.normalize(form, text)
    assert char_error_rate([text], [other]) == 0.0
    assert word_error_rate([text], [other]) == 0.0
    assert char_error_rate([other], [text]) == 0.0


def test_combining_marks_stay_with_their_letter():
    # "café naïve" written with combining accents (NFD) is two words, not four.
    nfd = "cafe\u0301 nai\u0308ve"
    assert normalize_transcript(nfd) == "caf\u00e9 na\u00efve"
    assert len(normalize_transcript(nfd).split()) == 2
    # Lower-casing U+0130 gives "i" + U+0307; the dot stays on the i.
    assert normalize_transcript("İstanbul") == "i\u0307stanbul"
    assert normalize_transcript("ﬁne") == "fine"
    # A mark with no letter before it is not a letter.
    assert normalize_transcript("\u0301 a") == "a"


def test_cer_wer_equal_jiwer():
    refs = [normalize_transcript(r) for r in REFS]
    hyps = [normalize_transcript(h) for h in HYPS]
    per_cer = sum(jiwer.cer(r, h) for r, h in zip(refs, hyps)) / len(refs)
    per_wer = sum(jiwer.wer(r, h) for r, h in zip(refs, hyps)) / len(refs)
    assert char_error_rate(REFS, HYPS) == pytest.approx(per_cer)
    assert word_error_rate(REFS, HYPS) == pytest.approx(per_wer)
    assert char_error_rate(REFS, HYPS, aggregate="corpus") == pytest.approx(jiwer.cer(refs, hyps))
    assert word_error_rate(REFS, HYPS, aggregate="corpus") == pytest.approx(jiwer.wer(refs, hyps))
    assert per_wer != pytest.approx(jiwer.wer(refs, hyps))  # the two forms really differ here


def test_hand_worked_wer():
    # "a b c d" -> "a x c": one substitution, one deletion = 2 / 4
    assert word_error_rate(["a b c d"], ["a x c"]) == pytest.approx(0.5)
    # hypothesis longer than reference: rate above 1
    assert word_error_rate(["a"], ["b c"]) == pytest.approx(2.0)
    assert char_error_rate(["ab"], [""]) == pytest.approx(1.0)


@pytest.mark.parametrize("cls", [CharErrorRate, WordErrorRate])
@pytest.mark.parametrize("aggregate", ["utterance", "corpus"])
def test_streaming_equals_one_shot(cls, aggregate):
    fn = char_error_rate if cls is CharErrorRate else word_error_rate
    m = cls(aggregate=aggregate)
    m.update(REFS[:1], HYPS[:1])
    m.update(REFS[1:], HYPS[1:])
    assert m.compute().item() == pytest.approx(fn(REFS, HYPS, aggregate=aggregate))
    small_state = cls(aggregate=aggregate)
    small_state.update(REFS[:1], HYPS[:1])
    assert small_state.state_nbytes() == m.state_nbytes()
    a, b = cls(aggregate=aggregate), cls(aggregate=aggregate)
    a.update(REFS[:2], HYPS[:2])
    b.update(REFS[2:], HYPS[2:])
    a.merge(b)
    assert a.compute().item() == pytest.approx(m.compute().item())


def test_bad_transcripts_fail_clearly():
    with pytest.raises(ValueError, match="empty transcript lists"):
        char_error_rate([], [])
    with pytest.raises(ValueError, match="empty transcript lists"):
        WordErrorRate().update([], [])
    with pytest.raises(ValueError, match="2 references but 1 hypotheses"):
        word_error_rate(["a", "b"], ["a"])
    with pytest.raises(ValueError, match=r"reference 1 \('123!'\) is empty after normalisation"):
        char_error_rate(["ok", "123!"], ["ok", "x"])
    with pytest.raises(TypeError, match="lists of strings"):
        char_error_rate("abc", "abd")
    with pytest.raises(TypeError, match="pair 0"):
        char_error_rate([None], ["a"])
    with pytest.raises(ValueError, match="aggregate"):
        char_error_rate(["a"], ["a"], aggregate="mean")
    with pytest.raises(RuntimeError, match="before any update"):
        CharErrorRate().compute()
