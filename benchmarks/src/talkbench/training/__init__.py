"""Training: stage 1 (lip readers on ground-truth renders), stage 2 (animators with guidance),
atomic resumable checkpoints and multi-GPU (``torchrun``) support."""

from .checkpoint import load_training_state, save_training_state

__all__ = ["load_training_state", "save_training_state"]
