"""What every task of a grid shares: the config, data, readers, evaluation context and keys.

:class:`GridContext` is cheap to build (the training split, masks and readers load on first use), so
a worker that runs one task of a grid builds its own; :func:`prepare` also makes sure the corpus
exists (generated once, under a lock, when several workers start together).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any

import torch

from facial_animator import get_animator

from ..config import BenchConfig, ConfigError, RunSpec, check_pretrained_paths
from ..datasets import Sample
from ..datasets.synth.topologies import SYNTH_PROTOCOLS
from ..evaluation import EvalContext, make_context
from ..progress import progress_enabled
from ..results import (
    ExpertRef,
    MaskRef,
    ModalityReading,
    ReaderRef,
    animator_code_version,
    code_version,
    load_result,
    run_cache_key,
)
from ..results.io import ResultFileError
from ..shipped_manifests import EXPERT_ID_PREFIX, JUDGE_ID_PREFIX
from ..training.animator import AnimatorTrainer
from ..training.data import dataset_hash, ensure_corpus, load_masks, load_split
from ..training.ddp import DistInfo, init_distributed
from ..training.stage1 import TrainedReader, modality_readings, train_eval_reader, train_expert
from .lock import TaskLock

__all__ = ["GridContext", "check_owner", "ensure_corpus_once", "is_current", "prepare", "select_device"]

log = logging.getLogger("talkbench")


def select_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


class GridContext:
    """What every cell of a grid shares: data, readers, evaluation context, hashes."""

    def __init__(
        self,
        config: BenchConfig,
        results_root: Path,
        progress: bool,
        say: Callable[[str], None],
        corpus: bool = True,
    ) -> None:
        check_pretrained_paths(config)
        self.config = config
        self.results_root = Path(results_root)
        self.progress = progress
        self.say = say
        self.work = Path(config.work_dir) / config.name
        self.work.mkdir(parents=True, exist_ok=True)
        self.device = select_device(config.device)
        self.dist = init_distributed()
        if corpus:
            ensure_corpus_once(config, progress)
        self.data_hash = dataset_hash(config)
        self.code = code_version()
        self._reader: TrainedReader | None = None
        self._expert: TrainedReader | None = None
        self._expert_ref: ExpertRef | None = None
        self._eval: EvalContext | None = None
        #: whether a missing trained reader may be trained on first use (the serial grid, the CLI's
        #: train / eval); the tasks of a distributed grid set it False: only the reader task trains
        self.train_readers = True

    @cached_property
    def train(self) -> list[Sample]:
        """The training split (cut to ``data.max_train_sequences``)."""
        return load_split(self.config, "train", limit=self.config.data.max_train_sequences)

    @cached_property
    def masks(self) -> dict[str, Any]:
        return load_masks(self.config)

    @property
    def faces(self) -> Any:
        return self.train[0].faces

    @property
    def reader(self) -> TrainedReader:
        """The evaluation reader: the shipped judge, or the one the grid's ``reader`` task trained
        (loaded, never trained here unless ``train_readers``)."""
        if self._reader is None:
            self._reader = train_eval_reader(
                self.config, self.work, self.progress, self.say, train=self.train_readers
            )
        return self._reader

    @property
    def expert(self) -> TrainedReader:
        """The AV expert: the shipped one, or the one the grid's ``expert`` task trained."""
        if self._expert is None:
            self._expert = train_expert(
                self.config, self.work, self.progress, self.say, train=self.train_readers
            )
        return self._expert

    @property
    def eval(self) -> EvalContext:
        if self._eval is None:
            self._eval = make_context(self.config, self.reader)
        return self._eval

    def out_dir(self) -> Path:
        return self.results_root / self.config.data.protocol

    def mask_refs(self) -> dict[str, MaskRef]:
        return {k: MaskRef(id=m.id, sha256=m.sha256) for k, m in self.masks.items()}

    def trainer(self, spec: RunSpec, seed: int, distributed: bool = True) -> AnimatorTrainer:
        """The stage-2 trainer of one grid cell and seed (with the stage-1 expert for AV variants);
        ``distributed=False``: a single-process one whatever the launch (evaluation runs on rank 0)."""
        return AnimatorTrainer(
            spec,
            seed,
            self.train,
            self.faces,
            self.masks["lip"].indices,
            self.expert if spec.uses_av else None,
            self.device,
            self.dist if distributed else DistInfo(),
        )

    def cell_code(self, spec: RunSpec) -> str:
        """The project's code version and, for a plug-in animator, the plug-in's
        (:func:`talkbench.results.cache.animator_code_version`)."""
        return self.code + animator_code_version(get_animator(spec.animator.registry))

    def train_resolved(self, spec: RunSpec) -> dict[str, Any]:
        """What a cell's training depends on: :meth:`RunSpec.resolved`, with the sha256 of an AV expert
        that the grid trained itself (a shipped one's is there already)."""
        resolved = spec.resolved()
        if spec.uses_av and resolved.get("expert_sha256") is None:
            resolved["expert_sha256"] = self.expert.sha256
        return resolved

    def result_resolved(self, spec: RunSpec) -> dict[str, Any]:
        """What a cell's result depends on: :meth:`train_resolved` and the evaluation reader's sha256
        (a trained reader's too), so rows judged by another reader are never taken as current."""
        resolved = self.train_resolved(spec)
        if resolved.get("judge_sha256") is None:
            resolved["judge_sha256"] = self.reader.sha256
        return resolved

    def train_key(self, spec: RunSpec) -> str:
        """The key of a cell's trainings (its checkpoints' names)."""
        return run_cache_key(self.train_resolved(spec), self.data_hash, self.cell_code(spec))

    def cell_key(self, spec: RunSpec) -> str:
        """The cache key of a cell's result (``result.json``'s ``cache_key``). With the shipped judge
        and expert it equals :meth:`train_key`: ``sha256(resolved config, data, code)``."""
        return run_cache_key(self.result_resolved(spec), self.data_hash, self.cell_code(spec))

    def checkpoint(self, spec: RunSpec, seed: int) -> Path:
        """The training checkpoint of one grid cell and seed, keyed like its trainings (a plug-in's
        code included, so an edited plug-in never resumes its old checkpoint)."""
        return self.work / "checkpoints" / f"{spec.run_id}-s{seed}-{self.train_key(spec)[:12]}.pt"

    def stage1_cache(self, spec: RunSpec, seed: int) -> Path | None:
        """Where CodeTalker's stage 1 of (animator, seed) is shared by the grid's variants."""
        if spec.animator.registry != "codetalker":
            return None
        t = spec.config.training
        payload = {
            "animator": spec.animator.model_dump(),
            "seed": seed,
            "vq": [t.vq_steps, t.vq_lr, t.max_frames],
            "data": self.data_hash,
            "code": self.code + animator_code_version(get_animator(spec.animator.registry)),
        }
        key = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:12]
        name = spec.animator.name.lower().replace(" ", "-")
        return self.work / "checkpoints" / f"{name}-stage1-s{seed}-{key}.pt"

    def expert_ref(self) -> ExpertRef:
        """The AV expert's id, sha256 and its video / audio / both readings of the test split's GT."""
        if self._expert_ref is None:
            e = self.config.expert
            test = load_split(self.config, "test")
            readings = modality_readings(self.expert, test, self.config, self.work)
            self._expert_ref = ExpertRef(
                id=(
                    f"{EXPERT_ID_PREFIX}{e.pretrained}"
                    if e.pretrained
                    else f"talkbench-{self.config.name}-{e.modality}-{e.preset}"
                ),
                checkpoint_sha256=self.expert.sha256,
                utterances=len(test),
                readings={k: ModalityReading(**v) for k, v in readings.items()},  # type: ignore[misc]
            )
            r = self._expert_ref.readings
            self.say(
                "expert reads GT renders of the test split at CER "
                + ", ".join(f"{k} {v.cer:.3f}" for k, v in r.items())
            )
        return self._expert_ref

    def reader_ref(self) -> ReaderRef:
        return ReaderRef(
            id=(
                f"{JUDGE_ID_PREFIX}{self.config.reader.judge}"
                if self.config.reader.judge
                else f"talkbench-{self.config.name}-video-{self.config.reader.preset}"
            ),
            checkpoint_sha256=self.reader.sha256,
        )


