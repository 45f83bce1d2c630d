"""Speech-driven 3D facial animators: the Animator contract, registry, audio encoders, FaceFormer, losses.

Animator classes are imported lazily: ``get_animator("faceformer")`` imports FaceFormer on first use.
"""

from ._version import __version__
from .base import (
    AUDIO_SAMPLE_RATE,
    RECONSTRUCTION_LOSS,
    Alignment,
    Animator,
    AnimatorInput,
    AnimatorOutput,
    AnimatorSetup,
)
from .checkpoint_io import CheckpointError
from .registry import _REGISTRY as _BUILTIN_ANIMATORS
from .registry import (
    ENTRY_POINT_GROUP,
    UnknownAnimatorError,
    build_animator,
    get_animator,
    list_animators,
    register_animator,
    unregister_animator,
)

# Lazy built-ins of the CodeTalker, conv-regressor and joint audio-text modules (imported on use).
_BUILTIN_ANIMATORS.setdefault("codetalker", "facial_animator.codetalker.predictor:CodeTalker")
_BUILTIN_ANIMATORS.setdefault(
    "conv_regressor", "facial_animator.models.conv_regressor:ConvRegressor"
)
_BUILTIN_ANIMATORS.setdefault(
    "joint_audio_text", "facial_animator.models.joint_audio_text:JointAudioTextAnimator"
)

__all__ = [
    "AUDIO_SAMPLE_RATE",
    "ENTRY_POINT_GROUP",
    "RECONSTRUCTION_LOSS",
    "Alignment",
    "Animator",
    "AnimatorInput",
    "AnimatorOutput",
    "AnimatorSetup",
    "CheckpointError",
    "UnknownAnimatorError",
    "__version__",
    "build_animator",
    "get_animator",
    "list_animators",
    "register_animator",
    "unregister_animator",
]
