"""End to end: a small reader learns to read a procedurally generated toy video task.

Each character is a distinct mouth-like shape (an outer lip ellipse with an inner opening of its
own width and height), shown for two frames at 88×88 with random jitter and pixel noise.
The reader is trained from scratch through :func:`lipread_expert.fit` (AdamW, warm-up + cosine,
gradient clipping, joint CTC/attention loss) and must then transcribe unseen sequences with a
low character error rate (CER computed by jiwer).
"""

from __future__ import annotations

import jiwer
import numpy as np
import torch

from lipread_expert import Batch, CharTokenizer, InputSpec, LipReader, fit, transcribe

# Half-width and half-height of the mouth opening (pixels) for each character.
SHAPES = {"A": (22, 14), "O": (12, 12), "E": (28, 5), "M": (24, 1), "U": (7, 7)}
FRAMES_PER_CHAR = 2
SIZE = 88


def _frame(char: str, rng: np.random.Generator) -> np.ndarray:
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    w, h = SHAPES[char]
    cx, cy = 44 + rng.uniform(-3, 3), 50 + rng.uniform(-3, 3)
    lips = ((xx - cx) / (w + 6)) ** 2 + ((yy - cy) / (h + 6)) ** 2 <= 1
    opening = ((xx - cx) / w) ** 2 + ((yy - cy) / max(h, 0.5)) ** 2 <= 1
    img = np.full((SIZE, SIZE), 0.7, np.float32)
    img[lips] = 0.35
    img[opening] = 0.08
    return img + rng.normal(0, 0.03, img.shape).astype(np.float32)


def _sample(rng: np.random.Generator, tok: CharTokenizer, batch: int) -> tuple[Batch, list[str]]:
    letters = list(SHAPES)
    texts, clips = [], []
    for _ in range(batch):
        chars = [rng.choice(letters)]
        while len(chars) < rng.integers(2, 4):
            c = rng.choice(letters)
            if c != chars[-1]:
                chars.append(c)
        texts.append("".join(chars))
        clips.append(np.stack([_frame(c, rng) for c in chars for _ in range(FRAMES_PER_CHAR)]))
    t_max = max(len(c) for c in clips)
    video = np.full((batch, t_max, 1, SIZE, SIZE), 0.7, np.float32)
    for i, clip in enumerate(clips):
        video[i, : len(clip), 0] = clip
    targets, _ = tok.batch_encode(texts)
    frames = InputSpec().normalize(torch.from_numpy(video))
    return Batch(targets, video=frames, video_lengths=torch.tensor([len(c) for c in clips])), texts


def test_small_reader_learns_toy_video_task() -> None:
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    tok = CharTokenizer("".join(SHAPES))
    model = LipReader.from_preset("nano", "video", tok.vocab_size, mtlalpha=0.3)
    logs = fit(model, lambda step: _sample(rng, tok, 8)[0], steps=100, lr=5e-3, warmup_steps=10)
    assert logs[-1]["ctc"] < 0.2 * logs[0]["ctc"]
    assert logs[-1]["att"] < logs[0]["att"]

    test_batch, texts = _sample(np.random.default_rng(1), tok, 24)
    greedy = transcribe(model, tok, video=test_batch.video, video_lengths=test_batch.video_lengths)
    assert jiwer.cer(texts, greedy) <= 0.1, list(zip(texts, greedy))
    beam = transcribe(
        model, tok, video=test_batch.video, video_lengths=test_batch.video_lengths,
        method="beam", beam_size=4, ctc_weight=1.0,
    )
    assert jiwer.cer(texts, beam) <= 0.1, list(zip(texts, beam))
