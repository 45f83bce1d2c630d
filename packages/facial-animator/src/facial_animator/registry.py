"""Animator registry: a decorator, lazy built-ins and an entry-point group.

Names map to an :class:`~facial_animator.base.Animator` subclass, to a lazy ``"module:Class"``
string (built-ins, so that ``import facial_animator`` never imports every model) or to an
entry point of the group :data:`ENTRY_POINT_GROUP` (third-party packages)::

    # in a contributor's pyproject.toml
    [project.entry-points."facial_animator.animators"]
    my_animator = "my_package.model:MyAnimator"

or, in code, ``@register_animator("my_animator")`` on the class.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata
from collections.abc import Callable
from typing import Any, TypeVar

from .base import Animator

__all__ = [
    "ENTRY_POINT_GROUP",
    "UnknownAnimatorError",
    "build_animator",
    "get_animator",
    "list_animators",
    "register_animator",
    "unregister_animator",
]

ENTRY_POINT_GROUP = "facial_animator.animators"

A = TypeVar("A", bound=type[Animator])

# name -> class, or "module:Class" string resolved on first use
_REGISTRY: dict[str, type[Animator] | str] = {
    "faceformer": "facial_animator.models.faceformer:FaceFormer",
    "example_mlp": "facial_animator.examples.mlp_animator:ExampleMLPAnimator",
}
_entry_points_loaded = False


class UnknownAnimatorError(KeyError):
    """Raised by :func:`get_animator` for a name that no registry source provides."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


def _normalise(name: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"animator name must be a non-empty string, got {name!r}")
    return name.strip().lower()


def register_animator(name: str, *, overwrite: bool = False) -> Callable[[A], A]:
    """Class decorator that registers an :class:`Animator` subclass under ``name``.

    Sets ``cls.name`` when the class has none. Registering a second, different class under a
    taken name raises unless ``overwrite=True``.
    """
    key = _normalise(name)

    def decorator(cls: A) -> A:
        if not (isinstance(cls, type) and issubclass(cls, Animator)):
            raise TypeError(f"@register_animator({name!r}) must decorate an Animator subclass, got {cls!r}")
        existing = _REGISTRY.get(key)
        if existing is not None and not overwrite and not _same_class(existing, cls):
            raise ValueError(
                f"animator name {key!r} is already registered to {_qualname(existing)}; "
                f"pick another name or pass overwrite=True"
            )
        if not cls.name:
            cls.name = key
        _REGISTRY[key] = cls
        return cls

    return decorator


def unregister_animator(name: str) -> None:
    """Remove ``name`` from the registry (mainly for tests)."""
    _REGISTRY.pop(_normalise(name), None)


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        key = _normalise(ep.name)
        # an explicit registration in code wins over an installed entry point of the same name
        _REGISTRY.setdefault(key, ep.value)


def refresh_entry_points() -> None:
    """Re-read the entry-point group (after installing a package in a running process)."""
    global _entry_points_loaded
    _entry_points_loaded = False
    _load_entry_points()


def list_animators() -> list[str]:
    """Sorted names of every available animator (built-in, registered and entry points)."""
    _load_entry_points()
    return sorted(_REGISTRY)


def get_animator(name: str) -> type[Animator]:
    """The :class:`Animator` subclass registered as ``name`` (imported on first use)."""
    key = _normalise(name)
    _load_entry_points()
    if key not in _REGISTRY:
        names = sorted(_REGISTRY)
        close = difflib.get_close_matches(key, names, n=3, cutoff=0.5)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise UnknownAnimatorError(
            f"unknown animator {name!r}.{hint} Available: {', '.join(names)}. Third-party animators "
            f"register with @register_animator or the {ENTRY_POINT_GROUP!r} entry-point group."
        )
    entry = _REGISTRY[key]
    if isinstance(entry, str):
        cls = _import_target(key, entry)
        _REGISTRY[key] = cls
        return cls
    return entry


def build_animator(name: str, **config: Any) -> Animator:
    """Instantiate the animator ``name`` with ``config`` as keyword arguments."""
    cls = get_animator(name)
    try:
        return cls(**config)
    except TypeError as err:
        raise TypeError(f"build_animator({name!r}): invalid configuration for {cls.__name__}: {err}") from err


def _import_target(key: str, target: str) -> type[Animator]:
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise ValueError(f"animator {key!r}: target {target!r} is not of the form 'module:Class'")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as err:
        raise ImportError(f"animator {key!r}: cannot import {target!r}: {err}") from err
    if not (isinstance(obj, type) and issubclass(obj, Animator)):
        raise TypeError(f"animator {key!r}: {target!r} is {obj!r}, not an Animator subclass")
    if not obj.name:
        obj.name = key
    return obj


def _same_class(existing: type[Animator] | str, cls: type) -> bool:
    if isinstance(existing, str):
        return existing == f"{cls.__module__}:{cls.__qualname__}"
    return existing is cls


def _qualname(entry: type[Animator] | str) -> str:
    return entry if isinstance(entry, str) else f"{entry.__module__}:{entry.__qualname__}"
