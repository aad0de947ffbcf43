"""The schema's version and its upgrades, for SQLite and PostgreSQL alike (drift/store/schema.py
holds the statements): an SQLite store is backed up before it is upgraded; PostgreSQL's upgrade
is one transaction."""

from __future__ import annotations

import datetime as dt
import sqlite3
from typing import Any

from drift.store.dialect import SQLITE, StoreError, StoreURL
from drift.store.schema import LATEST, MIGRATIONS


def version(conn: Any) -> int:
    conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied TEXT NOT NULL)")
    row = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
    return int(row[0] or 0)


def upgrade(conn: Any, url: StoreURL) -> None:
    current = version(conn)
    if current > LATEST:
        raise StoreError(
            f"the history store {url.path} has schema version {current}, newer than this drift knows ({LATEST}): "
            "upgrade drift"
        )
    if current == LATEST:
        return
    if current > 0 and url.dialect is SQLITE:  # PostgreSQL: the upgrade is one transaction (DDL included)
        _backup(conn, url.path, current)
    for number, _, statements in MIGRATIONS:
        if number <= current:
            continue
        conn.execute(url.dialect.begin)
        try:
            for stmt in statements:
                conn.execute(stmt.format(id=url.dialect.id_column, blob=url.dialect.blob))
            now = dt.datetime.now(dt.timezone.utc).isoformat()
            conn.execute(
                url.dialect.sql("INSERT INTO schema_migrations (version, applied) VALUES (?, ?)"), (number, now)
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def _backup(conn: sqlite3.Connection, path: str, current: int) -> None:
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    dest_path = f"{path}.bak-v{current}-{stamp}"
    dest = sqlite3.connect(dest_path)
    try:
        conn.backup(dest)
    finally:
        dest.close()
