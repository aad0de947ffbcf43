"""The layer cache: same output with and without it, never stale, safe under concurrency and damage."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RUN_ID, build, run_drift

pytestmark = pytest.mark.engine


def inspect(target: str, cache: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {"DRIFT_CACHE_DIR": str(cache), "DRIFT_CACHE_STATS": "1"}
    return run_drift("inspect", target, "-f", "json", *extra, env=env, check=0)


def stats(proc: subprocess.CompletedProcess[str]) -> tuple[int, int]:
    line = next(x for x in proc.stderr.splitlines() if x.startswith("drift: cache"))
    words = line.split()
    return int(words[2]), int(words[4])


def test_same_output_with_and_without_cache(hand_image: str, saved_archive: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    for target in (hand_image, str(saved_archive)):
        cold = inspect(target, cache, "--no-cache")
        fill = inspect(target, cache)
        warm = inspect(target, cache)
        assert stats(warm)[0] >= 2 and stats(warm)[1] == 0, warm.stderr
        assert cold.stdout == fill.stdout == warm.stdout
    info = run_drift("cache", "info", env={"DRIFT_CACHE_DIR": str(cache)}, check=0).stdout
    assert "layer(s)" in info and str(cache) in info


def test_changed_layer_is_never_served_from_cache(
    docker_client: Any, base_image: str, tmp_path: Path, cleanup: list[tuple[str, str]]
) -> None:
    cache = tmp_path / "cache"
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    tag = f"drift-test/changing:{RUN_ID}"
    cleanup.append(("image", tag))
    digests = []
    for content in ("first\n", "second, longer\n"):
        (ctx / "data.txt").write_text(content)
        (ctx / "Dockerfile").write_text(f"FROM {base_image}\nCOPY data.txt /srv/data.txt\n")
        build(docker_client, ctx, tag)
        warm = json.loads(inspect(tag, cache).stdout)
        cold = json.loads(inspect(tag, cache, "--no-cache").stdout)
        assert warm == cold
        data = next(f for f in warm["files"] if f["path"] == "/srv/data.txt")
        assert data["size"] == len(content)
        digests.append(data["sha256"])
    assert digests[0] != digests[1]


def test_damaged_rows_and_files_are_rebuilt(hand_image: str, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cold = inspect(hand_image, cache, "--no-cache").stdout
    inspect(hand_image, cache)
    db = cache / "layers.sqlite"
    with sqlite3.connect(db) as conn:  # flip bytes in every stored layer
        conn.execute("UPDATE layers SET data = substr(data, 1, 100) || X'00FF00FF' || substr(data, 105)")
    damaged_rows = inspect(hand_image, cache)
    assert damaged_rows.stdout == cold
    assert stats(damaged_rows) == (0, 2)
    assert stats(inspect(hand_image, cache))[0] == 2  # rebuilt rows are served again
    db.write_bytes(b"this is not a database" * 1000)  # a damaged file
    for suffix in ("-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    damaged_file = inspect(hand_image, cache)
    assert damaged_file.stdout == cold
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*) FROM layers").fetchone()[0] == 2


def test_concurrent_processes_share_the_cache(hand_image: str, built_image: str, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    expected = {t: inspect(t, tmp_path / "other", "--no-cache").stdout for t in (hand_image, built_image)}
    env = {"DRIFT_CACHE_DIR": str(cache)}
    import os

    procs = [
        (
            t,
            subprocess.Popen(
                [sys.executable, "-m", "drift", "inspect", t, "-f", "json"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env={**os.environ, **env},
            ),
        )
        for t in (hand_image, built_image, hand_image, built_image)
    ]
    for target, proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
        assert out == expected[target]
    with sqlite3.connect(cache / "layers.sqlite") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*) FROM layers").fetchone()[0] >= 3
    warm = inspect(built_image, cache)
    assert stats(warm)[1] == 0 and warm.stdout == expected[built_image]


def test_cache_clear(hand_image: str, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    inspect(hand_image, cache)
    assert (cache / "layers.sqlite").exists()
    out = run_drift("cache", "clear", env={"DRIFT_CACHE_DIR": str(cache)}, check=0).stdout
    assert out.startswith("cleared")
    assert not (cache / "layers.sqlite").exists()
    assert stats(inspect(hand_image, cache)) == (0, 2)
