"""Layer handles: a folder (overlay2 diff, root filesystem) or a tar stream (tarlayer.py)."""

from __future__ import annotations

import functools
import io
import os
import stat
from typing import BinaryIO

from drift.errors import CorruptArchive
from drift.sources.fs import Entry, LayerScan, capture
from drift.sources.tarlayer import TarLayer

__all__ = ["DirLayer", "TarLayer", "window"]


def _stat_kind(mode: int) -> str:
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_ISCHR(mode):
        return "char"
    if stat.S_ISBLK(mode):
        return "block"
    if stat.S_ISFIFO(mode):
        return "fifo"
    return "socket"


class DirLayer:
    """A layer that is a folder on this machine: an overlay2 diff or a root filesystem.

    With `overlay=True`, character devices 0:0 are whiteouts and folders carrying the
    `trusted.overlay.opaque` attribute hide what lower layers hold below them.
    """

    def __init__(self, root: str, *, digest: str | None, overlay: bool, description: str) -> None:
        self.root = root.rstrip("/") or "/"
        self.digest = digest
        self.overlay = overlay
        self.description = description
        self.cache_salt = "overlay" if overlay else "dir"

    def scan(self) -> LayerScan:
        scan = LayerScan(digest=self.digest)
        stack = [""]
        while stack:
            rel = stack.pop()
            try:
                items = list(os.scandir(self.root + rel if rel else self.root))
            except OSError as exc:
                raise CorruptArchive(f"cannot read {self.description} at {self.root}{rel}: {exc}") from exc
            for item in items:
                path = f"{rel}/{item.name}"
                st = item.stat(follow_symlinks=False)
                kind = _stat_kind(st.st_mode)
                if self.overlay and kind == "char" and st.st_rdev == 0:
                    scan.whiteouts.append(path)
                    continue
                link = os.readlink(item.path) if kind == "symlink" else ""
                size = st.st_size if kind == "file" else 0
                scan.entries[path] = Entry(
                    kind, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, size, int(st.st_mtime), link
                )
                if kind == "dir":
                    if self.overlay and _is_opaque(item.path):
                        scan.opaque.append(path)
                    stack.append(path)
                elif kind == "file":
                    capture(path, size, functools.partial(_read_file, item.path), scan)
        return scan

    def open(self, path: str) -> BinaryIO:
        fd = os.open(self.root + path, os.O_RDONLY | os.O_NOFOLLOW)
        return os.fdopen(fd, "rb")


def _read_file(path: str) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as fh:
        return fh.read()


def _is_opaque(path: str) -> bool:
    for attr in ("trusted.overlay.opaque", "user.overlay.opaque"):
        try:
            if os.getxattr(path, attr, follow_symlinks=False) == b"y":
                return True
        except OSError:
            continue
    return False


class Window(io.RawIOBase):
    """A read-only, seekable window [offset, offset+size) of a file."""

    def __init__(self, path: str, offset: int, size: int) -> None:
        self._fh = open(path, "rb")  # noqa: SIM115 - closed in close()
        self._offset = offset
        self._size = size
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]  # RawIOBase signature
        remaining = self._size - self._pos
        if remaining <= 0:
            return 0
        view = memoryview(buffer)[: min(len(buffer), remaining)]
        self._fh.seek(self._offset + self._pos)
        n = self._fh.readinto(view)
        self._pos += n or 0
        return n or 0

    def seek(self, pos: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._size}[whence]
        self._pos = max(0, base + pos)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        self._fh.close()
        super().close()


def window(path: str, offset: int, size: int) -> BinaryIO:
    return io.BufferedReader(Window(path, offset, size), buffer_size=1 << 20)  # type: ignore[return-value]
