"""A layer that is a tar stream: scanned in one pass, hashed while read, content by offset."""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import io
import os
import re
import tempfile
import threading
import zlib
from collections.abc import Callable, Iterator
from typing import BinaryIO

from drift.errors import CorruptArchive, UnsafeArchive
from drift.sources.fs import Entry, LayerScan, capture, normalize
from drift.sources.tarread import Member, Reader, TarError

_TAR_ERRORS = (TarError, EOFError, zlib.error, OSError, ValueError, OverflowError)
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


class _Hashing:
    """A read-only stream that hashes every byte read through it (the layer's diff_id)."""

    def __init__(self, fh: BinaryIO) -> None:
        self.fh = fh
        self.sha = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self.fh.read(n)
        self.sha.update(data)
        return data

    def seekable(self) -> bool:
        return False

    def drain(self) -> str:
        """Read to the end (padding after the end-of-archive marker counts) and return the digest."""
        while self.read(1 << 20):
            pass
        return "sha256:" + self.sha.hexdigest()


class _Slice(io.RawIOBase):
    """[offset, offset+size) of a file descriptor, read with pread (no shared position)."""

    def __init__(self, fd: int, offset: int, size: int) -> None:
        self._fd, self._offset, self._size, self._pos = fd, offset, size, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]  # RawIOBase signature
        want = min(len(buffer), self._size - self._pos)
        if want <= 0:
            return 0
        data = os.pread(self._fd, want, self._offset + self._pos)
        if not data:
            raise CorruptArchive("a layer member is cut short")
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)


