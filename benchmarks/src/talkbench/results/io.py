"""Atomic writing and validated reading of run records (``result.json``, ``per_sample.jsonl``, ``env.json``).

Every writer goes through :func:`atomic_write_bytes`: the bytes land in a temporary file in the
destination folder, are flushed and fsynced, then ``os.replace`` moves them over the destination, so a
reader sees either the old file or the new one, never a partial write.

Every reader raises :class:`ResultFileError`, whose message starts with the file path, for: invalid
JSON, ``NaN`` / ``Infinity`` literals, an unknown ``schema_version``, missing or unknown fields and
values that fail the schema.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from .schema import SUPPORTED_SCHEMA_VERSIONS, EnvInfo, PerSampleRecord, RunResult

__all__ = [
    "ResultFileError",
    "atomic_write_bytes",
    "atomic_write_text",
    "dumps_json",
    "load_config",
    "load_env",
    "load_per_sample",
    "load_result",
    "write_config",
    "write_env",
    "write_per_sample",
    "write_result",
]


class ResultFileError(ValueError):
    """A run record that cannot be read or fails validation; ``path`` names the file."""

    def __init__(self, path: Path | str, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


def atomic_write_bytes(path: Path | str, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temp file in the same folder + fsync + ``os.replace``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: Path | str, text: str) -> Path:
    """:func:`atomic_write_bytes` of UTF-8 ``text``."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def dumps_json(obj: Any) -> str:
    """Canonical JSON: sorted keys, two-space indent, UTF-8 kept, ``NaN`` refused, trailing newline."""
    return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a valid number (metrics must be finite)")


def _loads(path: Path, text: str) -> Any:
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        raise ResultFileError(path, f"invalid JSON: {exc}") from None


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ResultFileError(path, "file not found") from None
    except UnicodeDecodeError as exc:
        raise ResultFileError(path, f"not UTF-8 text: {exc}") from None


def _format_errors(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        lines.append(f"{where}: {err['msg']}")
    return "; ".join(lines)


def _validate(path: Path, model: type[BaseModel], data: Any, what: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ResultFileError(path, f"invalid {what}: {_format_errors(exc)}") from None


def write_result(path: Path | str, result: RunResult) -> Path:
    """Write ``result.json`` atomically (canonical JSON)."""
    return atomic_write_text(path, dumps_json(result.model_dump(mode="json")))


def load_result(path: Path | str) -> RunResult:
    """Read and validate a ``result.json``; :class:`ResultFileError` on any problem."""
    path = Path(path)
    data = _loads(path, _read_text(path))
    if not isinstance(data, dict):
        raise ResultFileError(path, f"expected a JSON object, got {type(data).__name__}")
    if "schema_version" not in data:
        raise ResultFileError(path, "missing 'schema_version'")
    version = data["schema_version"]
    if isinstance(version, bool) or version not in SUPPORTED_SCHEMA_VERSIONS:
        raise ResultFileError(
            path,
            f"unknown schema_version {version!r}; this talkbench reads {list(SUPPORTED_SCHEMA_VERSIONS)} "
            "(upgrade talkbench to read newer results)",
        )
    return _validate(path, RunResult, data, "result")


def write_per_sample(path: Path | str, records: Iterable[PerSampleRecord]) -> Path:
    """Write ``per_sample.jsonl`` atomically: one compact JSON object per line, keys sorted."""
    lines = [
        json.dumps(r.model_dump(mode="json"), sort_keys=True, ensure_ascii=False, allow_nan=False)
        for r in records
    ]
    return atomic_write_text(path, "".join(line + "\n" for line in lines))


def load_per_sample(path: Path | str) -> list[PerSampleRecord]:
    """Read and validate every line of a ``per_sample.jsonl``; errors name the file and the line."""
    path = Path(path)
    records: list[PerSampleRecord] = []
    for lineno, line in enumerate(_read_text(path).splitlines(), start=1):
        if not line.strip():
            raise ResultFileError(path, f"line {lineno}: empty line")
        try:
            data = json.loads(line, parse_constant=_reject_constant)
        except ValueError as exc:
            raise ResultFileError(path, f"line {lineno}: invalid JSON: {exc}") from None
        try:
            records.append(PerSampleRecord.model_validate(data))
        except ValidationError as exc:
            raise ResultFileError(path, f"line {lineno}: {_format_errors(exc)}") from None
    if not records:
        raise ResultFileError(path, "no samples")
    keys = [(r.seed, r.sample_id, r.style) for r in records]
    if len(set(keys)) != len(keys):
        dup = next(k for k in keys if keys.count(k) > 1)
        raise ResultFileError(path, f"duplicate sample (seed, sample_id, style) = {dup}")
    return records


def write_env(path: Path | str, env: EnvInfo) -> Path:
    """Write ``env.json`` atomically."""
    return atomic_write_text(path, dumps_json(env.model_dump(mode="json")))


def load_env(path: Path | str) -> EnvInfo:
    """Read and validate an ``env.json``."""
    path = Path(path)
    return _validate(path, EnvInfo, _loads(path, _read_text(path)), "env.json")


def write_config(path: Path | str, config: dict[str, Any]) -> Path:
    """Write the resolved config as ``config.yaml`` atomically (keys sorted)."""
    return atomic_write_text(path, yaml.safe_dump(config, sort_keys=True, allow_unicode=True))


def load_config(path: Path | str) -> dict[str, Any]:
    """Read a ``config.yaml`` (safe loader); it must hold a mapping."""
    path = Path(path)
    try:
        data = yaml.safe_load(_read_text(path))
    except yaml.YAMLError as exc:
        raise ResultFileError(path, f"invalid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ResultFileError(path, f"expected a mapping, got {type(data).__name__}")
    return data
