"""Layer handles: a folder (overlay2 diff, root filesystem) or a tar stream."""

from __future__ import annotations

import functools
import io
import os
import stat
import tarfile
import zlib
from collections.abc import Callable
from typing import BinaryIO

from drift.errors import CorruptArchive, UnsafeArchive
from drift.sources.fs import Entry, LayerScan, capture, normalize

_TAR_KINDS = {
    tarfile.REGTYPE: "file",
    tarfile.AREGTYPE: "file",
    tarfile.CONTTYPE: "file",
    tarfile.DIRTYPE: "dir",
    tarfile.SYMTYPE: "symlink",
    tarfile.LNKTYPE: "hardlink",
    tarfile.CHRTYPE: "char",
    tarfile.BLKTYPE: "block",
    tarfile.FIFOTYPE: "fifo",
}


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


_TAR_ERRORS = (tarfile.TarError, EOFError, zlib.error, OSError, ValueError)


class TarLayer:
    """A layer that is a tar stream (plain or gzip), e.g. a member of a `docker save` archive.

    `only` restricts the layer to some paths and `extra_whiteouts` adds deletions: this is
    how a container read through the API (export + diff) becomes one upper layer.
    """

    def __init__(
        self,
        opener: Callable[[], BinaryIO],
        *,
        digest: str | None,
        description: str,
        only: set[str] | None = None,
        extra_whiteouts: list[str] | None = None,
    ) -> None:
        self.opener = opener
        self.digest = digest
        self.description = description
        self.only = only
        self.extra_whiteouts = extra_whiteouts or []

    def _members(self, tar: tarfile.TarFile):  # type: ignore[no-untyped-def]
        for member in tar:
            path = normalize(member.name)
            if path is None:
                raise UnsafeArchive(
                    f"{self.description}: member {member.name!r} points outside the root; "
                    "refusing to read this archive (recreate it with 'docker save')"
                )
            yield path, member

    def scan(self) -> LayerScan:
        scan = LayerScan(digest=self.digest)
        scan.whiteouts.extend(self.extra_whiteouts)
        try:
            with self.opener() as raw, tarfile.open(fileobj=raw, mode="r|*") as tar:
                for path, member in self._members(tar):
                    self._add(scan, tar, path, member)
        except UnsafeArchive:
            raise
        except _TAR_ERRORS as exc:
            raise CorruptArchive(
                f"{self.description} is corrupt or truncated ({exc or type(exc).__name__}); "
                "recreate it with 'docker save'"
            ) from exc
        return scan

    def _add(self, scan: LayerScan, tar: tarfile.TarFile, path: str, member: tarfile.TarInfo) -> None:
        if path == "/":
            return
        folder, _, base = path.rpartition("/")
        folder = folder or "/"
        if base.startswith(".wh."):
            if self.only is None:
                if base == ".wh..wh..opq":
                    scan.opaque.append(folder)
                else:
                    scan.whiteouts.append(f"{folder.rstrip('/')}/{base[4:]}")
            return
        if self.only is not None and path not in self.only:
            return
        kind = _TAR_KINDS.get(member.type, "file")
        link = member.linkname
        if kind == "hardlink":
            target = normalize(link)
            if target is None:
                raise UnsafeArchive(f"{self.description}: hard link {member.name!r} points outside the root ({link!r})")
            link = target
            linked = scan.entries.get(target)
            size = linked.size if linked else 0
            scan.entries[path] = Entry(
                "hardlink", member.mode & 0o7777, member.uid, member.gid, size, int(member.mtime), link
            )
            if target in scan.blobs:
                scan.blobs[path] = scan.blobs[target]
            if target in scan.md5:
                scan.md5[path] = scan.md5[target]
            return
        size = member.size if kind == "file" else 0
        scan.entries[path] = Entry(kind, member.mode & 0o7777, member.uid, member.gid, size, int(member.mtime), link)
        if kind == "file":

            def read(m: tarfile.TarInfo = member) -> bytes:
                fh = tar.extractfile(m)
                return fh.read() if fh is not None else b""

            capture(path, size, read, scan)

    def open(self, path: str) -> BinaryIO:
        """Stream the layer to one member (used rarely: files a snapshot copies)."""
        try:
            with self.opener() as raw, tarfile.open(fileobj=raw, mode="r|*") as tar:
                for member_path, member in self._members(tar):
                    if member_path == path and member.isfile():
                        fh = tar.extractfile(member)
                        return io.BytesIO(fh.read() if fh else b"")  # type: ignore[return-value]
        except _TAR_ERRORS as exc:
            raise CorruptArchive(f"{self.description} is corrupt or truncated ({exc})") from exc
        raise FileNotFoundError(path)