def prepare(
    config: BenchConfig,
    results_root: Path | str,
    progress: bool | None = None,
    say: Callable[[str], None] | None = None,
) -> GridContext:
    """Shared state of a grid (generates the corpus when missing)."""
    if config.torch_threads:
        torch.set_num_threads(config.torch_threads)
    return GridContext(
        config, Path(results_root), progress_enabled() if progress is None else progress, say or log.info
    )


def ensure_corpus_once(config: BenchConfig, progress: bool = False) -> Path:
    """:func:`talkbench.training.data.ensure_corpus` under a lock beside the data root, so that workers
    started together generate the corpus once (the others wait for it)."""
    root = Path(config.data.root)
    if config.data.protocol not in SYNTH_PROTOCOLS or (root / "corpus.json").is_file():
        return ensure_corpus(config, progress)  # nothing to generate (corpus.json is written last)
    lock = TaskLock(root.parent / f".{root.name}.lock")
    while not lock.try_acquire():
        time.sleep(2.0)
    try:
        return ensure_corpus(config, progress)
    finally:
        lock.release()


def check_owner(ctx: GridContext, run_dir: Path) -> None:
    """Refuse to replace a run that another preset wrote (its ``config.yaml`` names that preset): two
    presets of one protocol share run ids, so one would silently overwrite the other's results."""
    import yaml

    path = run_dir / "config.yaml"
    if not path.is_file():
        return
    try:
        owner = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("benchmark")
    except (yaml.YAMLError, AttributeError, OSError):
        return
    if owner is not None and owner != ctx.config.name:
        raise ConfigError(
            f"{run_dir}: holds a run of preset {owner!r}, which preset {ctx.config.name!r} would replace; "
            f"write this preset's results to another folder (--results runs/{ctx.config.name})"
        )


def is_current(run_dir: Path, key: str) -> bool:
    try:
        return load_result(run_dir / "result.json").cache_key == key
    except (FileNotFoundError, ResultFileError):
        return False
