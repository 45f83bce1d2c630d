"""Transcript encoder: word pooling from a real local language model, frame alignment by hand."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from facial_animator.text import (
    TranscriptEncoder,
    align_words_to_frames,
    default_text_model_path,
    match_word_timings,
    split_words,
)


@pytest.fixture(scope="module")
def minilm() -> TranscriptEncoder:
    return TranscriptEncoder()


def _reference_word_vectors(path: str | Path, text: str) -> torch.Tensor:
    """Mean of the last hidden states per word, words as the tokenizer itself numbers them."""
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModel.from_pretrained(path, local_files_only=True).eval()
    enc = tok(text, return_tensors="pt")
    with torch.no_grad():
        states = model(**enc).last_hidden_state[0]
    ids = enc.word_ids()
    n = max(i for i in ids if i is not None) + 1
    return torch.stack([states[[t for t, i in enumerate(ids) if i == w]].mean(0) for w in range(n)])


def test_minilm_default_word_vectors_match_tokenizer_word_grouping(minilm: TranscriptEncoder) -> None:
    assert minilm.dim == 384
    assert Path(minilm.model_path) == default_text_model_path()
    text = "the unbelievably quick fox jumps"  # "unbelievably" splits into several word pieces
    emb = minilm.encode_words(text)
    assert emb.words == text.split()
    torch.testing.assert_close(
        emb.vectors, _reference_word_vectors(minilm.model_path, text), atol=1e-5, rtol=1e-5
    )
    assert minilm.encode_words(text) is emb  # cached


def test_punctuation_stays_with_its_word(minilm: TranscriptEncoder) -> None:
    emb = minilm.encode_words("Hello, world!")
    assert emb.words == ["Hello,", "world!"]
    assert emb.vectors.shape == (2, 384) and (emb.vectors.norm(dim=1) > 0).all()


def _tiny_gpt2(folder: Path) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2Model, PreTrainedTokenizerFast

    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    corpus = ["place blue at four now", "set green by seven please", "bin red with one again"] * 20
    tk.train_from_iterator(
        corpus, trainers.BpeTrainer(vocab_size=300, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    )
    fast = PreTrainedTokenizerFast(tokenizer_object=tk, model_max_length=64)
    fast.save_pretrained(folder)
    torch.manual_seed(0)
    GPT2Model(
        GPT2Config(vocab_size=tk.get_vocab_size(), n_positions=64, n_embd=32, n_layer=2, n_head=2)
    ).save_pretrained(folder)
    return folder


def test_any_local_hf_model_by_path_gpt2(tmp_path: Path) -> None:
    folder = _tiny_gpt2(tmp_path / "gpt2-tiny")
    enc = TranscriptEncoder(folder)
    assert enc.dim == 32
    text = "place blueish green now"  # "blueish" is out of the training corpus → several BPE pieces
    emb = enc.encode_words(text)
    assert emb.words == text.split()
    torch.testing.assert_close(emb.vectors, _reference_word_vectors(folder, text), atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="context of 64"):
        enc.encode_words(" ".join(["place"] * 100))


def test_missing_model_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        TranscriptEncoder(tmp_path / "nope")


def test_uniform_spread_by_hand() -> None:
    index, mask = align_words_to_frames(3, 7, 30.0)
    # frame t takes word floor(t*3/7): 0,0,0,1,1,2,2
    assert index.tolist() == [0, 0, 0, 1, 1, 2, 2]
    assert mask.all()


def test_timed_alignment_by_hand() -> None:
    # 10 fps: frames at 0.0, 0.1, ..., 0.7
    spans = [(0.1, 0.3), (0.3, 0.35), (0.5, 0.7)]
    index, mask = align_words_to_frames(3, 8, 10.0, spans)
    # frame 3 (t = 0.3 s) opens word 1; frame 4 (0.4 s) falls in the pause; frame 7 (0.7 s) is past the end
    assert mask.tolist() == [False, True, True, True, False, True, True, False]
    assert index[mask].tolist() == [0, 0, 1, 2, 2]


def test_match_word_timings_skips_silence_and_normalises() -> None:
    words = [w for w, _, _ in split_words("Hello, World - again!")]
    timings = [
        ("sil", 0.0, 0.2),
        ("HELLO", 0.2, 0.5),
        ("world", 0.5, 0.9),
        ("sp", 0.9, 1.0),
        ("again", 1.0, 1.4),
    ]
    assert match_word_timings(words, timings) == [(0.2, 0.5), (0.5, 0.9), (0.0, 0.0), (1.0, 1.4)]
    with pytest.raises(ValueError, match="does not match the timed label"):
        match_word_timings(["hello", "there"], [("hello", 0, 1), ("world", 1, 2)])
    with pytest.raises(ValueError, match="2 words but the word timings have 1"):
        match_word_timings(["hello", "there"], [("hello", 0, 1)])


def test_frame_features_with_timings(minilm: TranscriptEncoder) -> None:
    text = "blue at four"
    emb = minilm.encode_words(text)
    feats, mask = minilm.frame_features(
        text, 6, 10.0, [("blue", 0.0, 0.2), ("at", 0.2, 0.3), ("four", 0.4, 0.6)]
    )
    assert mask.tolist() == [True, True, True, False, True, True]
    torch.testing.assert_close(feats[0], emb.vectors[0])
    torch.testing.assert_close(feats[2], emb.vectors[1])
    assert feats[3].abs().sum() == 0
    torch.testing.assert_close(feats[5], emb.vectors[2])
    batch, bmask = minilm.batch_frame_features([text, ""], 6, 10.0)
    assert batch.shape == (2, 6, 384) and bmask[0].all() and not bmask[1].any()
