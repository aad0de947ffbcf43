"""The PostgreSQL side of the store: one shared history for many hosts.

    connect(url) -> a psycopg 3 connection (autocommit; the store begins its own transactions)
    session(url) -> connected, holding the store's advisory lock, checked

Many hosts' cron jobs write into one database. A run holds a session-level advisory lock
(`pg_try_advisory_lock`) from its first read to its last write, as the SQLite store holds its
lock file: runs from several hosts are serialized, so each is recorded exactly once and a run's
states are computed against a history no other run is changing under it. The lock is released
when the session ends, even if the host running drift dies.
"""

from __future__ import annotations

import contextlib
import os
import platform
import time
from collections.abc import Iterator
from typing import Any

from drift.store import migrate
from drift.store.dialect import StoreError, StoreURL
from drift.store.lock import StoreBusy

LOCK_KEY = 0x64726966  # "drif": one lock for the whole store


def _driver() -> Any:
    try:
        import psycopg
    except ImportError as exc:
        raise StoreError(
            "a postgresql:// store needs the PostgreSQL driver: pip install 'drift[postgres]' (psycopg 3)"
        ) from exc
    return psycopg


def _line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def connect(text: str, shown: str, *, timeout: float) -> Any:
    psycopg = _driver()
    try:
        return psycopg.connect(
            text,
            autocommit=True,
            connect_timeout=max(2, int(min(timeout, 30))),
            application_name=f"drift on {platform.node()} pid {os.getpid()}"[:63],
        )
    except psycopg.Error as exc:
        raise StoreError(f"cannot connect to the history store {shown}: {_line(exc)}") from exc


@contextlib.contextmanager
def session(url: StoreURL, *, lock_timeout: float, write: bool, create: bool | None = None) -> Iterator[Any]:
    """A writer holds the lock while the store is open; a reader takes it only to upgrade the schema."""
    psycopg = _driver()
    conn = connect(url.text, url.path, timeout=60.0)
    try:
        if not (write if create is None else create) and "schema_migrations" not in tables(conn):
            raise StoreError(f"no drift history in {url.path}: run 'drift report --store URL' first")
        _foreign(conn, url.path)
        lock = _locked(conn, timeout=lock_timeout, what=f"the history store {url.path}")
        with contextlib.ExitStack() as stack:
            if write:
                stack.enter_context(lock)
            if migrate.version(conn) != migrate.LATEST:
                with contextlib.nullcontext() if write else lock:
                    migrate.upgrade(conn, url)
            yield conn
    except psycopg.Error as exc:
        raise StoreError(f"the history store {url.path} failed: {_line(exc)}") from exc
    finally:
        conn.close()


def tables(conn: Any) -> set[str]:
    rows = conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
    ).fetchall()
    return {r[0] for r in rows}


def _foreign(conn: Any, shown: str) -> None:
    names = tables(conn)
    if {"runs", "targets", "findings"} & names and "schema_migrations" not in names:
        raise StoreError(
            f"{shown} has tables of its own (runs, targets or findings) but is not a drift history store; "
            "it was left as it is: use another database or schema"
        )


@contextlib.contextmanager
def _locked(conn: Any, *, timeout: float, what: str) -> Iterator[None]:
    deadline = time.monotonic() + timeout
    while not conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()[0]:
        if time.monotonic() >= deadline:
            raise StoreBusy(
                f"{what} is in use by another drift run{_holder(conn)}; waited {timeout:g}s: "
                "let it finish, or raise --lock-timeout"
            )
        time.sleep(0.2)
    try:
        yield
    finally:
        with contextlib.suppress(Exception):  # the session's end releases it anyway
            conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))


def _holder(conn: Any) -> str:
    try:
        row = conn.execute(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.granted AND l.objid::bigint = %s LIMIT 1",
            (LOCK_KEY,),
        ).fetchone()
    except Exception:
        return ""
    return f" ({row[0]})" if row and row[0] else ""
