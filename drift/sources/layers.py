"""Layer handles: a folder (overlay2 diff, root filesystem) or a tar stream."""

from __future__ import annotations

import contextlib
import functools
import gzip
import io
import os
import stat
import zlib
from collections.abc import Callable, Iterator
from typing import BinaryIO

from drift.errors import CorruptArchive, UnsafeArchive
from drift.sources.fs import Entry, LayerScan, capture, normalize
from drift.sources.tarread import Member, Reader, TarError


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


_TAR_ERRORS = (TarError, EOFError, zlib.error, OSError, ValueError)


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
        cache_salt: str = "",
    ) -> None:
        self.opener = opener
        self.cache_salt = f"tar:{cache_salt}"
        self.digest = digest
        self.description = description
        self.only = only
        self.extra_whiteouts = extra_whiteouts or []

    @contextlib.contextmanager
    def _reader(self) -> Iterator[Reader]:
        with self.opener() as raw:
            head = raw.read(4) if raw.seekable() else b""
            if raw.seekable():
                raw.seek(0)
            if head.startswith(b"\x1f\x8b"):
                with gzip.GzipFile(fileobj=raw) as unzipped:
                    yield Reader(unzipped, seekable=False)  # type: ignore[arg-type]
            elif head.startswith(b"\x28\xb5\x2f\xfd"):
                raise CorruptArchive(f"{self.description} is zstd-compressed, which drift cannot read")
            else:
                yield Reader(raw)

    def _members(self, reader: Reader) -> Iterator[tuple[str, Member]]:
        for member in reader.members():
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
            with self._reader() as reader:
                for path, member in self._members(reader):
                    self._add(scan, reader, path, member)
        except (UnsafeArchive, CorruptArchive):
            raise
        except _TAR_ERRORS as exc:
            raise CorruptArchive(
                f"{self.description} is corrupt or truncated ({exc or type(exc).__name__}); "
                "recreate it with 'docker save'"
            ) from exc
        return scan

    def _add(self, scan: LayerScan, reader: Reader, path: str, member: Member) -> None:
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
        kind = member.kind
        if kind == "hardlink":
            target = normalize(member.linkname)
            if target is None:
                raise UnsafeArchive(
                    f"{self.description}: hard link {member.name!r} points outside the root ({member.linkname!r})"
                )
            linked = scan.entries.get(target)
            size = linked.size if linked else 0
            scan.entries[path] = Entry("hardlink", member.mode, member.uid, member.gid, size, member.mtime, target)
            if target in scan.blobs:
                scan.blobs[path] = scan.blobs[target]
            if target in scan.md5:
                scan.md5[path] = scan.md5[target]
            return
        size = member.size if kind == "file" else 0
        scan.entries[path] = Entry(kind, member.mode, member.uid, member.gid, size, member.mtime, member.linkname)
        if kind == "file":
            capture(path, size, functools.partial(reader.read_data, member), scan)

    def open(self, path: str) -> BinaryIO:
        """Read one member's content (used rarely: files a snapshot copies)."""
        try:
            with self._reader() as reader:
                for member_path, member in self._members(reader):
                    if member_path == path and member.kind == "file":
                        return io.BytesIO(reader.read_data(member))  # type: ignore[return-value]
        except _TAR_ERRORS as exc:
            raise CorruptArchive(f"{self.description} is corrupt or truncated ({exc})") from exc
        raise FileNotFoundError(path)
