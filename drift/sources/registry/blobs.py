"""Registry layers on disk, uncompressed, keyed by diff_id, and the layers read from them.

A layer is fetched in one streaming pass: the blob as the registry sends it is counted
against the manifest's size (never more) and hashed (its digest), inflated (gzip, zstd, or
none) under the same bounds as an archive's layer, the plain tar hashed (the diff_id the
image config names), written to a temporary file, and scanned, all as the bytes go by.
Only when both digests match is the tar renamed to `blobs/layers/HEX.tar` (HEX of the
diff_id) of the layer cache's folder (DRIFT_CACHE_DIR ...), beside `HEX.json`: where each
file's data starts in it (so content reads seek, as in a `docker save` archive) and the
tar's stamp (inode, size, ctime, mtime) taken when it was kept. A later run uses the tar
only while its stamp is the same: a tar changed or replaced since (anything that writes to
it moves its ctime) is dropped and fetched again, never trusted. Scans are cached under the
diff_id in the layer cache like any layer's, so a warm run reads the manifest and config,
finds every scan there, and reads from these tars only the few files a command needs.

Writing is bounded: the plain tar stops with an error when the folder's filesystem would be
left with less than RESERVE free (a decompression bomb cannot fill the disk). `drift cache
clear` removes the folder. With --no-cache (DRIFT_NO_CACHE=1), or when the cache folder is
not drift's to trust (drift/trust.py), nothing outlives the run: as for an archive, a layer
nothing relies on (`TarLayer.relied`) has only its blob digest checked, not its diff_id, and the
scan writes no tar at all. It holds in memory the small files of the dpkg database (HELD_MAX
each, HELD_BUDGET a layer), which is all an inspection reads after the scan; the first read of
any other file fetches the layer again, this time written to a temporary folder removed at
the end of the run (a snapshot or --verify-packages pays one more download; an inspection
does not write the hundreds of MB of a layer it never reads again).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import stat
import tempfile
import threading
from collections.abc import Iterator
from typing import Any, BinaryIO

from drift import cache, say
from drift.errors import CorruptArchive, DriftError, UnsafeArchive
from drift.sources.fs import LayerScan
from drift.sources.registry.client import Client
from drift.sources.tarlayer import _TAR_ERRORS, TarLayer
from drift.sources.tarread import Reader
from drift.trust import distrust

RESERVE = 512 << 20  # free space a layer's tar must leave on the cache's filesystem
GUARD_EVERY = 64 << 20  # free space is looked at after each this many bytes written
_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
HELD_PREFIX = "/var/lib/dpkg/"  # what a scan that writes no tar holds in memory for later reads
HELD_MAX = 1 << 20  # per file
HELD_BUDGET = 8 << 20  # per layer


class Store:
    """The folder of uncompressed layers: the cache's, or a temporary one for this run."""

    def __init__(self, stack: contextlib.ExitStack) -> None:
        self.persistent = False
        root = None
        if os.environ.get("DRIFT_NO_CACHE") != "1":
            folder = cache.cache_dir()
            if distrust(folder) is None:
                root = os.path.join(folder, "blobs")
                try:
                    for sub in ("", "layers"):
                        os.makedirs(os.path.join(root, sub), mode=0o700, exist_ok=True)
                    self.persistent = distrust(os.path.join(root, "layers")) is None
                except OSError as exc:
                    say.warning(f"registry layers cannot be kept in {root} ({exc.strerror}); using a temporary folder")
                    root = None
                if not self.persistent:
                    root = None
        if root is None:
            root = stack.enter_context(tempfile.TemporaryDirectory(prefix="drift-layers-"))
            os.makedirs(os.path.join(root, "layers"), mode=0o700)
        self.folder = os.path.join(root, "layers")
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def lock(self, diff_id: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(diff_id, threading.Lock())

    def tar_path(self, diff_id: str) -> str:
        return os.path.join(self.folder, diff_id.removeprefix("sha256:") + ".tar")

    def _meta_path(self, diff_id: str) -> str:
        return os.path.join(self.folder, diff_id.removeprefix("sha256:") + ".json")

    def kept(self, diff_id: str) -> dict[str, tuple[int, int]] | None:
        """The file index of the layer's tar kept before, if it is still what was kept."""
        try:
            with open(self._meta_path(diff_id), "rb") as fh:
                meta = json.loads(fh.read(64 << 20))
            st = os.stat(self.tar_path(diff_id), follow_symlinks=False)
        except (OSError, ValueError, RecursionError):
            return None
        if not isinstance(meta, dict) or meta.get("diff_id") != diff_id or not stat.S_ISREG(st.st_mode):
            return None
        if meta.get("stamp") != _stamp(st):
            return None  # changed or replaced since it was checked: fetched again (and replaced)
        rows = meta.get("index")
        if not isinstance(rows, list):
            return None
        index: dict[str, tuple[int, int]] = {}
        for row in rows:
            if not (isinstance(row, list) and len(row) == 3 and isinstance(row[0], str)):
                return None
            offset, size = row[1], row[2]
            if type(offset) is not int or type(size) is not int or offset < 0 or size < 0 or offset + size > st.st_size:
                return None
            index[row[0]] = (offset, size)
        return index

    def keep(self, diff_id: str, part: str, fd: int, index: dict[str, tuple[int, int]]) -> str:
        """Put a checked tar under its diff_id, with its index and stamp; its path."""
        final = self.tar_path(diff_id)
        os.replace(part, final)
        meta = {
            "diff_id": diff_id,
            "stamp": _stamp(os.fstat(fd)),  # after the rename, which moves the ctime
            "index": [[path, offset, size] for path, (offset, size) in index.items()],
        }
        fd_meta, tmp = tempfile.mkstemp(prefix=".part-", dir=self.folder)
        try:
            with os.fdopen(fd_meta, "w", encoding="utf-8") as fh:
                json.dump(meta, fh, separators=(",", ":"))
            os.replace(tmp, self._meta_path(diff_id))
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        return final

    def discard(self, diff_id: str) -> None:
        for path in (self._meta_path(diff_id), self.tar_path(diff_id)):
            with contextlib.suppress(OSError):
                os.unlink(path)

    def check_space(self, written: int, what: str) -> None:
        try:
            vfs = os.statvfs(self.folder)
        except OSError:
            return
        if vfs.f_bavail * vfs.f_frsize < RESERVE:
            raise DriftError(
                f"{what}: its tar grows past {written >> 20} MB and would leave less than {RESERVE >> 20} MB free "
                f"in {self.folder}; refused (a decompression bomb, or too little space: free some, or point "
                "DRIFT_CACHE_DIR or TMPDIR (with --no-cache) at a larger disk)"
            )


def _stamp(st: os.stat_result) -> list[int]:
    return [st.st_ino, st.st_size, st.st_ctime_ns, st.st_mtime_ns]


class _Blob:
    """The blob's bytes as the registry sends them, as a stream: never more than the manifest
    declares, hashed as they go by."""

    def __init__(self, chunks: Iterator[bytes], size: int | None, what: str) -> None:
        self.chunks, self.size, self.what = chunks, size, what
        self.sha = hashlib.sha256()
        self.total = 0
        self.buf = memoryview(b"")

    def read(self, n: int = -1) -> bytes:
        if not self.buf:
            chunk = next(self.chunks, b"")
            if not chunk:
                return b""
            self.total += len(chunk)
            if self.size is not None and self.total > self.size:
                raise CorruptArchive(
                    f"{self.what}: the registry sends more than the {self.size} bytes its manifest declares; refused"
                )
            self.sha.update(chunk)
            self.buf = memoryview(chunk)
        if n is None or n < 0:
            n = len(self.buf)
        out, self.buf = self.buf[:n], self.buf[n:]
        return bytes(out)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def peek(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = next(self.chunks, b"")
            if not chunk:
                break
            self.total += len(chunk)
            if self.size is not None and self.total > self.size:
                raise CorruptArchive(
                    f"{self.what}: the registry sends more than the {self.size} bytes its manifest declares; refused"
                )
            self.sha.update(chunk)
            self.buf = memoryview(bytes(self.buf) + chunk)
        return bytes(self.buf[:n])

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def drain(self) -> None:
        while self.read(1 << 20):
            pass

    def verify(self, digest: str) -> None:
        if self.size is not None and self.total != self.size:
            raise CorruptArchive(
                f"{self.what}: the registry sent {self.total} bytes, not the {self.size} its manifest declares"
            )
        actual = "sha256:" + self.sha.hexdigest()
        if actual != digest:
            raise CorruptArchive(f"{self.what}: the content hashes to {actual}, not to {digest}; refused")


class _Tee:
    """The plain tar as it is inflated: written to the part file, hashed when asked, its
    growth held to the free space left."""

    def __init__(self, plain: Any, out: BinaryIO | None, store: Store, *, hashed: bool, what: str) -> None:
        self.plain, self.out, self.store, self.what = plain, out, store, what
        self.sha = hashlib.sha256() if hashed else None
        self.total = 0
        self.next_guard = GUARD_EVERY

    def read(self, n: int = -1) -> bytes:
        data: bytes = self.plain.read(n)
        if data:
            if self.out is not None:
                self.out.write(data)
            if self.sha is not None:
                self.sha.update(data)
            self.total += len(data)
            if self.out is not None and self.total >= self.next_guard:
                self.next_guard = self.total + GUARD_EVERY
                self.store.check_space(self.total, self.what)
        return data

    def seekable(self) -> bool:
        return False

    def drain(self) -> str | None:
        """Read to the end (padding after the end-of-archive marker counts); the diff_id when hashed."""
        while self.read(1 << 20):
            pass
        return "sha256:" + self.sha.hexdigest() if self.sha is not None else None


@contextlib.contextmanager
def _inflated(blob: _Blob, what: str) -> Iterator[Any]:
    head = blob.peek(4)
    if head.startswith(b"\x1f\x8b"):
        try:
            from isal import igzip as gz  # ISA-L: the same gzip, inflated 2x faster than zlib
        except ImportError:  # pragma: no cover - a dependency; zlib does the same, slower
            import gzip as gz  # type: ignore[no-redef]
        with gz.GzipFile(fileobj=blob) as stream:  # type: ignore[arg-type]
            yield stream
    elif head.startswith(b"\x28\xb5\x2f\xfd"):
        from drift.sources import zstd

        with zstd.reader(blob, what) as stream:  # type: ignore[arg-type]
            yield stream
    else:
        yield blob


class _Read:
    """A member's content read already, handed to the scan as its reader would."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def read_data(self, member: object) -> bytes:
        return self.data


class RegistryLayer(TarLayer):
    """A TarLayer over a registry layer's uncompressed tar on disk, fetched the first time it is needed."""

    def __init__(
        self,
        store: Store,
        client: Client,
        blob: str,
        size: int | None,
        *,
        digest: str,
        description: str,
    ) -> None:
        super().__init__(
            self._open_plain,
            digest=digest,
            description=description,
            cache_salt=f"{blob}:{size if size is not None else ''}",  # as an OCI layout's layer: one scan for both
            verify=True,
        )
        self.store, self.client, self.blob, self.size = store, client, blob, size
        self.diff_id = digest
        self._plain: str | None = None
        self._held: dict[str, bytes] | None = None  # scanned without a tar: the files kept for reads

    def _open_plain(self) -> BinaryIO:
        path = self._ensure()
        return os.fdopen(os.open(path, _FLAGS), "rb")

    def _take_kept(self) -> bool:
        index = self.store.kept(self.diff_id)
        if index is None:
            return False
        with self._lock:
            self._index = index
        self._plain = self.store.tar_path(self.diff_id)
        return True

    def _ensure(self) -> str:
        """The layer's tar on disk: kept from an earlier run, or fetched now."""
        with self.store.lock(self.diff_id):
            if self._plain is None and not self._take_kept():
                self._fetch(scan=False)
        assert self._plain is not None
        return self._plain

    def check(self) -> None:
        """A cached scan is used only with the layer's checked tar on disk (fetched if it is not)."""
        self._ensure()

    def scan(self) -> LayerScan:
        with self.store.lock(self.diff_id):
            if self._plain is None and not self._take_kept():
                return self._fetch(scan=True)
        # kept earlier after both digests matched, and unchanged since: read by seeking, not hashed again
        out = LayerScan(digest=self.digest)
        try:
            with self._open_plain() as fh:
                reader = Reader(fh, seekable=True)
                for path, member in self._members(reader):
                    self._add(out, reader, path, member)
        except (UnsafeArchive, CorruptArchive):
            raise
        except _TAR_ERRORS as exc:
            raise self._corrupt(exc) from exc
        self.verified = True
        return out

    def _fetch(self, *, scan: bool) -> LayerScan:
        """One pass: download, count and hash the blob, inflate, hash and write the tar, scan it.
        A scan for this run only writes no tar: it holds the dpkg database's files instead."""
        out = LayerScan(digest=self.digest)
        index: dict[str, tuple[int, int]] = {}
        hashed = self.store.persistent or self.relied
        write = self.store.persistent or not scan
        held: dict[str, bytes] = {}
        budget = HELD_BUDGET
        if write:
            fd, part = tempfile.mkstemp(prefix=".part-", dir=self.store.folder)
            dest: Any = os.fdopen(fd, "wb")
        else:
            part, dest = "", contextlib.nullcontext()
        done = False
        try:
            with dest, self.client.blob_chunks(self.blob, self.description) as chunks:
                blob = _Blob(chunks, self.size, self.description)
                try:
                    with _inflated(blob, self.description) as plain:
                        tee = _Tee(plain, dest if write else None, self.store, hashed=hashed, what=self.description)
                        reader = Reader(tee, seekable=False)  # type: ignore[arg-type]
                        for path, member in self._members(reader):
                            source: Any = reader
                            if member.kind == "file":
                                index[path] = (member.offset, member.size)
                                if not write and path.startswith(HELD_PREFIX) and member.size <= min(HELD_MAX, budget):
                                    data = reader.read_data(member)
                                    held[path] = data
                                    budget -= len(data)
                                    source = _Read(data)
                            if scan:
                                self._add(out, source, path, member)
                        actual = tee.drain()
                    blob.drain()
                except (UnsafeArchive, CorruptArchive, DriftError):
                    raise
                except _TAR_ERRORS as exc:
                    blob.drain()  # a blob that is not what its digest names says so first
                    blob.verify(self.blob)
                    raise self._corrupt(exc) from exc
                blob.verify(self.blob)
                self._refuse_mismatch(actual)
                with self._lock:
                    self._index = index
                if not write:
                    self._held = held  # no tar: a read of any other file fetches it (_ensure)
                elif self.store.persistent and actual is not None:
                    dest.flush()
                    self._plain = self.store.keep(self.diff_id, part, dest.fileno(), index)
                else:
                    dest.flush()
                    self._plain = part  # a temporary folder's, for this run only
                done = True
        finally:
            if not done and part:
                with contextlib.suppress(OSError):
                    os.unlink(part)
        self.verified = actual is not None
        return out

    def open(self, path: str) -> BinaryIO:
        with self._lock:
            held = self._held.get(path) if self._held is not None else None
            unknown = self._held is not None and self._index is not None and path not in self._index
        if held is not None:
            return io.BytesIO(held)
        if unknown:
            raise FileNotFoundError(path)  # no such file in this layer: nothing to fetch again
        self._ensure()  # the tar and its index, before TarLayer.open takes its lock
        return super().open(path)

    def _refuse_mismatch(self, actual: str | None) -> None:
        if actual is not None and actual != self.diff_id:
            raise CorruptArchive(
                f"{self.description}: its tar hashes to {actual}, not to the diff_id {self.diff_id} the image config "
                "names; the image in the registry is damaged or forged (push it again)"
            )

    def _corrupt(self, exc: BaseException) -> CorruptArchive:
        return CorruptArchive(
            f"{self.description} is corrupt or truncated ({exc or type(exc).__name__}); push the image again"
        )
