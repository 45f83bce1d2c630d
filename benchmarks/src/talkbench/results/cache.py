"""Run-cache keys: a finished run is reused only when config, data and code are all unchanged.

.. math:: \\text{key} = \\operatorname{sha256}\\bigl(\\text{canonical JSON of }
   \\{\\text{config}, \\text{data}, \\text{code}\\}\\bigr)

* ``config``: the **resolved** run config (every default filled in). Canonical JSON sorts mapping
  keys, so key order does not matter; values are compared as JSON, so ``1`` and ``1.0`` differ and
  tuples equal lists.
* ``data``: the dataset content hash (``DatasetRef.content_sha256``).
* ``code``: a code version string; :func:`code_version` builds one from the versions of the project
  packages **and a sha256 of their Python sources**, so editing a metric's code without bumping a
  version still invalidates cached results (asv's benchmark ``version`` rule). A run of a plug-in
  animator (a class outside the project packages) adds :func:`animator_code_version`: its package's
  version and source hash, so editing the plug-in re-runs its cells.

  Subpackages that only present finished results (:data:`PRESENTATION_ONLY`: talkbench's static
  site builder and its regression comparison) are left out of the hash: they read result files and
  never compute one, so editing them cannot change a result and does not invalidate the cache.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .env import package_version

__all__ = [
    "PRESENTATION_ONLY",
    "PROJECT_PACKAGES",
    "animator_code_version",
    "code_version",
    "run_cache_key",
    "source_sha256",
]

#: distributions whose sources make up the code version
PROJECT_PACKAGES: tuple[str, ...] = (
    "talkbench",
    "facial-metrics",
    "mesh-renderer",
    "lipread-expert",
    "facial-animator",
)

#: per distribution, the top-level subpackages left out of its source hash: they only read finished
#: results (the leaderboard site, the smoke-regression comparison) and compute none
PRESENTATION_ONLY: dict[str, tuple[str, ...]] = {"talkbench": ("leaderboard", "regression")}


def _canonical(obj: Any, where: str = "config") -> Any:
    if isinstance(obj, Mapping):
        out = {}
        for k, v in obj.items():
            if not isinstance(k, str):
                raise TypeError(f"{where}: key {k!r} is not a string; configs must be JSON-compatible")
            out[k] = _canonical(v, f"{where}.{k}")
        return out
    if isinstance(obj, (list, tuple)):
        return [_canonical(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    if obj is None or isinstance(obj, (str, bool, int)):
        return obj
    if isinstance(obj, float):
        if obj != obj or obj in (float("inf"), float("-inf")):
            raise ValueError(f"{where}: non-finite value {obj!r} cannot be part of a cache key")
        return obj
    raise TypeError(f"{where}: value of type {type(obj).__name__} is not JSON-compatible")


def animator_code_version(cls: type) -> str:
    """``""`` for a class of the project packages (their code is in :func:`code_version`), else
    ``";plugin:<top-level package>=<version>@<sha12>"`` over the sources of the class's top-level
    package (or of its single module file)."""
    import sys

    top = cls.__module__.split(".")[0]
    if top in {d.replace("-", "_") for d in PROJECT_PACKAGES}:
        return ""
    module = sys.modules.get(cls.__module__)
    try:
        spec = importlib.util.find_spec(top) if top != "__main__" else None
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        sha = source_sha256(Path(next(iter(spec.submodule_search_locations))))
    elif module is not None and getattr(module, "__file__", None):
        sha = hashlib.sha256(Path(str(module.__file__)).read_bytes()).hexdigest()
    else:  # defined interactively: no source to hash, so its runs are never reused
        raise ValueError(
            f"animator class {cls.__module__}.{cls.__qualname__} has no source file; define it in an "
            "importable module so its runs can be cached"
        )
    dists = importlib.metadata.packages_distributions().get(top, []) or [top.replace("_", "-")]
    try:  # an editable install is not in packages_distributions(); its name usually is the module's
        version = importlib.metadata.version(dists[0])
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return f";plugin:{top}={version}@{sha[:12]}"


def run_cache_key(config: Mapping[str, Any], data_hash: str, code_version: str) -> str:
    """sha256 hex digest of the resolved ``config``, the dataset ``data_hash`` and ``code_version``."""
    if not isinstance(data_hash, str) or not data_hash:
        raise ValueError("data_hash must be a non-empty string (the dataset content hash)")
    if not isinstance(code_version, str) or not code_version:
        raise ValueError("code_version must be a non-empty string (see talkbench.results.code_version)")
    payload = {"config": _canonical(config), "data": data_hash, "code": code_version}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def source_sha256(root: Path, exclude: tuple[str, ...] = ()) -> str:
    """sha256 over every ``*.py`` file under ``root``: relative path and bytes, in sorted order,
    leaving out the top-level subfolders named in ``exclude``."""
    h = hashlib.sha256()
    for file in sorted(root.rglob("*.py")):
        rel = file.relative_to(root).parts
        if "__pycache__" in file.parts or (len(rel) > 1 and rel[0] in exclude):
            continue
        h.update(file.relative_to(root).as_posix().encode("utf-8") + b"\0")
        h.update(file.read_bytes() + b"\0")
    return h.hexdigest()


def code_version(packages: tuple[str, ...] = PROJECT_PACKAGES) -> str:
    """``"dist=version@sha12;..."`` for each project package (``@absent`` when it cannot be found);
    the hash leaves out the package's :data:`PRESENTATION_ONLY` subpackages."""
    parts = []
    for dist in packages:
        spec = importlib.util.find_spec(dist.replace("-", "_"))
        if spec is None or not spec.submodule_search_locations:
            parts.append(f"{dist}={package_version(dist)}@absent")
            continue
        root = Path(next(iter(spec.submodule_search_locations)))
        sha = source_sha256(root, exclude=PRESENTATION_ONLY.get(dist, ()))
        parts.append(f"{dist}={package_version(dist)}@{sha[:12]}")
    return ";".join(parts)
