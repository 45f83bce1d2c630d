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


def test_the_kit_refuses_a_head_that_emits_metres() -> None:
    """Written without the output scale (offsets straight from a zero-initialised head in metres), the
    GRU reached LVE 5x the motionless template's in the smoke preset; the kit's scale check says why."""
    import pytest

    class MetresGRU(TestGRUAnimatorConformance):
        config: ClassVar[dict[str, Any]] = {**TestGRUAnimatorConformance.config, "output_scale": 1.0}

    with pytest.raises(AssertionError, match=r"mm RMS from the template, for 1 mm of motion"):
        MetresGRU().test_first_steps_move_the_mesh_by_millimetres()
