"""Building blocks shared by the FaceFormer-family animators."""

from .masks import alibi_slopes, alignment_mask, periodic_causal_bias
from .positional import PeriodicPositionalEncoding, periodic_sinusoid

__all__ = [
    "PeriodicPositionalEncoding",
    "alibi_slopes",
    "alignment_mask",
    "periodic_causal_bias",
    "periodic_sinusoid",
]
