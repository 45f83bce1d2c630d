"""An example animator plug-in: installed as its own package, found through an entry point."""

from .model import GRUAnimator

__all__ = ["GRUAnimator"]
