"""A real PostgreSQL server for the store tests (scripts/postgres.sh: Debian's postgresql,
a throwaway cluster on a unix socket, stopped at the end of the session), and the `store_url`
fixture that runs a test once per store kind.
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RUN_ID, in_ci

ROOT = Path(__file__).resolve().parent.parent
_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """The URL of a fresh PostgreSQL server's `drift` database (a session-wide server)."""
    if shutil.which("runuser") is None:
        pytest.skip("no runuser: scripts/postgres.sh needs root and util-linux")
    folder = tempfile.mkdtemp(prefix=f"drift-pg-{RUN_ID}-")
    script = str(ROOT / "scripts" / "postgres.sh")
    proc = subprocess.run(["bash", script, "start", folder], capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        message = f"scripts/postgres.sh could not start PostgreSQL: {proc.stderr.strip()[-500:]}"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    try:
        yield proc.stdout.strip()
    finally:
        subprocess.run(["bash", script, "stop", folder], capture_output=True, timeout=120)
        shutil.rmtree(folder, ignore_errors=True)


def fresh_database(server: str) -> str:
    """A new empty database on the server; its URL."""
    import psycopg

    name = f"drift_{RUN_ID}_{next(_numbers)}".replace("-", "_").lower()
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server.replace("/drift?", f"/{name}?", 1)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty history store of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'history.sqlite'}"
    return fresh_database(request.getfixturevalue("pg_server"))


def store_bytes(url: str) -> bytes:
    """Everything a store holds, as bytes (to look for what must never be stored)."""
    if url.startswith("sqlite:"):
        return Path(url.removeprefix("sqlite://")).read_bytes()
    import psycopg

    out = []
    with psycopg.connect(url, autocommit=True) as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        for table in tables:
            out += [str(r[0]) for r in conn.execute(f'SELECT t::text FROM "{table}" t')]
    return "\n".join(out).encode()


def sql(url: str, query: str) -> list[Any]:
    """Rows of a query against a store of either kind."""
    if url.startswith("sqlite:"):
        import sqlite3

        conn = sqlite3.connect(url.removeprefix("sqlite://"))
        try:
            return conn.execute(query).fetchall()
        finally:
            conn.close()
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(query).fetchall()
