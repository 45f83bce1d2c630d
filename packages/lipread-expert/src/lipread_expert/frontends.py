"""ResNet-18 front-ends of the auto-avsr readers.

- ``Conv3dResNet`` (visual): ``frontend3D`` stem Conv3d(1→c0, k=(5,7,7), s=(1,2,2), p=(2,3,3)) →
  BatchNorm3d → Swish → MaxPool3d((1,3,3), (1,2,2), (0,1,1)), then a per-frame 2D ResNet-18 trunk
  without its stem (BasicBlocks, strides 1/2/2/2) and global average pooling. Input
  (B, T, 1, H, W) → (B, T, c3). Time is preserved.
- ``Conv1dResNet`` (audio, raw 16 kHz waveform): the waveform is truncated to a multiple of 640
  samples; Conv1d(1→c0, k=80, s=4, p=38) → BN → Swish, a 1D ResNet-18 (kernel 3, strides 1/2/2/2)
  and AvgPool1d(20, 20): 4·8·20 = 640 samples per output frame, 25 frames/s. Input (B, S) or
  (B, S, 1) → (B, S // 640, c3).

Channels (c0..c3) are 64/128/256/512 in the official models; presets may narrow them.

The stem's 3D convolution is computed as one 2D convolution over stacked temporal windows
(:class:`FrameStackConv3d`, the same parameters and state_dict keys as ``nn.Conv3d``): on a CPU its
backward pass (which AV guidance needs, through the rendered video) takes 4.9 ms instead of 14.6 ms
for 50 frames of 44 px with 8 channels (2 threads).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .layers import Swish

SAMPLES_PER_FRAME = 640


class BasicBlock2d(nn.Module):
    """ResNet BasicBlock: conv3×3 → BN → Swish → conv3×3 → BN, plus the (downsampled) input, → Swish."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu1 = Swish()
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu2 = Swish()
        self.downsample: nn.Sequential | None = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu2(out + residual)


class BasicBlock1d(nn.Module):
    """1D ResNet BasicBlock with kernel 3 (same structure as :class:`BasicBlock2d`)."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm1d(planes)
        self.relu1 = Swish()
        self.conv2 = nn.Conv1d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm1d(planes)
        self.relu2 = Swish()
        self.downsample: nn.Sequential | None = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(
                nn.Conv1d(inplanes, planes, 1, stride=stride, bias=False), nn.BatchNorm1d(planes)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu2(out + residual)


def _make_layers(
    block: type[nn.Module], inplanes: int, channels: Sequence[int], blocks: Sequence[int]
) -> list[nn.Sequential]:
    layers = []
    for stage, (planes, count) in enumerate(zip(channels, blocks)):
        stride = 1 if stage == 0 else 2
        mods = [block(inplanes, planes, stride)]
        mods += [block(planes, planes, 1) for _ in range(count - 1)]
        layers.append(nn.Sequential(*mods))
        inplanes = planes
    return layers


class ResNetTrunk2d(nn.Module):
    """Four BasicBlock stages (no stem) and global average pooling: (N, c0, H, W) → (N, c3)."""

    def __init__(self, inplanes: int, channels: Sequence[int], blocks: Sequence[int]) -> None:
        super().__init__()
        self.layer1, self.layer2, self.layer3, self.layer4 = _make_layers(
            BasicBlock2d, inplanes, channels, blocks
        )
        self.avgpool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.avgpool(x).flatten(1)


class ResNetTrunk1d(nn.Module):
    """Audio ResNet-18: stem Conv1d(k=80, s=4) + BN + Swish, four stages, AvgPool1d(20, 20)."""

    def __init__(self, channels: Sequence[int], blocks: Sequence[int]) -> None:
        super().__init__()
        c0 = channels[0]
        self.conv1 = nn.Conv1d(1, c0, kernel_size=80, stride=4, padding=38, bias=False)
        self.bn1 = nn.BatchNorm1d(c0)
        self.relu = Swish()
        self.layer1, self.layer2, self.layer3, self.layer4 = _make_layers(
            BasicBlock1d, c0, channels, blocks
        )
        self.avgpool = nn.AvgPool1d(kernel_size=20, stride=20)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.avgpool(x)


class FrameStackConv3d(nn.Conv3d):
    """``nn.Conv3d`` (same parameters, same state_dict) computed as one 2D convolution: each output
    frame's ``kT`` input frames are stacked as channels, and the ``(O, C, kT, kH, kW)`` weight is read
    as ``(O, C·kT, kH, kW)``. The same sums in another order: outputs equal ``nn.Conv3d``'s within
    float rounding. Other configurations (groups, dilation, non-zero padding modes) use ``nn.Conv3d``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (
            self.groups != 1
            or self.dilation != (1, 1, 1)
            or self.padding_mode != "zeros"
            or isinstance(self.padding, str)
            or x.dim() != 5
        ):
            return super().forward(x)
        kt, st, pt = self.kernel_size[0], self.stride[0], self.padding[0]
        b, c = x.shape[:2]
        if pt:
            x = F.pad(x, (0, 0, 0, 0, pt, pt))
        windows = x.unfold(2, kt, st)  # (B, C, T', H, W, kT)
        t = windows.shape[2]
        frames = windows.permute(0, 2, 1, 5, 3, 4).reshape(b * t, c * kt, *x.shape[-2:])
        weight = self.weight.reshape(self.out_channels, c * kt, *self.kernel_size[1:])
        y = F.conv2d(frames, weight, self.bias, self.stride[1:], self.padding[1:])
        return y.reshape(b, t, self.out_channels, *y.shape[-2:]).transpose(1, 2)


