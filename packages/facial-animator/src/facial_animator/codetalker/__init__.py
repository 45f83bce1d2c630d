"""CodeTalker (Xing et al., CVPR 2023): stage-1 motion VQ-autoencoder and stage-2 code predictor.

``CodeTalker`` (the stage-2 animator) is imported lazily because it pulls in the audio encoders.
"""

from __future__ import annotations

from typing import Any

from .checkpoints import load_stage1_state, read_state_dict
from .config import VQConfig
from .quantizer import QuantizerOutput, VectorQuantizer
from .vqvae import VQAutoEncoder, VQOutput, stage1_loss

__all__ = [
    "CODETALKER_PRESETS",
    "CodeTalker",
    "QuantizerOutput",
    "VQAutoEncoder",
    "VQConfig",
    "VQOutput",
    "VectorQuantizer",
    "load_stage1_state",
    "read_state_dict",
    "stage1_loss",
]


def __getattr__(name: str) -> Any:
    if name in ("CodeTalker", "CODETALKER_PRESETS", "CodeTalkerPreset"):
        from . import predictor

        return getattr(predictor, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
