"""Paper-reported numbers (``reported_numbers.json``), shown on the leaderboard as ``reported`` rows.

Each entry is one number as printed in a paper (already divided by its report scale), with the
metric variant it was computed with, its source and a verification tag from the project's reference
notes (``[third-party: ...]``, ``[unverified]``, ...). Reported numbers come from the papers' own
training runs and are never mixed into the statistics of reproduced runs.
"""

from __future__ import annotations

import json
import math
from importlib import resources
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from facial_metrics.protocols import get_protocol, list_protocols

from ..results.schema import MetricName

__all__ = ["REPORTED_FILE", "ReportedNumber", "load_reported"]

REPORTED_FILE = "reported_numbers.json"


class ReportedNumber(BaseModel):
    """One paper-reported metric value of one method under one protocol."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    protocol: str
    method: Annotated[str, Field(min_length=1)]
    metric: MetricName
    value: float
    report_scale: float = Field(gt=0)
    variant: Annotated[str, Field(min_length=1)]
    source: Annotated[str, Field(min_length=1)]
    verification: Annotated[str, Field(min_length=1)]

    @model_validator(mode="after")
    def _matches_protocol(self) -> ReportedNumber:
        if self.protocol not in list_protocols():
            raise ValueError(f"unknown protocol {self.protocol!r}")
        expected = float(get_protocol(self.protocol).report_scales[self.metric])
        if not math.isclose(self.report_scale, expected, rel_tol=1e-12):
            raise ValueError(
                f"{self.method} {self.metric}: report_scale {self.report_scale:g} is not protocol "
                f"{self.protocol!r}'s {expected:g}"
            )
        return self

    @property
    def raw_value(self) -> float:
        """The value in the protocol's raw unit (``value × report_scale``)."""
        return self.value * self.report_scale


class _ReportedFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str
    entries: list[ReportedNumber]


def load_reported(text: str | None = None) -> list[ReportedNumber]:
    """Entries of the packaged ``reported_numbers.json`` (or of ``text``), validated.

    Raises ``ValueError`` naming the file for invalid entries or a duplicate (protocol, method, metric).
    """
    if text is None:
        text = resources.files(__package__).joinpath(REPORTED_FILE).read_text(encoding="utf-8")
    try:
        entries = _ReportedFile.model_validate(json.loads(text)).entries
    except (ValueError, ValidationError) as exc:
        raise ValueError(f"{REPORTED_FILE}: {exc}") from None
    seen: set[tuple[str, str, str]] = set()
    for e in entries:
        key = (e.protocol, e.method, e.metric)
        if key in seen:
            raise ValueError(f"{REPORTED_FILE}: duplicate entry {key}")
        seen.add(key)
    return entries
