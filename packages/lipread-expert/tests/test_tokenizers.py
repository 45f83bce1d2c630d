"""Character and SentencePiece tokenizers (the latter against the official auto-avsr files)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lipread_expert import CharTokenizer, SentencePieceTokenizer


def test_char_tokenizer_layout_and_round_trip() -> None:
    tok = CharTokenizer("AB C")
    assert tok.token_list == ["<blank>", "A", "B", " ", "C", "<eos>"]
    assert tok.vocab_size == 6 and tok.blank_id == 0 and tok.eos_id == 5 and tok.sos_id == 5
    assert tok.encode("ab  c") == [1, 2, 3, 4]  # upper-cased, whitespace collapsed
    assert tok.decode([1, 2, 3, 4]) == "AB C"
    assert tok.decode([0, 1, 5, -1, 2]) == "AB"  # blank, eos and padding carry no text


def test_char_tokenizer_rejects_unknown_characters() -> None:
    tok = CharTokenizer()
    with pytest.raises(ValueError, match=r"\['!', 'É'\]"):
        tok.encode("HELLO! É")
    with pytest.raises(ValueError, match="outside the vocabulary"):
        tok.decode([tok.vocab_size])
    assert CharTokenizer(uppercase=False).normalise("Ab") == "Ab"


def test_char_tokenizer_from_texts_and_batch_encode() -> None:
    tok = CharTokenizer.from_texts(["bin blue", "at  f"])
    assert tok.token_list[1:-1] == [" ", "A", "B", "E", "F", "I", "L", "N", "T", "U"]
    targets, lengths = tok.batch_encode(["BIN", "AT F"])
    assert lengths.tolist() == [3, 4]
    assert targets.tolist() == [[3, 6, 8, -1], [2, 9, 1, 5]]
    assert targets.dtype == torch.long


@pytest.fixture(scope="module")
def spm_files(shared_fixtures: Path) -> tuple[Path, Path]:
    pytest.importorskip("sentencepiece")
    folder = shared_fixtures / "auto_avsr"
    return folder / "unigram5000.model", folder / "unigram5000_units.txt"


def _units(path: Path) -> dict[str, int]:
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        piece, idx = line.split()
        out[piece] = int(idx)
    return out


def test_sentencepiece_vocabulary_matches_official_layout(spm_files: tuple[Path, Path]) -> None:
    tok = SentencePieceTokenizer(*spm_files)
    # methods.md §1.4: 5047 units, odim 5049, sos = eos = 5048, <unk> = 1.
    assert tok.vocab_size == 5049
    assert tok.eos_id == tok.sos_id == 5048
    assert tok.token_list[0] == "<blank>" and tok.token_list[-1] == "<eos>"
    assert tok.unk_id == 1 and tok.token_list[1] == "<unk>"


def test_sentencepiece_ids_agree_with_units_file(spm_files: tuple[Path, Path]) -> None:
    import sentencepiece

    model_path, units_path = spm_files
    tok = SentencePieceTokenizer(model_path, units_path)
    units = _units(units_path)
    spm = sentencepiece.SentencePieceProcessor(model_file=str(model_path))
    text = "THE BIRCH CANOE SLID ON THE SMOOTH PLANKS"
    pieces = spm.encode_as_pieces(text)
    ids = tok.encode(text)
    assert ids == [units[p] for p in pieces]
    assert ids[0] == 4575  # "▁THE" is line 4575 of the units file
    assert 1 not in ids
    for i in ids:
        assert tok.token_list[i] == pieces[ids.index(i)]


@pytest.mark.parametrize(
    "text", ["THE BIRCH CANOE SLID ON THE SMOOTH PLANKS", "PLACE BLUE AT F TWO NOW", "IT'S 4 O'CLOCK"]
)
def test_sentencepiece_round_trips_upper_case_text(spm_files: tuple[Path, Path], text: str) -> None:
    tok = SentencePieceTokenizer(*spm_files)
    assert tok.decode(tok.encode(text)) == text
    assert tok.decode([0, *tok.encode(text), tok.eos_id, -1]) == text


def test_sentencepiece_lower_case_handling(spm_files: tuple[Path, Path]) -> None:
    # Default: upper-cased before tokenizing, so lower-case input gives the upper-case ids.
    tok = SentencePieceTokenizer(*spm_files)
    assert tok.encode("the birch canoe") == tok.encode("THE BIRCH CANOE")
    assert tok.decode(tok.encode("the birch canoe")) == "THE BIRCH CANOE"
    # uppercase=False reproduces the official pitfall (methods.md §1.4): "▁" (501) + <unk> (1) per word.
    raw = SentencePieceTokenizer(*spm_files, uppercase=False)
    assert raw.encode("the birch canoe") == [501, 1, 501, 1, 501, 1]
    strict = SentencePieceTokenizer(*spm_files, uppercase=False, strict=True)
    with pytest.raises(ValueError, match="upper-case"):
        strict.encode("the birch canoe")


def test_sentencepiece_missing_file_is_named(tmp_path: Path, spm_files: tuple[Path, Path]) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.model"):
        SentencePieceTokenizer(tmp_path / "nope.model", spm_files[1])
    bad = tmp_path / "units.txt"
    bad.write_text("<unk> 1\nA 3\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"units\.txt:2"):
        SentencePieceTokenizer(spm_files[0], bad)
