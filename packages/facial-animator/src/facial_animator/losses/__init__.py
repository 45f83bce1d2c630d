"""Vertex-space losses: MSE, lip-vertex MSE, velocity, phonetic context-aware loss."""

from .phonetic_context import (
    PhoneticContextAwareLoss,
    motion_context_weights,
    viseme_sequence,
    viseme_transition_weights,
    vocaset_scale_uniformity,
    weighted_frame_mse,
    window_mean,
)
from .reconstruction import lip_vertex_mse, velocity_mse, vertex_mse

__all__ = [
    "PhoneticContextAwareLoss",
    "lip_vertex_mse",
    "motion_context_weights",
    "velocity_mse",
    "vertex_mse",
    "viseme_sequence",
    "viseme_transition_weights",
    "vocaset_scale_uniformity",
    "weighted_frame_mse",
    "window_mean",
]
