"""talkbench: the benchmark harness that composes the four packages."""

from ._version import __version__

__all__ = ["__version__"]
