"""Loading official auto-avsr checkpoints (both key layouts) with a clear mismatch report.

The native layout of :class:`~lipread_expert.model.LipReader` is that of auto_avsr commit
``8acf580`` (``encoder.frontend.*``, ``encoder.embed.0.*``, ``encoder.encoders.N.*``,
``encoder.after_norm.*``, ``aux_encoder.*``, ``fusion.*``, ``decoder.*``, ``ctc.ctc_lo.*``).
The current auto_avsr main (``182b628``, video and audio models only) differs by two prefixes:
``frontend.`` ↔ ``encoder.frontend.`` and ``proj_encoder.`` ↔ ``encoder.embed.0.``
(``methods.md`` §2.8). Legacy espnet names handled by the official load-time hooks are renamed
too: ``input_layer.`` → ``embed.``, an encoder's top-level ``norm.`` → ``after_norm.`` and the
decoder's ``output_norm.`` → ``after_norm.``. Lightning checkpoints (``{"state_dict": …}`` with
``model.`` prefixes) are unwrapped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch
from torch import nn

from .checkpoint import CheckpointError, torch_load_file

Layout = Literal["auto", "8acf580", "main"]
LAYOUTS = ("8acf580", "main")


@dataclass
class LoadReport:
    """Outcome of :func:`load_official_state_dict`."""

    layout: str
    loaded: int
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    shape_mismatched: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)
    renamed: int = 0

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.shape_mismatched)

    def __str__(self) -> str:
        lines = [f"layout {self.layout}: {self.loaded} tensors loaded, {self.renamed} keys renamed"]
        if self.missing:
            lines.append(f"missing ({len(self.missing)}): " + ", ".join(self.missing[:20]))
        if self.unexpected:
            lines.append(f"unexpected ({len(self.unexpected)}): " + ", ".join(self.unexpected[:20]))
        for key, got, want in self.shape_mismatched[:20]:
            lines.append(f"shape mismatch {key}: checkpoint {got}, model {want}")
        if len(self.shape_mismatched) > 20:
            lines.append(f"… and {len(self.shape_mismatched) - 20} more shape mismatches")
        return "\n".join(lines)


def detect_layout(state_dict: Mapping[str, torch.Tensor]) -> str:
    """``"main"`` when the keys use the current auto_avsr prefixes, else ``"8acf580"``."""
    keys = list(state_dict)
    if any(k.startswith(("frontend.", "proj_encoder.")) for k in keys):
        return "main"
    return "8acf580"


def _rename_legacy(key: str) -> str:
    for top in ("encoder.", "aux_encoder."):
        if key.startswith(top + "input_layer."):
            return top + "embed." + key[len(top + "input_layer.") :]
        if key.startswith(top + "norm."):
            return top + "after_norm." + key[len(top + "norm.") :]
    if key.startswith("decoder.output_norm."):
        return "decoder.after_norm." + key[len("decoder.output_norm.") :]
    return key


def to_native(
    state_dict: Mapping[str, torch.Tensor], layout: Layout = "auto"
) -> tuple[dict[str, torch.Tensor], str, int]:
    """Rename ``state_dict`` keys to the native (8acf580) layout; returns (dict, layout, #renamed)."""
    if layout == "auto":
        layout = detect_layout(state_dict)  # type: ignore[assignment]
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be 'auto' or one of {LAYOUTS}, got {layout!r}")
    out: dict[str, torch.Tensor] = {}
    renamed = 0
    for key, value in state_dict.items():
        new = key
        if layout == "main":
            if key.startswith("frontend."):
                new = "encoder." + key
            elif key.startswith("proj_encoder."):
                new = "encoder.embed.0." + key[len("proj_encoder.") :]
        new = _rename_legacy(new)
        if new in out:
            raise ValueError(f"checkpoint keys collide after renaming: {key!r} → {new!r}")
        renamed += new != key
        out[new] = value
    return out, layout, renamed


def to_main_layout(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename native (8acf580) keys to the current auto_avsr main layout (video/audio only)."""
    if any(k.startswith(("aux_encoder.", "fusion.")) for k in state_dict):
        raise ValueError("the auto_avsr main layout has no audio-visual model (aux_encoder/fusion keys)")
    out = {}
    for key, value in state_dict.items():
        if key.startswith("encoder.frontend."):
            key = key[len("encoder.") :]
        elif key.startswith("encoder.embed.0."):
            key = "proj_encoder." + key[len("encoder.embed.0.") :]
        out[key] = value
    return out


def unwrap_checkpoint(obj: object, source: str = "checkpoint") -> dict[str, torch.Tensor]:
    """The tensor dict inside a plain or Lightning checkpoint (``state_dict`` + ``model.`` prefix)."""
    if isinstance(obj, Mapping) and "state_dict" in obj and isinstance(obj["state_dict"], Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{source}: expected a mapping of parameter names to tensors")
    sd = dict(obj)
    if sd and all(k.startswith("model.") for k in sd):
        sd = {k[len("model.") :]: v for k, v in sd.items()}
    return sd


def load_official_state_dict(
    model: nn.Module,
    state_dict: Mapping[str, torch.Tensor],
    layout: Layout = "auto",
    strict: bool = True,
    assign: bool = False,
) -> LoadReport:
    """Load an official (or native) state_dict into ``model`` and report every mismatch.

    Tensors whose names and shapes match are loaded; missing, unexpected and shape-mismatched keys
    are listed in the report. With ``strict=True`` (default) any mismatch raises ``ValueError``
    with the report and nothing is loaded. ``assign=True`` is passed to ``load_state_dict``; it is
    turned on by itself for a model built on the ``meta`` device (whose tensors would otherwise stay
    on ``meta``); such a model is refused (``ValueError``, nothing loaded) when it has non-persistent
    buffers on ``meta``, which no checkpoint can fill. With ``strict=False`` the tensors listed as
    missing or mis-shaped in the report stay on ``meta``.
    """
    native, used_layout, renamed = to_native(state_dict, layout)
    if used_layout == "main" and getattr(model, "modality", None) == "audiovisual":
        raise ValueError(
            "the auto_avsr main layout holds video or audio models only; an audio-visual checkpoint "
            "uses the 8acf580 layout (aux_encoder.*, fusion.*)"
        )
    own = model.state_dict()
    missing = sorted(k for k in own if k not in native)
    unexpected = sorted(k for k in native if k not in own)
    mismatched = [
        (k, tuple(v.shape), tuple(own[k].shape))
        for k, v in native.items()
        if k in own and tuple(v.shape) != tuple(own[k].shape)
    ]
    bad = {k for k, _, _ in mismatched}
    loadable = {k: v for k, v in native.items() if k in own and k not in bad}
    report = LoadReport(used_layout, len(loadable), missing, unexpected, mismatched, renamed)
    if strict and not report.ok:
        raise ValueError(f"checkpoint does not match the model:\n{report}")
    on_meta = [n for n, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta]
    if on_meta:
        # a meta tensor the checkpoint does not fill stays without values: allowed only where the
        # report says so (strict=False with missing or mis-shaped keys), refused otherwise
        reported = set(missing) | bad
        left = sorted(n for n in on_meta if n not in loadable and n not in reported)
        if left:
            raise ValueError(
                f"the model was built on the meta device and {len(left)} of its tensors are not in its "
                f"state_dict (non-persistent buffers), so no checkpoint can fill them: {left[:8]}; build "
                "the model on a real device (e.g. torch.device('cpu')) and load the checkpoint into it"
            )
        assign = True  # without it load_state_dict copies into nothing and every tensor stays on meta
    model.load_state_dict(loadable, strict=False, assign=assign)
    return report


def load_official_checkpoint(
    model: nn.Module, path: str | Path, layout: Layout = "auto", strict: bool = True
) -> LoadReport:
    """Read an official ``.pth`` with ``torch.load(weights_only=True)`` and load it (see above)."""
    obj = torch_load_file(path, "an auto-avsr checkpoint (a state_dict of tensors)")
    return load_official_state_dict(model, unwrap_checkpoint(obj, str(path)), layout, strict)