class TarLayer:
    """A layer that is a tar stream (plain, gzip or zstd), e.g. a member of a `docker save` archive.

    `only` restricts the layer to some paths and `extra_whiteouts` adds deletions: this is
    how a container read through the API (export + diff) becomes one upper layer.

    With `verify=True` the layer's `digest` is a claim (an archive's diff_id): the scan hashes
    the uncompressed stream as it reads it (same pass) and refuses a layer whose hash
    differs, so the cache only ever holds content under a digest drift computed itself, and
    a base detected by layer digests is made of the layers it claims.

    File content is read through an index of member offsets built in one pass (a gzip or
    zstd or
    unseekable stream is first inflated once into an anonymous temporary file), so reading
    many files of one layer is linear in the layer's size.
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
        verify: bool = False,
    ) -> None:
        if verify and digest is not None and not _DIGEST.fullmatch(digest):
            raise CorruptArchive(f"{description}: {digest[:80]!r} is not a sha256 layer digest (sha256:<64 hex>)")
        self.opener = opener
        self.cache_salt = f"tar:{cache_salt}"
        self.digest = digest
        self.description = description
        self.only = only
        self.extra_whiteouts = extra_whiteouts or []
        self.verify = verify and digest is not None  # the digest is a claim, to be hashed
        # Whether anything relies on the claim (a cache key, a layer of the detected base).
        # The safe default is yes; `inventory.build` clears it for layers above the base
        # when no cache is in use, which saves hashing the layers nothing trusts.
        self.relied = True
        self.verified = False  # the last scan hashed the layer and it matched its digest
        self._lock = threading.Lock()
        self._index: dict[str, tuple[int, int]] | None = None
        self._spool: BinaryIO | None = None

    @contextlib.contextmanager
    def _raw(self) -> Iterator[tuple[BinaryIO, bool]]:
        """The layer's uncompressed stream, and whether it can seek."""
        with self.opener() as raw:
            head = raw.read(4) if raw.seekable() else b""
            if raw.seekable():
                raw.seek(0)
            if head.startswith(b"\x1f\x8b"):
                with gzip.GzipFile(fileobj=raw) as unzipped:
                    yield unzipped, False  # type: ignore[misc]
            elif head.startswith(b"\x28\xb5\x2f\xfd"):
                from drift.sources import zstd  # only for a zstd layer: `zstandard` is not imported otherwise

                with zstd.reader(raw, self.description) as unzstd:
                    yield unzstd, False
            else:
                yield raw, raw.seekable()

    def _members(self, reader: Reader) -> Iterator[tuple[str, Member]]:
        for member in reader.members():
            path = normalize(member.name)
            if path is None:
                raise UnsafeArchive(
                    f"{self.description}: member {_shown(member.name)} points outside the root; "
                    "refusing to read this archive (recreate it with 'docker save')"
                )
            yield path, member

    def _corrupt(self, exc: BaseException) -> CorruptArchive:
        return CorruptArchive(
            f"{self.description} is corrupt or truncated ({exc or type(exc).__name__}); recreate it with 'docker save'"
        )

    def scan(self) -> LayerScan:
        scan = LayerScan(digest=self.digest)
        scan.whiteouts.extend(self.extra_whiteouts)
        index: dict[str, tuple[int, int]] = {}
        seekable = False
        try:
            with self._raw() as (raw, seekable):
                hashing = _Hashing(raw) if self.verify and self.relied else None
                reader = Reader(hashing, seekable=False) if hashing else Reader(raw, seekable=seekable)  # type: ignore[arg-type]
                for path, member in self._members(reader):
                    self._add(scan, reader, path, member)
                    if member.kind == "file":
                        index[path] = (member.offset, member.size)
                actual = hashing.drain() if hashing else None
        except (UnsafeArchive, CorruptArchive):
            raise
        except _TAR_ERRORS as exc:
            raise self._corrupt(exc) from exc
        self._refuse_mismatch(actual)
        self.verified = actual is not None
        with self._lock:
            if self._index is None and seekable:
                self._index = index  # offsets for open(), for free
        return scan

    def check(self) -> None:
        """Hash the layer (no parsing) and refuse it if it is not what its digest claims.

        A cache hit is served by digest; this makes sure the archive at hand really holds
        that layer, so a forged archive cannot borrow a genuine layer's cached scan."""
        if not self.verify:
            return
        try:
            with self._raw() as (raw, _):
                actual = _Hashing(raw).drain()
        except (UnsafeArchive, CorruptArchive):
            raise
        except _TAR_ERRORS as exc:
            raise self._corrupt(exc) from exc
        self._refuse_mismatch(actual)

    def _refuse_mismatch(self, actual: str | None) -> None:
        if actual is not None and actual != self.digest:
            raise CorruptArchive(
                f"{self.description}: its content hashes to {actual}, not to the diff_id {self.digest} "
                "the image config claims; the archive is damaged or forged (recreate it with 'docker save')"
            )

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
                    f"{self.description}: hard link {_shown(member.name)} points outside the root "
                    f"({_shown(member.linkname)})"
                )
            linked = scan.entries.get(target)
            if linked is not None and linked.kind == "hardlink":
                target = linked.linkname  # always name the file itself: no chains within a layer
            if target == path or (linked is None and self.only is None):
                # A link to itself, or to nothing earlier in its layer: no content, and
                # Docker could not extract it either (a layer's links stay in the layer).
                return
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

    def _build_index(self) -> None:
        """One pass over the layer: where each file's data starts (inflating it once if needed)."""
        index: dict[str, tuple[int, int]] = {}
        with self._raw() as (raw, seekable):
            source = raw
            if not seekable:
                spool = tempfile.TemporaryFile(prefix="drift-layer-")  # noqa: SIM115 - kept until exit
                self._spool = spool  # type: ignore[assignment]
                while chunk := raw.read(1 << 20):
                    spool.write(chunk)
                spool.flush()
                spool.seek(0)
                source = spool  # type: ignore[assignment]
            for path, member in self._members(Reader(source, seekable=True)):
                if member.kind == "file":
                    index[path] = (member.offset, member.size)
        self._index = index

    def open(self, path: str) -> BinaryIO:
        """Read one member's content, streamed (files a snapshot copies, unexplained files)."""
        try:
            with self._lock:
                if self._index is None:
                    self._build_index()
            assert self._index is not None
            where = self._index.get(path)
            if where is None:
                raise FileNotFoundError(path)
            offset, size = where
            if self._spool is not None:
                return io.BufferedReader(_Slice(self._spool.fileno(), offset, size))  # type: ignore[return-value]
            fh = self.opener()
            if fh.seekable():
                fh.seek(offset)
            return io.BufferedReader(_Limited(fh, size))  # type: ignore[return-value]
        except (UnsafeArchive, CorruptArchive, FileNotFoundError):
            raise
        except _TAR_ERRORS as exc:
            raise self._corrupt(exc) from exc


class _Limited(io.RawIOBase):
    """At most `size` bytes of a stream positioned at a member's data; closes the stream."""

    def __init__(self, fh: BinaryIO, size: int) -> None:
        self._fh, self._left = fh, size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]  # RawIOBase signature
        want = min(len(buffer), self._left)
        if want <= 0:
            return 0
        data = self._fh.read(want)
        if not data:
            raise CorruptArchive("a layer member is cut short")
        buffer[: len(data)] = data
        self._left -= len(data)
        return len(data)

    def close(self) -> None:
        self._fh.close()
        super().close()


def _shown(name: str) -> str:
    """A member name for a message: quoted, control characters and undecodable bytes escaped."""
    return ascii(name) if not name.isprintable() else repr(name)