class Conv3dResNet(nn.Module):
    """Visual front-end: (B, T, 1, H, W) → (B, T, channels[-1])."""

    def __init__(self, channels: Sequence[int] = (64, 128, 256, 512), blocks: Sequence[int] = (2, 2, 2, 2)):
        super().__init__()
        c0 = channels[0]
        self.output_dim = channels[-1]
        self.frontend3D = nn.Sequential(
            FrameStackConv3d(1, c0, (5, 7, 7), (1, 2, 2), (2, 3, 3), bias=False),
            nn.BatchNorm3d(c0),
            Swish(),
            nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)),
        )
        self.trunk = ResNetTrunk2d(c0, channels, blocks)

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        if video.dim() != 5:
            raise ValueError(f"video must be (B, T, C, H, W), got shape {tuple(video.shape)}")
        b = video.size(0)
        x = self.frontend3D(video.transpose(1, 2))  # (B, C, T, H', W')
        t = x.size(2)
        x = x.transpose(1, 2).reshape(b * t, x.size(1), x.size(3), x.size(4))
        return self.trunk(x).view(b, t, -1)


class Conv1dResNet(nn.Module):
    """Audio front-end on raw 16 kHz waveform: (B, S) or (B, S, 1) → (B, S // 640, channels[-1])."""

    def __init__(self, channels: Sequence[int] = (64, 128, 256, 512), blocks: Sequence[int] = (2, 2, 2, 2)):
        super().__init__()
        self.output_dim = channels[-1]
        self.trunk = ResNetTrunk1d(channels, blocks)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        if audio.dim() == 3:
            if audio.size(-1) != 1:
                raise ValueError(f"audio must be (B, S) or (B, S, 1), got shape {tuple(audio.shape)}")
            audio = audio[..., 0]
        if audio.dim() != 2:
            raise ValueError(f"audio must be (B, S) or (B, S, 1), got shape {tuple(audio.shape)}")
        usable = audio.size(1) // SAMPLES_PER_FRAME * SAMPLES_PER_FRAME
        if usable == 0:
            raise ValueError(
                f"audio has {audio.size(1)} samples; at least {SAMPLES_PER_FRAME} (one 25 fps frame "
                "at 16 kHz) are needed"
            )
        x = self.trunk(audio[:, None, :usable])
        return x.transpose(1, 2)
