"""Layer handles: a folder (overlay2 diff, root filesystem) or a tar stream (tarlayer.py)."""

from __future__ import annotations

import errno
import functools
import hashlib
import io
import os
import stat
from collections.abc import Iterator
from typing import BinaryIO

from drift.errors import CorruptArchive
from drift.sources.fs import Entry, LayerScan, capture


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

    The folder may belong to a running container that changes it while drift reads: every
    path is opened one component at a time from the layer root's descriptor, never
    following a link (`O_NOFOLLOW`), so a folder swapped for a link to the host between a
    look and a read is refused instead of followed.
    """

    def __init__(self, root: str, *, digest: str | None, overlay: bool, description: str) -> None:
        self.root = os.path.realpath(root)  # links in the path given are the user's; inside it, none is followed
        self.digest = digest
        self.overlay = overlay
        self.description = description
        self.cache_salt = "overlay" if overlay else "dir"

    def scan(self) -> LayerScan:
        scan = LayerScan(digest=self.digest)
        try:
            root_fd = os.open(self.root, _DIR_FLAGS)
        except OSError as exc:
            raise CorruptArchive(f"cannot read {self.description} at {self.root}: {exc}") from exc
        # Depth first with one open descriptor per folder on the current path.
        stack: list[tuple[str, int, Iterator[os.DirEntry[str]]]] = []
        try:
            stack.append(("", root_fd, iter(self._list(root_fd, ""))))
            while stack:
                rel, fd, items = stack[-1]
                item = next(items, None)
                if item is None:
                    os.close(fd)
                    stack.pop()
                    continue
                child = self._add(scan, fd, rel, item)
                if child is not None:
                    stack.append(child)
        except BaseException:
            for _, fd, _ in stack:
                os.close(fd)
            raise
        return scan

    def _list(self, fd: int, rel: str) -> list[os.DirEntry[str]]:
        try:
            return list(os.scandir(fd))
        except OSError as exc:
            raise CorruptArchive(f"cannot read {self.description} at {self.root}{rel}: {exc}") from exc

    def _add(
        self, scan: LayerScan, parent: int, rel: str, item: os.DirEntry[str]
    ) -> tuple[str, int, Iterator[os.DirEntry[str]]] | None:
        """Record one entry; for a folder, return what the walk continues with."""
        path = f"{rel}/{item.name}"
        try:
            st = os.stat(item.name, dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError:
            return None  # removed while the walk ran (a running container)
        kind = _stat_kind(st.st_mode)
        if self.overlay and kind == "char" and st.st_rdev == 0:
            scan.whiteouts.append(path)
            return None
        link = ""
        if kind == "symlink":
            try:
                link = os.readlink(item.name, dir_fd=parent)
            except OSError:
                return None  # replaced while the walk ran
        size = st.st_size if kind == "file" else 0
        scan.entries[path] = Entry(kind, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, size, int(st.st_mtime), link)
        if kind == "file":
            try:
                capture(path, size, functools.partial(_read_at, parent, item.name, path), scan)
            except OSError as exc:
                if exc.errno not in _CHANGED:
                    raise CorruptArchive(f"cannot read {self.description} at {self.root}{path}: {exc}") from exc
            return None  # changed into something else while the walk ran: its content is not read
        if kind != "dir":
            return None
        try:
            fd = os.open(item.name, _DIR_FLAGS, dir_fd=parent)
        except OSError as exc:
            if exc.errno in _CHANGED:
                return None  # no longer a folder: swapped while the walk ran; nothing below it is read
            raise CorruptArchive(f"cannot read {self.description} at {self.root}{path}: {exc}") from exc
        if self.overlay and _is_opaque(fd):
            scan.opaque.append(path)
        try:
            return path, fd, iter(self._list(fd, path))
        except BaseException:
            os.close(fd)
            raise

    def open_folder(self, path: str) -> int:
        """A descriptor of a folder of this layer, reached without following any link (the caller
        closes it); files in it are then opened with `open_in`, one openat each."""
        fd = os.open(self.root, _DIR_FLAGS)
        try:
            for part in [p for p in path.split("/") if p]:
                nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = nxt
        except BaseException:
            os.close(fd)
            raise
        return fd

    @staticmethod
    def open_in(folder: int, name: str, path: str) -> BinaryIO:
        """The regular file NAME of a folder `open_folder` gave (never a link, FIFO or device)."""
        return _open_file(folder, name, path)

    @staticmethod
    def digest_in(folder: int, name: str, algorithm: str, buf: bytearray) -> tuple[str, int]:
        """The ALGORITHM digest and size of the regular file NAME of a folder `open_folder` gave,
        read with the raw descriptor into BUF (a caller's buffer, reused: no file object and no
        allocation per file, and every read and hash of 2 KB or more runs without the GIL)."""
        fd = os.open(name, _FILE_FLAGS, dir_fd=folder)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise OSError(errno.EINVAL, "not a regular file (changed while being read)", name)
            h = hashlib.new(algorithm, usedforsecurity=False)
            view = memoryview(buf)
            size = 0
            while n := os.readv(fd, [buf]):  # O_NONBLOCK means nothing to a regular file
                h.update(view[:n])
                size += n
            return h.hexdigest(), size
        finally:
            os.close(fd)

    def open(self, path: str) -> BinaryIO:
        """A regular file of this layer, reached without following any link."""
        parts = [p for p in path.split("/") if p]
        if not parts:
            raise IsADirectoryError(errno.EISDIR, "a folder", path)
        fd = self.open_folder("/".join(parts[:-1]))
        try:
            return _open_file(fd, parts[-1], path)
        finally:
            os.close(fd)


# errors that mean "this path changed under us" (a running container), not a broken layer
_CHANGED = (errno.ENOENT, errno.ELOOP, errno.ENOTDIR, errno.EINVAL, errno.ENXIO)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0)


def _open_file(parent: int, name: str, path: str) -> BinaryIO:
    """Open NAME in the folder PARENT if it is a regular file (never a link, FIFO or device)."""
    fd = os.open(name, _FILE_FLAGS, dir_fd=parent)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file (changed while being read)", path)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _read_at(parent: int, name: str, path: str) -> bytes:
    with _open_file(parent, name, path) as fh:
        return fh.read()


def _is_opaque(fd: int) -> bool:
    for attr in ("trusted.overlay.opaque", "user.overlay.opaque"):
        try:
            if os.getxattr(fd, attr) == b"y":
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
