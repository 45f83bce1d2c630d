"""Metrics for speech-driven 3D facial animation."""

from ._version import __version__

__all__ = ["__version__"]
