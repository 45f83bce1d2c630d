"""Transcript encoders: contextual word embeddings from a frozen pretrained language model."""

from .alignment import align_words_to_frames, match_word_timings, split_words
from .transcript_encoder import TranscriptEncoder, WordEmbeddings, default_text_model_path

__all__ = [
    "TranscriptEncoder",
    "WordEmbeddings",
    "align_words_to_frames",
    "default_text_model_path",
    "match_word_timings",
    "split_words",
]
