"""Small example animators used by the tutorial ``docs/adding-an-animator.md``."""

from .mlp_animator import ExampleMLPAnimator

__all__ = ["ExampleMLPAnimator"]
