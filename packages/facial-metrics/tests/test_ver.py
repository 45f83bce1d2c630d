"""VER on hand-worked viseme strings (SPECTRE and Oculus maps, CMUdict and eSpeak paths)."""

from __future__ import annotations

import pytest

from facial_metrics import (
    OCULUS15,
    SPECTRE,
    UnknownWordError,
    VisemeErrorRate,
    VisemeTranscriber,
    arpabet_to_ipa,
    char_error_rate,
    viseme_error_rate,
)


def test_arpabet_to_ipa():
    assert arpabet_to_ipa(["HH", "AH0", "L", "OW1"]) == ("h", "ə", "l", "oʊ")
    assert arpabet_to_ipa(["B", "AH1", "T"]) == ("b", "ʌ", "t")
    assert arpabet_to_ipa(["W", "ER1", "D"]) == ("w", "ɝ", "d")
    assert arpabet_to_ipa(["K", "AO1", "R"]) == ("k", "ɔːɹ")  # r-coloured, closes the syllable
    assert arpabet_to_ipa(["V", "EH1", "R", "IY0"]) == ("v", "ɛ", "ɹ", "i")  # r starts the next syllable
    assert arpabet_to_ipa(["B", "AA1", "T", "AH0", "L"]) == ("b", "ɑ", "t", "əl")
    with pytest.raises(ValueError, match="QQ"):
        arpabet_to_ipa(["QQ"])


def test_map_tables():
    # SPECTRE (methods.md §5.3)
    assert SPECTRE.word_string(["b", "æ", "t"]) == "pat"
    assert SPECTRE.word_string(["ð", "ɪɹ"]) == "Tir"
    assert SPECTRE.word_string(["ʔ"]) == ""
    assert SPECTRE.word_string(["f", "aɪɚ"]) == "fa@"  # eSpeak token split into aɪ + ɚ
    # Oculus 15 (methods.md §5.1), one character per viseme
    assert OCULUS15.classes(["tʃ", "ɛ", "ɹ"]) == ["CH", "E", "RR"]
    assert OCULUS15.classes(["h", "oʊ", "m"]) == ["oh", "oh", "PP"]  # h takes the next phone's class
    assert OCULUS15.word_string(["θ", "ɪ", "ŋ", "k"]) == "Tikk"
    with pytest.raises(ValueError, match="'x'"):
        SPECTRE.word_string(["x"])


def test_ver_hand_worked_spectre():
    # bat -> p a t, mat -> p a t: visemically identical although one character differs
    assert viseme_error_rate(["bat"], ["mat"]) == 0.0
    assert char_error_rate(["bat"], ["mat"]) == pytest.approx(1 / 3)
    assert viseme_error_rate(["bat"], ["cat"]) == pytest.approx(1 / 3)  # p a t vs k a t
    # hello world -> "k@to uEtt" (9 chars), yellow word -> "iEto uEt": k->i, @->E, delete t = 3/9
    assert VisemeTranscriber()("Hello, world!") == "k@to uEtt"
    assert VisemeTranscriber()("yellow word") == "iEto uEt"
    assert viseme_error_rate(["Hello, world!"], ["yellow word"]) == pytest.approx(3 / 9)
    # car -> "kar", core -> "kOr": multi-character classes count per character
    assert viseme_error_rate(["car"], ["core"]) == pytest.approx(1 / 3)


def test_ver_hand_worked_oculus():
    t = VisemeTranscriber("oculus15")
    assert t("hello world") == "aano urnt"
    assert t("yellow word") == "ieno urt"
    assert viseme_error_rate(["hello world"], ["yellow word"], viseme_map="oculus15") == pytest.approx(3 / 9)


def test_ver_aggregates_and_streaming():
    refs, hyps = ["bat", "hello world"], ["mat", "yellow word"]
    assert viseme_error_rate(refs, hyps) == pytest.approx((0 + 3 / 9) / 2)
    assert viseme_error_rate(refs, hyps, aggregate="corpus") == pytest.approx(3 / 12)
    m = VisemeErrorRate()
    m.update(refs[:1], hyps[:1])
    m.update(refs[1:], hyps[1:])
    assert m.compute().item() == pytest.approx(1 / 6)
    with pytest.raises(ValueError, match="different metric or settings"):
        m.merge(VisemeErrorRate(viseme_map="oculus15"))


def test_oov_word_is_named():
    with pytest.raises(UnknownWordError, match="'zzyzxq' is not in CMUdict"):
        viseme_error_rate(["hello zzyzxq"], ["hello"])
    with pytest.raises(ValueError, match="empty transcript lists"):
        viseme_error_rate([], [])


def test_espeak_paths():
    # eSpeak NG phonemes through phonemizer + espeakng-loader (the AV-guidance paper's pipeline)
    espeak = VisemeTranscriber("spectre", phone_source="espeak")
    assert espeak("hello world") == "k@to uEtt"
    assert espeak("bat") == "pat"
    # CMUdict with the eSpeak fallback handles a made-up word; its visemes come from eSpeak
    fallback = VisemeTranscriber("spectre", phone_source="cmudict", oov="espeak")
    assert fallback("hello zzyzxq").startswith("k@to ")
    assert fallback("hello zzyzxq").split()[1] == espeak("zzyzxq")
