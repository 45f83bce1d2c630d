"""Restricted unpickling for dataset files (FLAME mask pickles, VOCASET ``templates.pkl``, ...).

Dataset pickles come from third parties. A plain :func:`pickle.load` executes whatever callable the
file names (``os.system``, ``subprocess.Popen``, ...), so this module only lets a pickle rebuild

* the built-in containers and scalars (``dict``, ``list``, ``tuple``, ``set``, ``frozenset``,
  ``int``, ``float``, ``complex``, ``bool``, ``str``, ``bytes``, ``bytearray``, ``None``), and
* NumPy arrays, NumPy scalars and dtypes (the reconstructors NumPy 1.x and 2.x write, under both the
  ``numpy.core`` and ``numpy._core`` module names),

plus ``_codecs.encode``, which Python 3 writes for ``bytes`` objects in protocol-2 pickles (the raw
buffer of every NumPy array pickled that way) and which can only encode a string. Any other global
raises :class:`pickle.UnpicklingError` naming the file and the forbidden ``module.name``.
"""

from __future__ import annotations

import builtins
import codecs
import importlib
import io
import os
import pickle
from typing import Any

__all__ = ["ALLOWED_GLOBALS", "RestrictedUnpickler", "load_restricted_pickle", "loads_restricted_pickle"]

_BUILTIN_NAMES = (
    "dict", "list", "tuple", "set", "frozenset", "int", "float", "complex", "bool", "str", "bytes",
    "bytearray",
)
_NUMPY_NAMES = {
    "multiarray": ("_reconstruct", "scalar"),
    "numeric": ("_frombuffer",),
}

#: ``(module, name)`` pairs a pickle may reference (Python 2 ``__builtin__`` counts as ``builtins``).
ALLOWED_GLOBALS: frozenset[tuple[str, str]] = frozenset(
    [("builtins", n) for n in _BUILTIN_NAMES]
    + [("_codecs", "encode"), ("numpy", "ndarray"), ("numpy", "dtype")]
    + [
        (f"{root}.{sub}", name)
        for root in ("numpy.core", "numpy._core")
        for sub, names in _NUMPY_NAMES.items()
        for name in names
    ]
)


def _resolve_numpy(module: str, name: str) -> Any:
    """Import an allowed NumPy global under whichever module name this NumPy version uses."""
    sub = module.rsplit(".", 1)[1]
    for root in ("numpy._core", "numpy.core"):
        try:
            mod = importlib.import_module(f"{root}.{sub}")
        except ImportError:
            continue
        if hasattr(mod, name):
            return getattr(mod, name)
    raise pickle.UnpicklingError(f"numpy global {module}.{name} is not available in this NumPy version")


class RestrictedUnpickler(pickle.Unpickler):
    """:class:`pickle.Unpickler` that only resolves the globals in :data:`ALLOWED_GLOBALS`.

    ``source`` is the file name used in error messages.
    """

    def __init__(self, file: io.BufferedIOBase, *, source: str, encoding: str = "latin1") -> None:
        super().__init__(file, encoding=encoding, fix_imports=True)
        self._source = source

    def find_class(self, module: str, name: str) -> Any:
        if module == "__builtin__":  # Python 2 pickles
            module = "builtins"
        if (module, name) not in ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(
                f"{self._source}: refusing to load forbidden global '{module}.{name}'; only built-in "
                "containers/scalars and numpy arrays/dtypes may appear in a dataset pickle"
            )
        if module == "builtins":
            return getattr(builtins, name)
        if module == "_codecs":
            return codecs.encode
        if module == "numpy":
            import numpy

            return getattr(numpy, name)
        return _resolve_numpy(module, name)


def load_restricted_pickle(path: str | os.PathLike[str], encoding: str = "latin1") -> Any:
    """Load a pickle file that may only contain containers, scalars and NumPy arrays.

    Args:
        path: the pickle file.
        encoding: how Python 2 ``str`` objects are decoded; ``"latin1"`` (default) is what NumPy
            arrays pickled under Python 2 (VOCASET, FLAME masks) need.

    Raises:
        FileNotFoundError: the file does not exist.
        pickle.UnpicklingError: the file is not a pickle, is truncated, or names a forbidden global
            (the message names the file and the global).
    """
    source = os.fspath(path)
    if not os.path.isfile(source):
        raise FileNotFoundError(f"pickle file not found: {source}")
    with open(source, "rb") as fh:
        return _load(fh, source, encoding)


def loads_restricted_pickle(data: bytes, encoding: str = "latin1", source: str = "<bytes>") -> Any:
    """:func:`load_restricted_pickle` for an in-memory byte string (``source`` names it in errors)."""
    return _load(io.BytesIO(data), source, encoding)


def _load(fh: Any, source: str, encoding: str) -> Any:
    try:
        return RestrictedUnpickler(fh, source=source, encoding=encoding).load()
    except pickle.UnpicklingError as exc:
        if str(exc).startswith(f"{source}: "):
            raise
        raise pickle.UnpicklingError(f"{source}: not a readable pickle ({exc})") from exc
    except (EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError) as exc:
        msg = f"{source}: not a readable pickle ({type(exc).__name__}: {exc})"
        raise pickle.UnpicklingError(msg) from exc
