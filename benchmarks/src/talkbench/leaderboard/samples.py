"""Per-run pages of the leaderboard: every test item's transcript, reading, alignment and metrics; posters.

``runs/<protocol>/<run_id>/index.html`` lists the lines of the run's ``per_sample.jsonl`` in file order
(seed, test sequence, style). The lip reader's hypothesis is aligned to the reference transcript, both
passed through :func:`facial_metrics.text.normalize_transcript` (the normaliser CER / WER score with), by
jiwer's word and character alignments: substitutions, deletions and insertions are marked.

``poster.png`` of a run with a ``sample.mp4`` is the video's middle frame, decoded by imageio-ffmpeg's
ffmpeg and written as PNG by Pillow (no timestamps or text chunks), so it is a function of the video's
bytes.
"""

from __future__ import annotations

import io
import math
from typing import Any

import jiwer
import numpy as np

from facial_metrics.text import normalize_transcript

from ..results.curves import CURVES_FILE, load_curves
from ..results.direction import Best, direction_phrase, metric_best, sort_key
from ..results.io import load_per_sample
from ..results.schema import METRIC_NAMES
from .collect import ResultsDirError, RunEntry
from .tables import format_scale, metric_group

__all__ = ["alignment", "poster_png", "run_page_data"]


def _ops(chunks: list[Any], ref: list[str], hyp: list[str]) -> list[dict[str, str]]:
    ops: list[dict[str, str]] = []
    for c in chunks:
        r, h = ref[c.ref_start_idx : c.ref_end_idx], hyp[c.hyp_start_idx : c.hyp_end_idx]
        if c.type == "substitute":
            ops += [{"op": "substitute", "ref": a, "hyp": b} for a, b in zip(r, h)]
        elif c.type == "equal":
            ops += [{"op": "equal", "ref": a, "hyp": a} for a in r]
        elif c.type == "delete":
            ops += [{"op": "delete", "ref": a, "hyp": ""} for a in r]
        else:
            ops += [{"op": "insert", "ref": "", "hyp": b} for b in h]
    return ops


def _char_spans(ops: list[dict[str, str]]) -> list[dict[str, str]]:
    """Merge consecutive character ops of one kind, so a page shows runs of characters."""
    out: list[dict[str, str]] = []
    for o in ops:
        if out and out[-1]["op"] == o["op"]:
            out[-1] = {"op": o["op"], "ref": out[-1]["ref"] + o["ref"], "hyp": out[-1]["hyp"] + o["hyp"]}
        else:
            out.append(dict(o))
    return out


def alignment(reference: str, hypothesis: str) -> dict[str, Any] | None:
    """Word and character alignment of the normalised hypothesis to the normalised reference.

    ``{"reference", "hypothesis", "words": [ops], "chars": [spans], "counts": {...}}``: each op is
    ``{"op": "equal" | "substitute" | "delete" | "insert", "ref", "hyp"}``; ``counts`` holds the word
    and character substitutions / deletions / insertions / hits. ``None`` when the normalised
    reference is empty (no error rate is defined then).
    """
    ref, hyp = normalize_transcript(reference), normalize_transcript(hypothesis)
    if not ref:
        return None
    words = jiwer.process_words(ref, hyp)
    chars = jiwer.process_characters(ref, hyp)
    return {
        "reference": ref,
        "hypothesis": hyp,
        "words": _ops(words.alignments[0], words.references[0], words.hypotheses[0]),
        "chars": _char_spans(_ops(chars.alignments[0], chars.references[0], chars.hypotheses[0])),
        "counts": {
            "words": {"S": words.substitutions, "D": words.deletions, "I": words.insertions, "H": words.hits,
                      "N": len(words.references[0])},
            "chars": {"S": chars.substitutions, "D": chars.deletions, "I": chars.insertions, "H": chars.hits,
                      "N": len(chars.references[0])},
        },
    }


def _fmt(x: float) -> str:
    return f"{x:.3f}" if math.isfinite(x) else str(x)


def run_page_data(entry: RunEntry, row: dict[str, Any], bests: dict[str, Best]) -> dict[str, Any]:
    """What ``runs/<protocol>/<run_id>/index.html`` shows: the run's table row, its items (each metric's
    direction ``bests`` as the protocol's results table has it) and its training curves
    (``"curves"`` for the page; ``"training_curves"``, the validated ``curves.json``, to plot)."""
    res = entry.result
    try:
        records = load_per_sample(entry.path / "per_sample.jsonl")
    except Exception as exc:
        raise ResultsDirError([f"{entry.path / 'per_sample.jsonl'}: {exc}"]) from exc
    present = {m for r in records for m in r.metrics}
    rank = {m: i for i, m in enumerate(METRIC_NAMES)}
    order = sorted(present, key=lambda m: (rank.get(m, len(rank)), m))
    columns = []
    for m in order:
        summary = res.metrics.get(m)
        scale, unit = (summary.report_scale, summary.unit) if summary is not None else (1.0, "")
        best = bests.get(m) or metric_best(m, summary.higher_is_better if summary is not None else False)
        columns.append({"metric": m, "short": m.upper(), "scale": scale, "group": metric_group(m)[0],
                        "scale_text": format_scale(scale, unit) if unit else "raw", "best": best,
                        "direction": direction_phrase(best)})
    items = []
    for r in records:
        cells = {c["metric"]: {"text": _fmt(r.metrics[c["metric"]] / c["scale"]),
                               "sort": sort_key(c["best"], r.metrics[c["metric"]] / c["scale"])}
                 for c in columns if c["metric"] in r.metrics}
        align = (alignment(r.reference, r.hypothesis)
                 if r.reference is not None and r.hypothesis is not None else None)
        items.append({
            "seed": r.seed, "sample_id": r.sample_id, "subject": r.subject, "style": r.style or "",
            "frames": r.frames, "cells": cells, "reference": r.reference, "hypothesis": r.hypothesis,
            "alignment": align,
        })
    curves = None
    if (entry.path / CURVES_FILE).is_file():
        try:
            curves = load_curves(entry.path / CURVES_FILE)
        except ValueError as exc:
            raise ResultsDirError([str(exc)]) from exc
    return {
        "protocol": res.protocol,
        "run_id": res.run_id,
        "label": row["label"],
        "kind": res.kind,
        "guidance": row["guidance"],
        "seeds": list(res.seeds),
        "reader": res.reader.id if res.reader is not None else None,
        "row": row,
        "columns": columns,
        "records": items,
        "has_video": entry.video is not None,
        "training_curves": curves,
        "curves": None if curves is None else {
            "svg": "curves.svg",
            "trainings": [{"seed": c.seed, "phase": c.phase, "steps": c.steps, "bin": c.bin_steps}
                          for c in curves.trainings],
        },
    }


def poster_png(video: bytes | Any) -> bytes:
    """PNG of the middle frame of an mp4 (path); raises ``ValueError`` when it cannot be decoded."""
    import imageio_ffmpeg
    from PIL import Image

    try:
        gen = imageio_ffmpeg.read_frames(str(video))
        meta = gen.__next__()
        w, h = meta["size"]
        frames = [bytes(f) for f in gen]
    except (RuntimeError, OSError, StopIteration, KeyError, ValueError) as exc:
        raise ValueError(f"{video}: cannot decode the video ({exc})") from exc
    if not frames:
        raise ValueError(f"{video}: the video has no frames")
    frame = np.frombuffer(frames[len(frames) // 2], np.uint8).reshape(h, w, 3)
    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, format="PNG", optimize=False, compress_level=9)
    return buf.getvalue()
