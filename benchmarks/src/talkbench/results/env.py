"""Package versions, hardware and environment info recorded with every run."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

from .schema import REQUIRED_PACKAGES, EnvInfo, Hardware

__all__ = [
    "NOT_INSTALLED",
    "collect_env",
    "collect_hardware",
    "git_state",
    "package_version",
    "package_versions",
]

NOT_INSTALLED = "not installed"

#: environment variables that change numerics or device placement, recorded in env.json when set
RECORDED_ENV_VARS: tuple[str, ...] = (
    "CUDA_VISIBLE_DEVICES",
    "CUBLAS_WORKSPACE_CONFIG",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "PYTHONHASHSEED",
    "HF_HUB_OFFLINE",
)

_VERSION_RE = re.compile(r"""^__version__\s*=\s*["']([^"']+)["']""", re.MULTILINE)


def package_version(dist: str) -> str:
    """Version of distribution ``dist`` from ``importlib.metadata``.

    A project package run from a source tree (importable, no metadata) reports the version in its
    ``_version.py`` as ``"<version> (source tree)"``; anything else absent is ``"not installed"``.
    """
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        pass
    module = dist.replace("-", "_")
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        version_file = Path(next(iter(spec.submodule_search_locations))) / "_version.py"
        if version_file.is_file():
            match = _VERSION_RE.search(version_file.read_text(encoding="utf-8"))
            if match:
                return f"{match.group(1)} (source tree)"
    return NOT_INSTALLED


def package_versions(extra: tuple[str, ...] = ()) -> dict[str, str]:
    """Versions of :data:`~talkbench.results.schema.REQUIRED_PACKAGES` plus ``extra`` distributions."""
    return {dist: package_version(dist) for dist in (*REQUIRED_PACKAGES, *extra)}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _gpu_name() -> str | None:
    torch = sys.modules.get("torch")
    if torch is None:
        try:
            import torch
        except ImportError:
            return None
    if torch.cuda.is_available():
        return str(torch.cuda.get_device_name(0))
    return None


def collect_hardware() -> Hardware:
    """CPU model, logical core count and the first CUDA device's name (``None`` without one)."""
    return Hardware(cpu=_cpu_model(), cores=os.cpu_count() or 1, gpu=_gpu_name())


def git_state(cwd: Path | str | None = None) -> tuple[str | None, bool | None]:
    """``(HEAD sha, has uncommitted changes)`` of the git work tree at ``cwd``; ``(None, None)`` outside one
    or without git."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd, capture_output=True, text=True, timeout=30, check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None, None
    return sha or None, bool(status.strip())


def collect_env(cwd: Path | str | None = None) -> EnvInfo:
    """Everything ``env.json`` records about the running interpreter, machine and checkout (``cwd``)."""
    sha, dirty = git_state(cwd)
    threads: int | None = None
    cuda_available = False
    cuda_version: str | None = None
    try:
        import torch

        threads = torch.get_num_threads()
        cuda_available = bool(torch.cuda.is_available())
        cuda_version = torch.version.cuda
    except ImportError:
        pass
    return EnvInfo(
        python=sys.version.split()[0],
        platform=platform.platform(),
        versions=package_versions(extra=("transformers", "jiwer", "scipy", "pydantic")),
        hardware=collect_hardware(),
        torch_num_threads=threads,
        cuda_available=cuda_available,
        cuda_version=cuda_version,
        env_vars={k: os.environ[k] for k in RECORDED_ENV_VARS if k in os.environ},
        git_sha=sha,
        git_dirty=dirty,
        argv=list(sys.argv),
    )
