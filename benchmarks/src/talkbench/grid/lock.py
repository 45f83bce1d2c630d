"""A task lock on a shared filesystem: one lock file per task, kept alive by a heartbeat.

``acquire`` creates ``<name>.lock`` with ``O_CREAT | O_EXCL`` (atomic on local filesystems and on
NFSv3+), writing who holds it (host, pid, a random token, the start time). While held, a daemon
thread touches the file every ``heartbeat`` seconds. A lock whose file has not been touched for
``stale_after`` seconds belongs to a worker that died (SIGKILL, a lost node): the next worker
breaks it by renaming the file to a name of its own (only one rename of a file succeeds) and takes
the lock. So two workers never run one task, and a killed worker's task is picked up again after
``stale_after`` seconds.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Any

__all__ = ["LockHeld", "TaskLock", "lock_holder"]

#: seconds between heartbeats, and the silence after which a lock counts as abandoned
HEARTBEAT_S = 10.0
STALE_AFTER_S = 60.0


class LockHeld(RuntimeError):
    """The task is being run by another live worker (the message names it)."""


def lock_holder(path: Path, stale_after: float = STALE_AFTER_S) -> dict[str, Any] | None:
    """Who holds the lock file ``path`` (its JSON plus ``age_s``, seconds since its last heartbeat,
    and ``alive``), or ``None`` when there is no lock."""
    try:
        st = path.stat()
        owner = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    age = time.time() - st.st_mtime
    return {**owner, "age_s": age, "alive": age < stale_after}


class TaskLock:
    """The lock of one task (``path``: its ``.lock`` file); a context manager that raises
    :class:`LockHeld` when a live worker holds it."""

    def __init__(
        self, path: Path | str, heartbeat: float = HEARTBEAT_S, stale_after: float = STALE_AFTER_S
    ) -> None:
        if heartbeat >= stale_after:
            raise ValueError(f"heartbeat {heartbeat} s must be shorter than stale_after {stale_after} s")
        self.path = Path(path)
        self.heartbeat = heartbeat
        self.stale_after = stale_after
        self.token = uuid.uuid4().hex
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _owner(self) -> dict[str, Any]:
        return {"host": socket.gethostname(), "pid": os.getpid(), "token": self.token, "since": time.time()}

    def try_acquire(self) -> bool:
        """Take the lock if it is free or abandoned; False when a live worker holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = lock_holder(self.path, self.stale_after)
                if holder is not None and holder["alive"]:
                    return False
                try:  # abandoned (or vanished meanwhile): break it; one breaker's rename wins
                    os.rename(self.path, self.path.with_name(f"{self.path.name}.broken-{self.token}"))
                    os.unlink(self.path.with_name(f"{self.path.name}.broken-{self.token}"))
                except FileNotFoundError:
                    pass
                continue
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(self._owner(), fh)
            self._stop.clear()
            self._thread = threading.Thread(target=self._beat, name=f"lock {self.path.name}", daemon=True)
            self._thread.start()
            return True
        return False

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat):
            try:
                os.utime(self.path)
            except FileNotFoundError:
                return

    def held(self) -> bool:
        """True while the lock file is this lock's (not broken by another worker)."""
        holder = lock_holder(self.path, self.stale_after)
        return holder is not None and holder.get("token") == self.token

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self.held():
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> TaskLock:
        if not self.try_acquire():
            holder = lock_holder(self.path, self.stale_after) or {}
            raise LockHeld(
                f"{self.path}: held by pid {holder.get('pid')} on {holder.get('host')} "
                f"(heartbeat {holder.get('age_s', 0):.0f} s ago)"
            )
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
