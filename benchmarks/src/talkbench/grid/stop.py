"""Stopping a task at a step boundary: SIGTERM and SIGUSR2 (the signals of SLURM preemption and of
its time limit, ``--signal``) set a flag that the training loops read after every step; they then
save their checkpoint and raise :class:`talkbench.training.animator.StopTraining`, so a rerun of the
task resumes where it stopped and ends bit-identical to an uninterrupted run."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterable, Iterator

__all__ = [
    "STOP_SIGNALS",
    "clear_stop",
    "install_stop_handlers",
    "request_stop",
    "stop_handlers",
    "stop_requested",
]

STOP_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGTERM, signal.SIGUSR2)

_flag = threading.Event()


def request_stop(*_: object) -> None:
    """Ask every running training loop of this process to stop at its next step boundary."""
    _flag.set()


def stop_requested() -> bool:
    return _flag.is_set()


def clear_stop() -> None:
    _flag.clear()


def install_stop_handlers(signals: Iterable[signal.Signals] = STOP_SIGNALS) -> None:
    """Route ``signals`` to :func:`request_stop` (main thread only, as Python's ``signal`` requires)."""
    for sig in signals:
        signal.signal(sig, request_stop)


@contextlib.contextmanager
def stop_handlers(signals: Iterable[signal.Signals] = STOP_SIGNALS) -> Iterator[None]:
    """:func:`install_stop_handlers` for the duration of a ``with`` block (the previous handlers are
    restored after it, and the stop flag cleared before it); outside the main thread it does nothing,
    the engine that runs the thread forwarding the stop request itself."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    sigs = list(signals)
    previous = {sig: signal.getsignal(sig) for sig in sigs}
    clear_stop()
    install_stop_handlers(sigs)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
