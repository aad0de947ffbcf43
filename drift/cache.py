"""The layer cache: what a layer holds, scanned once, keyed by the layer's digest.

An embedded SQLite store in the user's cache folder ($DRIFT_CACHE_DIR, else
$XDG_CACHE_HOME/drift, else ~/.cache/drift). Image layers are content-addressed (their
diff_id is the sha256 of their tar), so a changed layer has another key and is never
served from here; layers without a digest (a container's own changes, a root folder) are
never cached. Archive layers are cached only after their content was hashed and found
equal to the diff_id they claim (see TarLayer). Rows are data, never code: a small JSON
header (zlib'd) followed by the captured file contents, read back with strict type checks.
Each row carries a checksum: a damaged row is dropped and scanned again, a damaged database
file is replaced. SQLite's locking lets several drift processes share it. The folder is
made 0700 and the database 0600. The cache is optional: a location that cannot be used
(read-only, missing parent, not a folder, disk full) costs one warning, and the run goes
on without it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import zlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from drift import say
from drift.errors import DriftError
from drift.sources.fs import Entry, Layer, LayerScan
from drift.trust import Distrust, distrust

# Bump when LayerScan or what a scan captures changes: old rows are then ignored (never
# decoded). 4: JSON rows instead of pickles (format 3 and older rows are never unpickled).
FORMAT = 4
_KINDS = frozenset({"file", "dir", "symlink", "hardlink", "char", "block", "fifo", "socket"})


class BadRow(ValueError):
    """A stored row that is not what drift writes."""


def encode(scan: LayerScan) -> bytes:
    """A scan as bytes: 8-byte header length, JSON header (entries by column: quick to load
    and check), then the captured contents."""
    blobs = list(scan.blobs.items())
    header = {
        "digest": scan.digest,
        "entries": [list(scan.entries), *map(list, zip(*scan.entries.values(), strict=True))] if scan.entries else [],
        "whiteouts": scan.whiteouts,
        "opaque": scan.opaque,
        "md5": scan.md5,
        "blobs": [[path, len(data)] for path, data in blobs],
    }
    head = json.dumps(header, separators=(",", ":")).encode()
    return zlib.compress(b"".join([len(head).to_bytes(8, "big"), head, *(data for _, data in blobs)]), 1)


def _strs(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadRow("a list of paths holds something else")
    return value


def _entries(columns: Any) -> dict[str, Entry]:
    """Entries stored by column (paths, kinds, modes, uids, gids, sizes, mtimes, links)."""
    if columns == []:
        return {}
    if not isinstance(columns, list) or len(columns) != 8 or not all(isinstance(c, list) for c in columns):
        raise BadRow("the entries have the wrong shape")
    paths, kinds, modes, uids, gids, sizes, mtimes, links = columns
    if len({len(c) for c in columns}) != 1 or not set(kinds) <= _KINDS:
        raise BadRow("the entries have the wrong shape")
    if not all(type(x) is int for col in (modes, uids, gids, sizes, mtimes) for x in col):
        raise BadRow("an entry has the wrong types")
    if not all(type(x) is str for col in (paths, links) for x in col):
        raise BadRow("an entry has the wrong types")
    return dict(
        zip(paths, map(Entry._make, zip(kinds, modes, uids, gids, sizes, mtimes, links, strict=True)), strict=True)
    )


def decode(data: bytes) -> LayerScan:
    """The inverse of encode; BadRow (or a zlib/JSON error) for anything else."""
    raw = zlib.decompress(data)
    size = int.from_bytes(raw[:8], "big")
    header = json.loads(raw[8 : 8 + size])
    if not isinstance(header, dict) or not isinstance(header.get("md5"), dict):
        raise BadRow("the header has the wrong shape")
    digest = header.get("digest")
    if digest is not None and not isinstance(digest, str):
        raise BadRow("the digest is not a string")
    scan = LayerScan(digest=digest, whiteouts=_strs(header.get("whiteouts")), opaque=_strs(header.get("opaque")))
    scan.entries = _entries(header.get("entries"))
    md5 = header["md5"]
    if not all(isinstance(v, str) for v in md5.values()):
        raise BadRow("an md5 is not a string")
    scan.md5 = md5
    pos = 8 + size
    for item in header.get("blobs") or ():
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str) and type(item[1]) is int):
            raise BadRow("a content record has the wrong shape")
        if item[1] < 0 or pos + item[1] > len(raw):
            raise BadRow("a content record points outside the row")
        scan.blobs[item[0]] = raw[pos : pos + item[1]]
        pos += item[1]
        scan.captured += item[1]
    return scan


def warn(message: str) -> None:
    say.warning(message)


_warned: set[str] = set()


def _warn_once(message: str) -> None:
    """One warning per process for a cache others can write, however many caches (threads) find it."""
    if message not in _warned:
        _warned.add(message)
        warn(message)


def cache_dir() -> str:
    explicit = os.environ.get("DRIFT_CACHE_DIR")
    if explicit:
        return explicit
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "drift")


def db_path() -> str:
    return os.path.join(cache_dir(), "layers.sqlite")


class Unusable(Exception):
    """The cache location cannot be used; drift runs without a cache."""


class Untrusted(Unusable):
    """The cache folder, or a folder above it, or a file in it, is not only ours (see drift.trust)."""

    def __init__(self, folder: str, bad: Distrust) -> None:
        where = "" if bad.path == folder else f": {bad.path}"
        super().__init__(
            f"layer cache {folder}{where} is {bad.why}: not used; fix with {bad.fix} or set DRIFT_CACHE_DIR"
        )


def usable_folder() -> bool:
    """Whether the cache folder may hold drift's files (other than the database: the report's layer locks)."""
    return distrust(cache_dir()) is None


class LayerCache:
    def __init__(self, path: str | None = None) -> None:
        self.path = path or db_path()
        self.hits = 0
        self.misses = 0
        self.disabled = False
        self._conn: sqlite3.Connection | None = None

    def _disable(self, why: object) -> None:
        if isinstance(why, OSError) and why.strerror:
            why = f"{why.strerror}: {why.filename}" if why.filename else why.strerror
        if not self.disabled:
            self.disabled = True
            if isinstance(why, Untrusted):
                _warn_once(str(why))
            else:
                warn(f"the layer cache at {self.path} cannot be used ({why}); going on without it")
        self.close()

    def _make_folder(self) -> None:
        folder = os.path.dirname(self.path)
        if os.path.lexists(folder) and not os.path.isdir(folder):
            raise Unusable(f"{folder} is not a folder")
        if not os.path.isdir(folder):
            os.makedirs(folder, mode=0o700)
        for path in (folder, self.path, self.path + "-wal", self.path + "-shm"):
            bad = distrust(path)
            if bad is not None:
                raise Untrusted(folder, bad)
        st = os.stat(folder)
        if st.st_uid == os.getuid() and st.st_mode & 0o077:
            os.chmod(folder, 0o700)  # readable by others (an older drift, or by hand): make it private

    def _connect(self) -> sqlite3.Connection:
        if self.disabled:
            raise Unusable("disabled")
        if self._conn is not None:
            return self._conn
        try:
            self._make_folder()
            return self._open()
        except (OSError, sqlite3.Error, Unusable) as exc:
            self._disable(exc)
            raise Unusable(str(exc)) from exc

    def _open(self) -> sqlite3.Connection:
        for attempt in range(2):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
                try:
                    if os.fstat(fd).st_mode & 0o077:
                        os.fchmod(fd, 0o600)
                finally:
                    os.close(fd)
                conn = sqlite3.connect(self.path, timeout=60, check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS layers (key TEXT PRIMARY KEY, format INTEGER NOT NULL,"
                    " checksum TEXT NOT NULL, data BLOB NOT NULL, size INTEGER NOT NULL)"
                )
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS digests (key TEXT NOT NULL, path TEXT NOT NULL,"
                    " algorithm TEXT NOT NULL, size INTEGER NOT NULL, mtime INTEGER NOT NULL, value TEXT NOT NULL,"
                    " PRIMARY KEY (key, path, algorithm))"
                )
                conn.execute("SELECT count(*) FROM layers").fetchone()
                self._conn = conn
                return conn
            except sqlite3.DatabaseError as exc:
                if attempt or isinstance(exc, sqlite3.OperationalError):
                    raise
                _remove_db(self.path)  # damaged: start again, it is only a cache
        raise AssertionError("unreachable")

    @staticmethod
    def key(layer: Layer) -> str | None:
        if not layer.digest:
            return None
        return f"{layer.digest}|{getattr(layer, 'cache_salt', '')}"

    def get(self, key: str) -> LayerScan | None:
        try:
            row = self._connect().execute("SELECT format, checksum, data FROM layers WHERE key = ?", (key,)).fetchone()
        except (sqlite3.Error, Unusable):
            return None
        if row is None or row[0] != FORMAT:
            return None
        _, checksum, data = row
        if hashlib.sha256(data).hexdigest() != checksum:
            self.drop(key)
            return None
        try:
            return decode(data)
        except (BadRow, ValueError, zlib.error, RecursionError):
            self.drop(key)
            return None

    def put(self, key: str, scan: LayerScan) -> None:
        if self.disabled:
            return
        data = encode(scan)
        try:
            conn = self._connect()
            with conn:
                conn.execute(
                    "INSERT OR REPLACE INTO layers (key, format, checksum, data, size) VALUES (?, ?, ?, ?, ?)",
                    (key, FORMAT, hashlib.sha256(data).hexdigest(), data, len(data)),
                )
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError):  # full disk, read-only file, locked for a minute
                self._disable(exc)
        except Unusable:
            pass

    def digests(self, key: str) -> dict[tuple[str, str], tuple[int, int, str]]:
        """(path, algorithm) -> (size, mtime, hex digest) of the files of a layer hashed before
        (drift/inventory/verify.py): an image layer never changes under its digest."""
        try:
            rows = (
                self._connect()
                .execute("SELECT path, algorithm, size, mtime, value FROM digests WHERE key = ?", (key,))
                .fetchall()
            )
        except (sqlite3.Error, Unusable):
            return {}
        out: dict[tuple[str, str], tuple[int, int, str]] = {}
        for path, algorithm, size, mtime, value in rows:
            if all(isinstance(x, str) for x in (path, algorithm, value)) and all(type(x) is int for x in (size, mtime)):
                out[(path, algorithm)] = (size, mtime, value)
        return out

    def put_digests(self, key: str, rows: list[tuple[str, str, int, int, str]]) -> None:
        """Remember (path, algorithm, size, mtime, hex digest) rows of a layer."""
        if self.disabled or not rows:
            return
        try:
            conn = self._connect()
            with conn:
                conn.executemany(
                    "INSERT OR REPLACE INTO digests (key, path, algorithm, size, mtime, value)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    [(key, *row) for row in rows],
                )
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError):
                self._disable(exc)
        except Unusable:
            pass

    def drop(self, key: str) -> None:
        with contextlib.suppress(sqlite3.Error, Unusable):
            conn = self._connect()
            with conn:
                conn.execute("DELETE FROM layers WHERE key = ?", (key,))
                conn.execute("DELETE FROM digests WHERE key = ?", (key,))

    def stats(self) -> tuple[int, int]:
        if not os.path.exists(self.path):
            return 0, 0
        try:
            row = self._connect().execute("SELECT count(*), coalesce(sum(size), 0) FROM layers").fetchone()
        except (sqlite3.Error, Unusable):
            return 0, 0
        return int(row[0]), int(row[1])

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _remove_db(path: str) -> None:
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            os.unlink(path + suffix)


def clear() -> int:
    """Empty the cache; return how many bytes it held."""
    folder = cache_dir()
    size = 0
    for suffix in ("", "-wal", "-shm"):
        path = db_path() + suffix
        if os.path.exists(path):
            size += os.path.getsize(path)
    try:
        _remove_db(db_path())
    except OSError as exc:
        raise DriftError(f"cannot clear the layer cache at {db_path()}: {exc.strerror}") from exc
    size += _remove_blobs(os.path.join(folder, "blobs"))
    with contextlib.suppress(OSError):
        os.rmdir(folder)
    return size


def _remove_blobs(folder: str) -> int:
    """Registry layers (drift/sources/registry/blobs.py): plain files in sub-folders (`sha256` and
    `diffids` from drift before layers were kept uncompressed)."""
    size = 0
    for sub in ("layers", "sha256", "diffids"):
        where = os.path.join(folder, sub)
        if os.path.islink(where) or not os.path.isdir(where):
            continue
        for name in os.listdir(where):
            path = os.path.join(where, name)
            with contextlib.suppress(OSError):
                size += os.lstat(path).st_size
                os.unlink(path)
        with contextlib.suppress(OSError):
            os.rmdir(where)
    with contextlib.suppress(OSError):
        os.rmdir(folder)
    return size


def _workers(count: int) -> int:
    return max(1, min(count, os.cpu_count() or 1, 4))


def _trusted(layer: Layer) -> bool:
    """A layer whose digest is a claim is cached only after its scan hashed it."""
    return not getattr(layer, "verify", False) or bool(getattr(layer, "verified", False))


def scan_all(layers: list[Layer], cache: LayerCache | None) -> list[LayerScan]:
    """Scan layers (in parallel), serving and filling the cache when there is one."""
    if cache is not None:
        for layer in layers:  # the cache relies on every claimed digest: hash them all
            if getattr(layer, "verify", False):
                layer.relied = True  # type: ignore[attr-defined]
    out: list[LayerScan | None] = [None] * len(layers)
    todo: list[int] = []
    claims: list[Layer] = []  # hits whose layer only claims its digest (an archive): hashed, not parsed
    for i, layer in enumerate(layers):
        key = cache.key(layer) if cache else None
        hit = cache.get(key) if cache and key else None
        if cache is not None and hit is not None:
            cache.hits += 1
            out[i] = hit
            if getattr(layer, "verify", False):
                claims.append(layer)
        else:
            todo.append(i)
    if todo or claims:
        with ThreadPoolExecutor(max_workers=_workers(len(todo) + len(claims))) as pool:
            checked = pool.map(lambda layer: layer.check(), claims)  # type: ignore[attr-defined]
            for i, scan in zip(todo, pool.map(lambda j: layers[j].scan(), todo), strict=True):
                out[i] = scan
                key = cache.key(layers[i]) if cache else None
                if cache and key and not cache.disabled and _trusted(layers[i]):
                    cache.misses += 1
                    cache.put(key, scan)
            list(checked)  # raises what a check raised
    return [s for s in out if s is not None]
