"""The auto-avsr lip reader: video (VSR), audio (ASR) or audio-visual (AVSR).

Module names follow auto-avsr @ 8acf580, so ``state_dict()`` keys are those of the official
checkpoints (``encoder.*``, ``aux_encoder.*``, ``fusion.*``, ``decoder.*``, ``ctc.ctc_lo.*``):

- ``video``: ``encoder`` = visual ResNet-18 front-end + conformer; decoder; CTC head.
- ``audio``: ``encoder`` = audio ResNet-18 front-end + conformer; decoder; CTC head.
- ``audiovisual``: ``encoder`` (video) and ``aux_encoder`` (audio), their outputs concatenated and
  fused by ``fusion`` = Linear(2d → h) → BatchNorm1d(h) → ReLU → Linear(h → d); decoder; CTC head.

Token ids: 0 is the CTC blank, ``odim − 1`` is both ``<sos>`` and ``<eos>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from .config import MODALITIES, LipReaderConfig, Modality, get_preset
from .conformer import ConformerEncoder
from .decoder import TransformerDecoder
from .frontends import Conv1dResNet, Conv3dResNet
from .input_spec import InputSpec, PixelRange
from .layers import make_pad_mask_from_lengths
from .loss import LipReadingLoss, add_sos_eos, ctc_loss, label_smoothing_loss, token_accuracy


@dataclass
class EncoderOutput:
    """Encoder features (B, T, d) at 25 frames/s, their valid lengths (B,) and mask (B, 1, T)."""

    features: torch.Tensor
    lengths: torch.Tensor
    mask: torch.Tensor


class FusionMLP(nn.Module):
    """Audio-visual fusion: Linear(2d → h) → BatchNorm1d(h) → ReLU → Linear(h → d)."""

    def __init__(self, in_dim: int, hidden: int, out_dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(in_dim, hidden)
        self.bn1 = nn.BatchNorm1d(hidden)
        self.fc2 = nn.Linear(hidden, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn1(self.fc1(x).transpose(1, 2)).transpose(1, 2)
        return self.fc2(F.relu(x))


class CTCHead(nn.Module):
    """``ctc_lo(dropout(h))``: frame logits over the output vocabulary."""

    def __init__(self, odim: int, size: int, dropout_rate: float) -> None:
        super().__init__()
        self.ctc_lo = nn.Linear(size, odim)
        self.dropout_rate = dropout_rate

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.ctc_lo(F.dropout(h, p=self.dropout_rate, training=self.training))


class LipReader(nn.Module):
    """auto-avsr style reader; see the module docstring.

    Args:
        config: hyper-parameters (see :mod:`lipread_expert.config`).
        modality: ``"video"``, ``"audio"`` or ``"audiovisual"``.
        odim: output vocabulary size including ``<blank>`` (id 0) and ``<eos>`` (id odim − 1);
            use ``tokenizer.vocab_size``.
        input_spec: the input contract checked by :meth:`encode`.
    """

    def __init__(
        self,
        config: LipReaderConfig,
        modality: Modality = "video",
        odim: int = 5049,
        input_spec: InputSpec | None = None,
    ) -> None:
        super().__init__()
        if modality not in MODALITIES:
            raise ValueError(f"modality must be one of {MODALITIES}, got {modality!r}")
        if odim < 3:
            raise ValueError(f"odim must be at least 3 (<blank>, one token, <eos>), got {odim}")
        self.config = config
        self.modality: Modality = modality
        self.odim = odim
        self.sos = self.eos = odim - 1
        self.input_spec = input_spec or InputSpec()
        c = config
        enc_args = (c.adim, c.aheads, c.eunits, c.elayers, c.cnn_module_kernel, c.dropout_rate,
                    c.attention_dropout_rate)
        if modality == "audio":
            front: nn.Module = Conv1dResNet(c.frontend_channels, c.frontend_blocks)
        else:
            front = Conv3dResNet(c.frontend_channels, c.frontend_blocks)
        self.encoder = ConformerEncoder(front, c.frontend_channels[-1], *enc_args)
        self.aux_encoder: ConformerEncoder | None = None
        self.fusion: FusionMLP | None = None
        if modality == "audiovisual":
            aux_front = Conv1dResNet(c.frontend_channels, c.frontend_blocks)
            self.aux_encoder = ConformerEncoder(aux_front, c.frontend_channels[-1], *enc_args)
            self.fusion = FusionMLP(2 * c.adim, c.fusion_hidden, c.adim)
        self.decoder = TransformerDecoder(
            odim, c.ddim, c.dheads, c.dunits, c.dlayers, c.dropout_rate, c.attention_dropout_rate
        )
        self.ctc = CTCHead(odim, c.adim, c.dropout_rate)

    @classmethod
    def from_preset(
        cls, preset: str, modality: Modality = "video", odim: int = 5049,
        input_spec: InputSpec | None = None, **overrides: Any,
    ) -> LipReader:
        """Build a reader from a named preset (``base``, ``small``, ``tiny``, ``nano``)."""
        return cls(get_preset(preset, **overrides), modality, odim, input_spec)

    @property
    def uses_video(self) -> bool:
        return self.modality in ("video", "audiovisual")

    @property
    def uses_audio(self) -> bool:
        return self.modality in ("audio", "audiovisual")

    # ------------------------------------------------------------------ encoding
    def encode(
        self,
        video: torch.Tensor | None = None,
        audio: torch.Tensor | None = None,
        video_lengths: torch.Tensor | None = None,
        audio_lengths: torch.Tensor | None = None,
        *,
        fps: float | None = None,
        sample_rate: int | None = None,
        convert: bool = False,
        pixel_range: PixelRange = "normalized",
    ) -> EncoderOutput:
        """Encode a batch. ``video``: (B, T, 1, 88, 88) normalised frames at 25 fps; ``audio``:
        (B, S) raw 16 kHz waveform (layer-normalised here over each utterance's valid samples).

        Input that does not match :attr:`input_spec` raises ``ValueError`` unless ``convert=True``,
        which converts the video (grey, crop/resize, time resampling from ``fps``, and
        normalisation when ``pixel_range="unit"``) and, for the audio-visual model, pads or trims
        the audio to 640 samples per video frame. ``fps`` and ``sample_rate`` default to the spec's.
        """
        spec = self.input_spec
        if self.uses_video:
            if video is None:
                raise ValueError(f"the {self.modality} lip reader needs video (B, T, 1, 88, 88)")
            if convert:
                t_in = video.size(1)
                video = spec.convert_video(video, fps=fps, pixel_range=pixel_range)
                if video_lengths is not None and video.size(1) != t_in:
                    scale = video.size(1) / t_in
                    video_lengths = (video_lengths.float() * scale).floor().long().clamp(1, video.size(1))
            elif pixel_range != "normalized":
                raise ValueError("pixel_range='unit' needs convert=True (the pixels get normalised)")
            spec.check_video(video, fps=None if convert else fps)
            video_lengths = self._lengths(
                video_lengths, video.size(0), video.size(1), "video_lengths", video.device
            )
        elif video is not None:
            raise ValueError("the audio-only lip reader takes no video; pass audio=")
        if self.uses_audio:
            if audio is None:
                raise ValueError(f"the {self.modality} lip reader needs 16 kHz audio (B, S)")
            spec.check_audio(audio, sample_rate=sample_rate)
            if audio.dim() == 3:
                audio = audio[..., 0]
            spf = spec.samples_per_frame
            if self.modality == "audiovisual":
                assert video is not None and video_lengths is not None
                want = video.size(1) * spf
                if audio.size(1) // spf != video.size(1):
                    if not convert:
                        raise ValueError(
                            f"audio has {audio.size(1)} samples ({audio.size(1) // spf} frames of {spf}) "
                            f"but the video has {video.size(1)} frames; give {want} samples or pass "
                            "convert=True to pad/trim the audio"
                        )
                    audio = F.pad(audio, (0, max(0, want - audio.size(1))))[:, :want]
                    if audio_lengths is not None:
                        audio_lengths = torch.as_tensor(audio_lengths).clamp(max=want)
                if audio_lengths is None:
                    audio_lengths = video_lengths * spf
            audio_lengths = self._lengths(
                audio_lengths, audio.size(0), audio.size(1), "audio_lengths", audio.device
            )
            audio = spec.prepare_audio(audio, audio_lengths)
        elif audio is not None:
            raise ValueError("the video-only lip reader takes no audio; pass video=")

        if self.modality == "audio":
            assert audio is not None and audio_lengths is not None
            lengths = torch.div(audio_lengths, spec.samples_per_frame, rounding_mode="floor")
            t = audio.size(1) // spec.samples_per_frame
            mask = make_pad_mask_from_lengths(lengths, t).unsqueeze(1)
            return EncoderOutput(self.encoder(audio, mask), lengths, mask)
        assert video is not None and video_lengths is not None
        mask = make_pad_mask_from_lengths(video_lengths, video.size(1)).unsqueeze(1)
        feats = self.encoder(video, mask)
        if self.modality == "audiovisual":
            assert self.aux_encoder is not None and self.fusion is not None and audio_lengths is not None
            a_len = torch.div(audio_lengths, spec.samples_per_frame, rounding_mode="floor")
            a_mask = make_pad_mask_from_lengths(a_len, audio.size(1) // spec.samples_per_frame).unsqueeze(1)
            feats = self.fusion(torch.cat([feats, self.aux_encoder(audio, a_mask)], dim=-1))
        return EncoderOutput(feats, video_lengths, mask)

    @staticmethod
    def _lengths(
        lengths: torch.Tensor | None, batch: int, full: int, name: str, device: torch.device
    ) -> torch.Tensor:
        if lengths is None:
            return torch.full((batch,), full, dtype=torch.long, device=device)
        lengths = torch.as_tensor(lengths, dtype=torch.long, device=device)
        if lengths.shape != (batch,):
            raise ValueError(f"{name} must have shape ({batch},), got {tuple(lengths.shape)}")
        if bool((lengths < 1).any()) or bool((lengths > full).any()):
            raise ValueError(f"{name} must lie in [1, {full}], got {lengths.tolist()}")
        return lengths

    # ------------------------------------------------------------------ heads and loss
    def ctc_log_probs(self, enc: EncoderOutput) -> torch.Tensor:
        """Frame log-probabilities (B, T, odim) of the CTC head."""
        return torch.log_softmax(self.ctc(enc.features), dim=-1)

    def loss_from_encoding(self, enc: EncoderOutput, targets: torch.Tensor) -> LipReadingLoss:
        """Joint CTC / attention loss for targets (B, L) padded with −1 (no ``<eos>`` appended)."""
        if targets.size(0) != enc.features.size(0):
            raise ValueError(f"targets have batch {targets.size(0)}, features {enc.features.size(0)}")
        targets = targets.to(enc.features.device)
        ctc = ctc_loss(self.ctc(enc.features), enc.lengths.to(enc.features.device), targets)
        ys_in, ys_out = add_sos_eos(targets, self.sos, self.eos)
        logits = self.decoder(ys_in, enc.features, enc.mask)
        att = label_smoothing_loss(logits, ys_out, self.config.lsm_weight)
        alpha = self.config.mtlalpha
        total = alpha * ctc + (1 - alpha) * att
        return LipReadingLoss(total=total, ctc=ctc, att=att, accuracy=token_accuracy(logits.detach(), ys_out))

    def forward(
        self,
        targets: torch.Tensor,
        video: torch.Tensor | None = None,
        audio: torch.Tensor | None = None,
        video_lengths: torch.Tensor | None = None,
        audio_lengths: torch.Tensor | None = None,
        **encode_kwargs: Any,
    ) -> LipReadingLoss:
        """Encode and return the joint loss (see :meth:`encode` for the inputs)."""
        enc = self.encode(video, audio, video_lengths, audio_lengths, **encode_kwargs)
        return self.loss_from_encoding(enc, targets)
