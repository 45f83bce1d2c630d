"""Model configurations and size presets.

The ``base`` preset is the official auto-avsr ``resnet_conformer`` configuration (hydra
``configs/model/*_backbone/resnet_conformer.yaml``): a 12-layer, 768-wide conformer encoder with
12 heads and 3072 feed-forward units, a 6-layer transformer decoder and, for the audio-visual
model, a fusion MLP with 8192 hidden units. The smaller presets keep the same module layout
(and therefore the same state_dict key names) with narrower front-ends and fewer, thinner layers
so that they train on a CPU.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

Modality = Literal["video", "audio", "audiovisual"]
MODALITIES: tuple[str, ...] = ("video", "audio", "audiovisual")

#: Output size of the official models: ``<blank>`` + 5047 SentencePiece units + ``<eos>``.
OFFICIAL_ODIM = 5049


@dataclass(frozen=True)
class LipReaderConfig:
    """Hyper-parameters of a lip reader (names follow the auto-avsr / espnet configuration).

    ``frontend_channels`` are the output channels of the four ResNet-18 stages (the official
    front-ends use 64/128/256/512); ``frontend_blocks`` the number of BasicBlocks per stage.
    """

    adim: int = 768
    aheads: int = 12
    eunits: int = 3072
    elayers: int = 12
    cnn_module_kernel: int = 31
    ddim: int = 768
    dheads: int = 12
    dunits: int = 3072
    dlayers: int = 6
    frontend_channels: tuple[int, int, int, int] = (64, 128, 256, 512)
    frontend_blocks: tuple[int, int, int, int] = (2, 2, 2, 2)
    fusion_hidden: int = 8192
    dropout_rate: float = 0.1
    attention_dropout_rate: float = 0.1
    mtlalpha: float = 0.1
    lsm_weight: float = 0.1
    ctc_weight: float = 0.1
    beam_size: int = 40

    def __post_init__(self) -> None:
        if self.adim % self.aheads:
            raise ValueError(f"adim ({self.adim}) must be divisible by aheads ({self.aheads})")
        if self.ddim % self.dheads:
            raise ValueError(f"ddim ({self.ddim}) must be divisible by dheads ({self.dheads})")
        if self.cnn_module_kernel % 2 == 0:
            raise ValueError(f"cnn_module_kernel must be odd, got {self.cnn_module_kernel}")
        if self.ddim != self.adim:
            raise ValueError(
                f"ddim ({self.ddim}) must equal adim ({self.adim}): the official models have no "
                "projection between encoder and decoder"
            )
        for name in ("mtlalpha", "lsm_weight", "ctc_weight"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")

    def to_dict(self) -> dict[str, Any]:
        """Plain-python dict (lists instead of tuples), safe for ``weights_only`` checkpoints."""
        out = asdict(self)
        out["frontend_channels"] = list(self.frontend_channels)
        out["frontend_blocks"] = list(self.frontend_blocks)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LipReaderConfig:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown LipReaderConfig fields: {unknown}")
        data = dict(data)
        for key in ("frontend_channels", "frontend_blocks"):
            if key in data:
                data[key] = tuple(data[key])
        return cls(**data)


PRESETS: dict[str, LipReaderConfig] = {
    # The official auto-avsr model (VSR 250,383,410 parameters with odim 5049).
    "base": LipReaderConfig(),
    # A mid-size model for a GPU or a patient CPU.
    "small": LipReaderConfig(
        adim=256, aheads=4, eunits=1024, elayers=6, cnn_module_kernel=15, ddim=256, dheads=4,
        dunits=1024, dlayers=3, frontend_channels=(32, 64, 128, 256), fusion_hidden=1024,
    ),
    # Trains on a CPU in minutes: the synthetic-corpus reader and tests.
    "tiny": LipReaderConfig(
        adim=96, aheads=4, eunits=256, elayers=3, cnn_module_kernel=15, ddim=96, dheads=4,
        dunits=256, dlayers=2, frontend_channels=(8, 16, 32, 64), frontend_blocks=(1, 1, 1, 1),
        fusion_hidden=192,
    ),
    # The smallest model with every component; for unit tests and smoke runs.
    "nano": LipReaderConfig(
        adim=32, aheads=2, eunits=64, elayers=2, cnn_module_kernel=7, ddim=32, dheads=2,
        dunits=64, dlayers=1, frontend_channels=(4, 8, 8, 16), frontend_blocks=(1, 1, 1, 1),
        fusion_hidden=48,
    ),
}


def get_preset(name: str, **overrides: Any) -> LipReaderConfig:
    """The configuration of preset ``name`` with optional field overrides."""
    if name not in PRESETS:
        raise KeyError(f"unknown lip-reader preset {name!r}; choose one of {sorted(PRESETS)}")
    return replace(PRESETS[name], **overrides) if overrides else PRESETS[name]
