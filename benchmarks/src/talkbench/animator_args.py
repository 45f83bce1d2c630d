"""A preset's animator arguments checked against the animator before any work starts.

``kwargs`` go to :meth:`facial_animator.Animator.from_setup` (checked against
:meth:`~facial_animator.Animator.accepted_kwargs`); ``vq`` becomes the harness's
``facial_animator.codetalker.VQConfig(in_dim=..., **vq)`` (checked against its fields).
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["check_animator_args"]


def _refuse_unknown(label: str, given: Iterable[str], known: Iterable[str], what: str, listing: str) -> None:
    """``ValueError`` naming the first key of ``given`` not in ``known``, with a "Did you mean" hint."""
    known = sorted(known)
    for key in sorted(set(given) - set(known)):
        near = difflib.get_close_matches(key, known, n=1)
        hint = f" Did you mean {near[0]!r}?" if near else ""
        raise ValueError(f"{label}.{key}: not {what}.{hint} Its {listing}: {', '.join(known)}")


def check_animator_args(registry: str, kwargs: Mapping[str, Any], vq: Mapping[str, Any] | None) -> None:
    """Raise ``ValueError`` for a ``kwargs`` key the animator ``registry`` does not accept, a ``vq`` section
    for an animator without ``vq_config``, or a ``vq`` key that is not a ``VQConfig`` field."""
    from facial_animator import get_animator

    cls = get_animator(registry)
    where = f"{cls.__module__}.{cls.__qualname__}"
    accepted = cls.accepted_kwargs()
    if accepted is None:
        return  # forwards what it does not name: construction itself is the check
    what = f"an argument of animator {registry!r} ({where})"
    _refuse_unknown("kwargs", kwargs, accepted, what, "arguments")
    if vq is None:
        return
    if "vq_config" not in accepted:
        raise ValueError(f"vq: animator {registry!r} ({where}) has no stage-1 VQ config (vq_config)")
    from facial_animator.codetalker import VQConfig

    fields = {f.name for f in dataclasses.fields(VQConfig)} - {"in_dim"}
    _refuse_unknown("vq", vq, fields, "a field of VQConfig", "fields")
