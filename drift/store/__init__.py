"""The history store: every SQL statement drift runs lives in this package.

    open_store(url) -> Store   (locked, checked, migrated; closed and unlocked on exit)

SQLite by default ($DRIFT_STORE, else $XDG_STATE_HOME/drift/history.sqlite, else
~/.local/state/drift/history.sqlite), in WAL mode with a busy timeout, behind an advisory
lock so overlapping runs never interleave. A file that is not a healthy drift store is
refused with one line and never written to. `postgresql://USER@HOST/DB` is one store shared
by many hosts (drift/store/pg.py): same schema, same queries, same migrations.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator

from drift.store import migrate
from drift.store.dialect import POSTGRES, StoreError, StoreURL, parse_url
from drift.store.lock import StoreBusy, exclusive
from drift.store.queries import Store
from drift.trust import distrust

__all__ = ["Store", "StoreBusy", "StoreError", "open_store", "parse_url"]

_MAGIC = b"SQLite format 3\x00"


@contextlib.contextmanager
def open_store(
    url: str | None, *, lock_timeout: float = 300.0, write: bool = True, create: bool | None = None
) -> Iterator[Store]:
    """`write=True` holds the store's lock while it is open (one writer at a time); a reader
    takes it only to upgrade the schema. `create` (default: `write`) makes a new store."""
    parsed = parse_url(url)
    shown = parsed.path
    if parsed.dialect is POSTGRES:
        from drift.store import pg

        with pg.session(parsed, lock_timeout=lock_timeout, write=write, create=create) as conn:
            yield Store(conn, parsed.dialect, shown)
        return
    if not (write if create is None else create) and not os.path.exists(parsed.path):
        raise StoreError(f"no history store at {shown}: run 'drift report' first (or pass --store)")
    folder = os.path.dirname(parsed.path)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the folder {folder} for the history store: {exc.strerror}") from exc
    _check_trust(parsed.path)
    _check_file(parsed.path)
    lock = exclusive(parsed.path, timeout=lock_timeout, what=f"the history store {shown}")
    with contextlib.ExitStack() as stack:
        if write:
            stack.enter_context(lock)
        conn = _connect(parsed)
        stack.callback(conn.close)
        try:
            if migrate.version(conn) != migrate.LATEST:
                with contextlib.nullcontext() if write else lock:
                    migrate.upgrade(conn, parsed)
            yield Store(conn, parsed.dialect, shown)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"the history store {shown} failed: {exc}") from exc


def _check_trust(path: str) -> None:
    """A store (or its folder, a folder above, its lock or journal) that others can write is
    refused before anything is opened or written: its rows would be someone else's word."""
    for name in (path, path + "-wal", path + "-shm", path + ".lock"):
        bad = distrust(name)
        if bad is not None:
            where = "" if bad.path == path else f": {bad.path}"
            raise StoreError(
                f"the history store {path}{where} is {bad.why}: refused, nothing was written; "
                f"fix with {bad.fix} or pass --store PATH"
            )


def _check_file(path: str) -> None:
    if not os.path.exists(path):
        return
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(_MAGIC))
    except OSError as exc:
        raise StoreError(f"cannot read the history store {path}: {exc.strerror}") from exc
    if head and head != _MAGIC:
        raise StoreError(
            f"{path} is not a drift history store (not an SQLite file); it was left as it is: "
            "move it away or pass --store PATH"
        )


def _connect(url: StoreURL) -> sqlite3.Connection:
    path = url.path
    try:
        conn = url.connect(busy_timeout=60.0)
        ok = conn.execute("PRAGMA quick_check").fetchone()
        if not ok or ok[0] != "ok":
            raise sqlite3.DatabaseError(ok[0] if ok else "no answer")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as exc:
        raise StoreError(
            f"the history store {path} is damaged ({exc}); it was left as it is: "
            "restore a backup (history.sqlite.bak-*) or move it away to start a new history"
        ) from exc
    if tables and "schema_migrations" not in tables:
        conn.close()
        raise StoreError(f"{path} is an SQLite file but not a drift history store; it was left as it is")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")  # WAL: never corrupt; a power cut may lose the last run only
    conn.execute("PRAGMA foreign_keys = ON")
    return conn
