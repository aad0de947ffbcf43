"""The layer cache: what a layer holds, scanned once, keyed by the layer's digest.

An embedded SQLite store in the user's cache folder ($DRIFT_CACHE_DIR, else
$XDG_CACHE_HOME/drift, else ~/.cache/drift). Image layers are content-addressed (their
diff_id is the sha256 of their tar), so a changed layer has another key and is never
served from here; layers without a digest (a container's own changes, a root folder) are
never cached. Each row carries a checksum: a damaged row is dropped and scanned again, a
damaged database file is replaced. SQLite's locking lets several drift processes share it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import sqlite3
import zlib
from concurrent.futures import ThreadPoolExecutor

from drift.sources.fs import Layer, LayerScan

# Bump when LayerScan or what a scan captures changes: old rows are then ignored.
FORMAT = 3


def cache_dir() -> str:
    explicit = os.environ.get("DRIFT_CACHE_DIR")
    if explicit:
        return explicit
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "drift")


def db_path() -> str:
    return os.path.join(cache_dir(), "layers.sqlite")


class LayerCache:
    def __init__(self, path: str | None = None) -> None:
        self.path = path or db_path()
        self.hits = 0
        self.misses = 0
        self._conn: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._conn is not None:
            return self._conn
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        for attempt in range(2):
            try:
                conn = sqlite3.connect(self.path, timeout=60, check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS layers (key TEXT PRIMARY KEY, format INTEGER NOT NULL,"
                    " checksum TEXT NOT NULL, data BLOB NOT NULL, size INTEGER NOT NULL)"
                )
                conn.execute("SELECT count(*) FROM layers").fetchone()
                self._conn = conn
                return conn
            except sqlite3.DatabaseError:
                if attempt:
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
        except sqlite3.DatabaseError:
            return None
        if row is None or row[0] != FORMAT:
            return None
        _, checksum, data = row
        if hashlib.sha256(data).hexdigest() != checksum:
            self.drop(key)
            return None
        try:
            scan = pickle.loads(zlib.decompress(data))
        except Exception:
            self.drop(key)
            return None
        return scan if isinstance(scan, LayerScan) else None

    def put(self, key: str, scan: LayerScan) -> None:
        data = zlib.compress(pickle.dumps(scan, protocol=pickle.HIGHEST_PROTOCOL), 1)
        with contextlib.suppress(sqlite3.DatabaseError):
            conn = self._connect()
            with conn:
                conn.execute(
                    "INSERT OR REPLACE INTO layers (key, format, checksum, data, size) VALUES (?, ?, ?, ?, ?)",
                    (key, FORMAT, hashlib.sha256(data).hexdigest(), data, len(data)),
                )

    def drop(self, key: str) -> None:
        with contextlib.suppress(sqlite3.DatabaseError):
            conn = self._connect()
            with conn:
                conn.execute("DELETE FROM layers WHERE key = ?", (key,))

    def stats(self) -> tuple[int, int]:
        if not os.path.exists(self.path):
            return 0, 0
        row = self._connect().execute("SELECT count(*), coalesce(sum(size), 0) FROM layers").fetchone()
        return int(row[0]), int(row[1])

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _remove_db(path: str) -> None:
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path + suffix)


def clear() -> int:
    """Empty the cache; return how many bytes it held."""
    folder = cache_dir()
    size = 0
    for suffix in ("", "-wal", "-shm"):
        path = db_path() + suffix
        if os.path.exists(path):
            size += os.path.getsize(path)
    _remove_db(db_path())
    with contextlib.suppress(OSError):
        os.rmdir(folder)
    return size


def _workers(count: int) -> int:
    return max(1, min(count, os.cpu_count() or 1, 4))


def scan_all(layers: list[Layer], cache: LayerCache | None) -> list[LayerScan]:
    """Scan layers (in parallel), serving and filling the cache when there is one."""
    out: list[LayerScan | None] = [None] * len(layers)
    todo: list[int] = []
    for i, layer in enumerate(layers):
        key = cache.key(layer) if cache else None
        hit = cache.get(key) if cache and key else None
        if cache is not None and hit is not None:
            cache.hits += 1
            out[i] = hit
        else:
            todo.append(i)
    if todo:
        with ThreadPoolExecutor(max_workers=_workers(len(todo))) as pool:
            for i, scan in zip(todo, pool.map(lambda j: layers[j].scan(), todo), strict=True):
                out[i] = scan
                key = cache.key(layers[i]) if cache else None
                if cache and key:
                    cache.misses += 1
                    cache.put(key, scan)
    return [s for s in out if s is not None]
