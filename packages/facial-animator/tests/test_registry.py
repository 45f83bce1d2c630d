"""Registry: decorator, lazy built-ins, entry points, suggestions, build errors; AnimatorInput validation."""

from __future__ import annotations

import importlib.metadata
import sys
import textwrap

import pytest
import torch

import facial_animator.registry as registry
from facial_animator import (
    ENTRY_POINT_GROUP,
    Animator,
    AnimatorInput,
    AnimatorOutput,
    UnknownAnimatorError,
    build_animator,
    get_animator,
    list_animators,
    register_animator,
    unregister_animator,
)


class _Tiny(Animator):
    def __init__(self, num_vertices: int = 3) -> None:
        super().__init__()
        self.num_vertices, self.num_styles, self.fps = num_vertices, 1, 30.0
        self.w = torch.nn.Parameter(torch.zeros(()))

    def forward(self, batch: AnimatorInput) -> AnimatorOutput:
        return AnimatorOutput(vertices=batch.template.unsqueeze(1) + self.w)


@pytest.fixture
def clean_registry():
    saved = dict(registry._REGISTRY)
    loaded = registry._entry_points_loaded
    yield
    registry._REGISTRY.clear()
    registry._REGISTRY.update(saved)
    registry._entry_points_loaded = loaded


def test_builtins_are_listed_without_importing_models():
    names = list_animators()
    assert {"faceformer", "example_mlp"} <= set(names)
    assert isinstance(registry._REGISTRY["faceformer"], (str, type))


def test_lazy_builtin_resolves_to_class():
    cls = get_animator("FaceFormer")  # case-insensitive
    from facial_animator.models.faceformer import FaceFormer

    assert cls is FaceFormer and cls.name == "faceformer"


def test_decorator_registers_and_sets_name(clean_registry):
    @register_animator("tiny_test")
    class Tiny(_Tiny):
        pass

    assert get_animator("tiny_test") is Tiny
    assert Tiny.name == "tiny_test"
    model = build_animator("tiny_test", num_vertices=5)
    assert isinstance(model, Tiny) and model.num_vertices == 5
    unregister_animator("tiny_test")
    assert "tiny_test" not in list_animators()


def test_duplicate_name_is_refused(clean_registry):
    register_animator("dup_test")(type("A", (_Tiny,), {}))
    with pytest.raises(ValueError, match="already registered"):
        register_animator("dup_test")(type("B", (_Tiny,), {}))
    register_animator("dup_test", overwrite=True)(type("C", (_Tiny,), {}))
    assert get_animator("dup_test").__name__ == "C"


def test_decorator_rejects_non_animator():
    with pytest.raises(TypeError, match="Animator subclass"):
        register_animator("nope")(dict)  # type: ignore[arg-type]


def test_unknown_name_suggests_close_matches():
    with pytest.raises(UnknownAnimatorError) as info:
        get_animator("faceformr")
    message = str(info.value)
    assert "Did you mean 'faceformer'" in message and "Available:" in message


def test_build_animator_reports_bad_config():
    with pytest.raises(TypeError, match="invalid configuration for ExampleMLPAnimator"):
        build_animator("example_mlp", num_vertices=4, no_such_option=1)


def test_entry_point_discovery_with_monkeypatched_metadata(clean_registry, monkeypatch):
    module = type(sys)("thirdparty_animator_mod")
    module.ThirdParty = type("ThirdParty", (_Tiny,), {"__module__": "thirdparty_animator_mod"})
    monkeypatch.setitem(sys.modules, "thirdparty_animator_mod", module)
    ep = importlib.metadata.EntryPoint(
        name="third_party", value="thirdparty_animator_mod:ThirdParty", group=ENTRY_POINT_GROUP
    )

    def fake_entry_points(**kwargs):
        assert kwargs == {"group": ENTRY_POINT_GROUP}
        return importlib.metadata.EntryPoints([ep])

    monkeypatch.setattr(importlib.metadata, "entry_points", fake_entry_points)
    registry.refresh_entry_points()
    assert "third_party" in list_animators()
    assert get_animator("third_party") is module.ThirdParty
    assert module.ThirdParty.name == "third_party"


def test_entry_point_discovery_with_dist_info_on_sys_path(clean_registry, tmp_path, monkeypatch):
    (tmp_path / "plugin_pkg_xyz.py").write_text(
        textwrap.dedent(
            """
            import torch
            from facial_animator import Animator, AnimatorOutput

            class PluginAnimator(Animator):
                def forward(self, batch):
                    return AnimatorOutput(vertices=batch.template.unsqueeze(1))
            """
        )
    )
    dist = tmp_path / "plugin_pkg_xyz-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: plugin-pkg-xyz\nVersion: 0.1\n")
    entry = "plugin_xyz = plugin_pkg_xyz:PluginAnimator"
    (dist / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{entry}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.refresh_entry_points()
    cls = get_animator("plugin_xyz")
    assert cls.__name__ == "PluginAnimator" and cls.name == "plugin_xyz"


def test_entry_point_that_is_not_an_animator_is_rejected(clean_registry, monkeypatch):
    ep = importlib.metadata.EntryPoint(
        name="bad_ep", value="collections:OrderedDict", group=ENTRY_POINT_GROUP
    )
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda **kw: importlib.metadata.EntryPoints([ep]))
    registry.refresh_entry_points()
    with pytest.raises(TypeError, match="not an Animator subclass"):
        get_animator("bad_ep")


def _batch(**overrides):
    fields = dict(
        audio=torch.zeros(2, 1600), template=torch.zeros(2, 4, 3), style=torch.tensor([0, 1]),
        target=torch.zeros(2, 3, 4, 3),
    )
    fields.update(overrides)
    return AnimatorInput(**fields)


@pytest.mark.parametrize(
    ("overrides", "kwargs", "needle"),
    [
        ({"audio": torch.zeros(1600)}, {}, "audio must be a \\(B, S\\)"),
        ({"audio": torch.zeros(2, 1600, dtype=torch.long)}, {}, "floating point"),
        ({"audio": torch.zeros(2, 0)}, {}, "empty"),
        ({"template": torch.zeros(2, 4, 2)}, {}, "template must be"),
        ({}, {"num_vertices": 5}, "4 vertices but the animator was built for 5"),
        ({"style": torch.tensor([0.0, 1.0])}, {}, "style must be"),
        ({}, {"num_styles": 1}, "outside \\[0, 1\\)"),
        ({"target": torch.zeros(2, 3, 5, 3)}, {}, "target must be"),
        ({"target": torch.full((2, 3, 4, 3), float("inf"))}, {}, "target contains NaN or Inf"),
        ({"fps": 25.0}, {"fps": 30.0}, "fps is 25.0"),
        ({"transcript": ["a"]}, {}, "transcript has 1 entries"),
        ({}, {"requires_text": True}, "needs AnimatorInput.transcript"),
    ],
)
def test_animator_input_validation(overrides, kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        _batch(**overrides).validate(**kwargs)


def test_valid_input_passes_and_output_loss_sums():
    _batch().validate(num_vertices=4, num_styles=2, fps=30.0)
    losses = {"a": torch.tensor(1.0), "b": torch.tensor(2.5)}
    out = AnimatorOutput(vertices=torch.zeros(1, 1, 1, 3), losses=losses)
    assert float(out.loss) == 3.5
    with pytest.raises(ValueError, match="no losses"):
        AnimatorOutput(vertices=torch.zeros(1, 1, 1, 3)).loss
