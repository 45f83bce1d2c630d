"""talkbench: the benchmark harness composing facial-metrics, mesh-renderer, lipread-expert and
facial-animator."""

from ._version import __version__

__all__ = ["__version__"]
