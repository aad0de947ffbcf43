"""One writer at a time: an advisory lock file beside the store.

Two overlapping runs (cron fired again while the last one is still going) must never
interleave their writes: the second waits up to a bound, then gives up with a clear line.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator

from drift.store.dialect import StoreError


class StoreBusy(StoreError):
    """Another drift process holds the store."""


@contextlib.contextmanager
def exclusive(path: str, *, timeout: float, what: str) -> Iterator[None]:
    lock_path = path + ".lock"
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise StoreError(f"cannot create the lock file {lock_path}: {exc.strerror}") from exc
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _holder(fd)
                    raise StoreBusy(
                        f"{what} is in use by another drift process{holder}; waited {timeout:g}s: "
                        "let it finish, or raise --lock-timeout"
                    ) from None
                time.sleep(0.2)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _holder(fd: int) -> str:
    try:
        pid = os.pread(fd, 32, 0).decode().strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return f" (pid {pid})" if pid.isdigit() else ""
