"""Progress-bar policy shared by the CLI and long-running helpers."""

from __future__ import annotations

import os
import sys

__all__ = ["progress_enabled"]


def progress_enabled() -> bool:
    """True unless ``CI`` is set to a true value or stderr is not a terminal."""
    if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
        return False
    return sys.stderr.isatty()
