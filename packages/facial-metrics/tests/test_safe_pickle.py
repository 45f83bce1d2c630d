"""The restricted unpickler loads containers and numpy arrays and refuses everything else."""

from __future__ import annotations

import os
import pickle
import subprocess

import numpy as np
import pytest

from facial_metrics.safe_pickle import load_restricted_pickle, loads_restricted_pickle


class _SystemCall:
    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


class _PopenCall:
    def __reduce__(self):
        return (subprocess.Popen, (["true"],))


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_containers_and_arrays_round_trip(tmp_path, protocol):
    data = {
        "lips": np.arange(10, dtype=np.int64),
        "verts": np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32),
        "nested": {"a": [1, 2.5, "x", None, True], "b": (b"raw", frozenset({1})), "c": {3, 4}},
        "scalar": np.float64(1.5),
        "cplx": 1 + 2j,
    }
    path = tmp_path / "data.pkl"
    path.write_bytes(pickle.dumps(data, protocol=protocol))
    out = load_restricted_pickle(path)
    np.testing.assert_array_equal(out["lips"], data["lips"])
    np.testing.assert_array_equal(out["verts"], data["verts"])
    assert out["verts"].dtype == np.float32
    assert out["nested"] == data["nested"]
    assert out["scalar"] == 1.5 and out["cplx"] == 1 + 2j


def test_os_system_reduce_is_rejected_and_not_executed(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"lips": _SystemCall(f"touch {marker}")}, protocol=2))
    with pytest.raises(pickle.UnpicklingError) as err:
        load_restricted_pickle(path)
    msg = str(err.value)
    assert str(path) in msg
    assert "system" in msg  # os.system pickles as posix.system / nt.system
    assert not marker.exists()


def test_other_callables_are_rejected():
    with pytest.raises(pickle.UnpicklingError, match=r"subprocess\.Popen"):
        loads_restricted_pickle(pickle.dumps(_PopenCall()), source="popen.pkl")
    with pytest.raises(pickle.UnpicklingError, match=r"builtins\.eval"):
        loads_restricted_pickle(pickle.dumps(eval), source="eval.pkl")
    # a harmless-looking but non-container class is refused too
    with pytest.raises(pickle.UnpicklingError, match=r"collections\.OrderedDict"):
        from collections import OrderedDict

        loads_restricted_pickle(pickle.dumps(OrderedDict(a=1)), source="od.pkl")


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.pkl"):
        load_restricted_pickle(tmp_path / "nope.pkl")
    bad = tmp_path / "trunc.pkl"
    bad.write_bytes(pickle.dumps({"a": np.arange(5)})[:-7])
    with pytest.raises(pickle.UnpicklingError, match=r"trunc\.pkl"):
        load_restricted_pickle(bad)


def test_python2_style_numpy_core_names(tmp_path):
    """Old pickles (Python 2 / NumPy 1.x, e.g. FLAME_masks.pkl) name numpy.core.multiarray and a py2
    ``str`` buffer; both load under NumPy 2 with latin1."""
    raw = pickle.dumps({"lips": np.arange(6, dtype=np.int64)}, protocol=2)
    raw = raw.replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")
    assert b"numpy.core.multiarray" in raw
    path = tmp_path / "old.pkl"
    path.write_bytes(raw)
    out = load_restricted_pickle(path)
    np.testing.assert_array_equal(out["lips"], np.arange(6))
