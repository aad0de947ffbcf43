"""What differs between SQL engines, kept in one small object.

The store writes its SQL once, with `?` placeholders and standard `INSERT ... ON CONFLICT`
upserts (SQLite >= 3.24 and PostgreSQL both speak them) and `RETURNING`. A dialect says how
to connect, how placeholders are spelled, and the few type names that differ. A PostgreSQL
dialect (psycopg, `%s` placeholders, `BIGSERIAL`) is the next one to add; nothing else in
the store needs to change for it.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlparse

from drift.errors import DriftError


class StoreError(DriftError):
    """The history store cannot be opened, read or written."""


@dataclass(frozen=True, slots=True)
class Dialect:
    name: str
    paramstyle: str  # "qmark" or "format"
    id_column: str  # an auto-incrementing integer primary key
    blob: str
    begin: str  # starts a write transaction that holds the write lock from its first statement

    def sql(self, text: str) -> str:
        return text.replace("?", "%s") if self.paramstyle == "format" else text


SQLITE = Dialect(
    name="sqlite",
    paramstyle="qmark",
    id_column="INTEGER PRIMARY KEY AUTOINCREMENT",
    blob="BLOB",
    begin="BEGIN IMMEDIATE",
)


@dataclass(frozen=True, slots=True)
class StoreURL:
    dialect: Dialect
    path: str  # file path for SQLite
    text: str

    def connect(self, *, busy_timeout: float) -> Any:
        if self.dialect is SQLITE:
            conn = sqlite3.connect(self.path, timeout=busy_timeout, isolation_level=None)
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            return conn
        raise StoreError(f"no driver for {self.text}")


def default_path() -> str:
    explicit = os.environ.get("DRIFT_STORE")
    if explicit:
        return explicit
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(base, "drift", "history.sqlite")


def parse_url(text: str | None) -> StoreURL:
    """A plain path, or a URL as SQLAlchemy spells them: `sqlite:////abs/path` (four
    slashes: absolute), `sqlite:///relative/path`; None = the default place."""
    text = text or default_path()
    if "://" not in text and not text.startswith("sqlite:"):
        return StoreURL(SQLITE, os.path.abspath(os.path.expanduser(text)), text)
    url = urlparse(text)
    if url.scheme == "sqlite":
        path = unquote(url.path if url.netloc in ("", "localhost") else url.netloc + url.path)
        path = path[1:] if path.startswith("/") else path
        if not path:
            raise StoreError(f"--store {text}: no file path (use sqlite:////ABSOLUTE/PATH or sqlite:///RELATIVE/PATH)")
        return StoreURL(SQLITE, os.path.abspath(os.path.expanduser(path)), text)
    if url.scheme in ("postgres", "postgresql"):
        raise StoreError(f"--store {text}: PostgreSQL stores are not supported yet; use sqlite:///PATH")
    raise StoreError(f"--store {text}: unknown scheme {url.scheme!r}; use sqlite:///PATH")
