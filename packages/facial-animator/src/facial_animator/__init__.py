"""Speech-driven 3D facial animators."""

from ._version import __version__

__all__ = ["__version__"]
