"""Benchmark configuration: YAML presets and ``key=value`` overrides, loaded into the models of
:mod:`talkbench.config_models` (re-exported here).

A config is one YAML file (``benchmarks/configs/<preset>.yaml``, or any path). Every key is validated
on load; an unknown key or a bad value raises :class:`ConfigError` naming the file and the key.
Overrides use dotted keys with YAML values: ``training.steps=50``, ``seeds=[0,1,2]``,
``guidance.expert_trainable=false``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from . import config_models
from .config_models import *  # noqa: F403 - the models and their helpers (config_models.__all__)
from .config_models import BenchConfig, ConfigError, ExpertConfig, ReaderConfig, format_validation_error

__all__ = [
    *config_models.__all__,
    "CONFIG_DIR",
    "PRESETS",
    "apply_overrides",
    "check_pretrained_paths",
    "load_config",
    "pretrained_paths",
    "resolve_preset_path",
]

#: folder of the shipped presets (``benchmarks/configs`` of the source tree)
CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"
PRESETS: tuple[str, ...] = ("smoke", "default", "full-dose", "lambda-av-sweep", "paper-vocaset", "paper-biwi")


def pretrained_paths(config: BenchConfig) -> list[tuple[str, str]]:
    """``(config key, path)`` of every pretrained file the grid will read: the expert's and the
    reader's checkpoints and SentencePiece files (when used), and each animator's ``*_path`` kwargs."""
    out: list[tuple[str, str]] = []
    uses_av = any(v in ("av", "both") for v in config.variants)
    sections: list[tuple[str, ExpertConfig | ReaderConfig]] = [("reader", config.reader)]
    if uses_av and config.expert.pretrained is None:
        sections.insert(0, ("expert", config.expert))
    for name, sec in sections:
        if name == "reader" and config.reader.judge is not None:
            continue
        if sec.checkpoint:
            out.append((f"{name}.checkpoint", sec.checkpoint))
        if sec.tokenizer == "sentencepiece":
            for key in ("sentencepiece_model", "sentencepiece_units"):
                value = getattr(sec, key)
                if value:
                    out.append((f"{name}.{key}", value))
    for i, a in enumerate(config.animators):
        for key, value in a.kwargs.items():
            if key.endswith("_path") and isinstance(value, str) and value:
                out.append((f"animators.{i}.kwargs.{key}", value))
    return out


def check_pretrained_paths(config: BenchConfig, preset: str | None = None) -> None:
    """Raise :class:`ConfigError` listing every pretrained file of :func:`pretrained_paths` that does
    not exist, each with its config key, the resolved path and the override that changes it."""
    problems = []
    for key, value in pretrained_paths(config):
        path = Path(value).expanduser()
        if not path.exists():
            problems.append((key, f"{key}: {path.resolve()} does not exist"))
    if problems:
        cmd = f"talkbench run --preset {preset or config.name}"
        raise ConfigError(
            f"{len(problems)} pretrained file(s) missing: {'; '.join(p for _, p in problems)}. Put the "
            f"files there, or point the key elsewhere, e.g. `{cmd} {problems[0][0]}=/path/to/file` "
            "(null: random initialisation)"
        )


def resolve_preset_path(preset_or_path: str | os.PathLike[str]) -> Path:
    """A preset name (``smoke``, ``default``, ...) or a path to a YAML file."""
    text = str(preset_or_path)
    if text in PRESETS or (not text.endswith((".yaml", ".yml")) and (CONFIG_DIR / f"{text}.yaml").is_file()):
        return CONFIG_DIR / f"{text}.yaml"
    path = Path(text)
    if not path.is_file():
        raise ConfigError(
            f"{path}: config file not found; use a preset ({', '.join(PRESETS)}) or a YAML path"
        )
    return path


def _parse_override(item: str) -> tuple[list[str], Any]:
    if "=" not in item:
        raise ConfigError(f"override {item!r}: expected key=value (e.g. training.steps=50)")
    key, _, raw = item.partition("=")
    # ``animators[0].kwargs`` is accepted as ``animators.0.kwargs``
    key = re.sub(r"\[(\d+)\]", r".\1", key.strip())
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"override {item!r}: empty key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise ConfigError(f"override {item!r}: value is not valid YAML ({exc})") from None
    return key.split("."), value


def apply_overrides(data: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Copy of ``data`` with each ``a.b.c=value`` override set (values parsed as YAML)."""
    import copy

    out = copy.deepcopy(data)
    for item in overrides:
        path, value = _parse_override(item)
        node = out
        for part in path[:-1]:
            if part.isdigit() and isinstance(node, list):
                node = node[int(part)]
                continue
            nxt = node.get(part) if isinstance(node, dict) else None
            if nxt is None:
                nxt = {}
                node[part] = nxt
            if not isinstance(nxt, (dict, list)):
                raise ConfigError(f"override {item!r}: {part!r} is a value, not a section")
            node = nxt
        last = path[-1]
        if isinstance(node, list) and last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value
    return out


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """``top`` over ``base``: mappings merge key by key, every other value (lists included) replaces."""
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _read_preset(path: Path, chain: tuple[Path, ...]) -> dict[str, Any]:
    """The mapping of a preset file, with ``extends: <preset or path>`` resolved: the named preset
    first, this file's keys merged over it (:func:`_merge`)."""
    if path in chain:
        raise ConfigError(f"{path}: 'extends' makes a cycle ({' -> '.join(str(p) for p in (*chain, path))})")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str) or not parent:
        raise ConfigError(f"{path}: 'extends' must name a preset or a YAML file, got {parent!r}")
    base = path.parent / parent if parent.endswith((".yaml", ".yml")) else parent
    try:
        parent_path = resolve_preset_path(base)
    except ConfigError as exc:
        raise ConfigError(f"{path}: extends {parent!r}: {exc}") from None
    return _merge(_read_preset(parent_path, (*chain, path)), data)


def load_config(preset_or_path: str | os.PathLike[str], overrides: Iterable[str] = ()) -> BenchConfig:
    """Load and validate a preset or YAML file, then apply ``key=value`` overrides.

    Raises :class:`ConfigError` naming the file and every bad key (unknown keys are rejected).
    """
    path = resolve_preset_path(preset_or_path)
    data = _read_preset(path, ())
    overrides = list(overrides)
    data = apply_overrides(data, overrides)
    try:
        return BenchConfig.model_validate(data)
    except ValidationError as exc:
        where = f"{path}" + (f" (with overrides {overrides})" if overrides else "")
        raise ConfigError(f"{where}: {format_validation_error(exc)}") from None
