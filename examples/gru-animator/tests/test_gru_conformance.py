"""The conformance kit of facial_animator on the example plug-in, found through its entry point."""

from __future__ import annotations

from typing import Any, ClassVar

from facial_animator.testing import AnimatorConformance


class TestGRUAnimatorConformance(AnimatorConformance):
    animator_name = "gru"
    config: ClassVar[dict[str, Any]] = {"num_vertices": 12, "num_styles": 2, "hidden_dim": 8}
    num_vertices = 12
    num_styles = 2
    fps = 30.0
