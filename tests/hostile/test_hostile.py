"""Every input of the hostile corpus: exit 0 or 2, one clean line on 2, bounded time, no escape.

`drift inspect` and `drift snapshot -o` run as subprocesses (as a user runs them) on each
generated case. Whatever the case, drift must not crash ('please report it'), hang (timeout),
print a traceback, or write anywhere but its output folder (a sentinel folder that links in
the corpus point at must stay empty).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.hostile import make_corpus

TIMEOUT = 120  # seconds per command; every case takes about a second


def drift(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DRIFT_CACHE_DIR": str(cwd / "cache")}
    return subprocess.run(
        [sys.executable, "-m", "drift", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=cwd,
        env=env,
        errors="surrogateescape",
    )


def check_clean(proc: subprocess.CompletedProcess[str], case: make_corpus.Case) -> None:
    assert proc.returncode in (0, 2), f"{case.name}: exit {proc.returncode}\n{proc.stderr[-2000:]}"
    assert "please report it" not in proc.stderr, f"{case.name}: {proc.stderr[-2000:]}"
    assert "Traceback" not in proc.stderr, f"{case.name}: {proc.stderr[-2000:]}"
    if proc.returncode == 2:
        lines = proc.stderr.strip("\n").split("\n")
        assert len(lines) == 1 and lines[0].startswith("drift: error: "), f"{case.name}: {proc.stderr!r}"
        assert case.words in lines[0], f"{case.name}: {lines[0]!r} does not say {case.words!r}"


def args_of(case: make_corpus.Case) -> list[str]:
    return [str(case.target), *(["--base", str(case.base)] if case.base else [])]


@pytest.mark.parametrize("name", sorted(make_corpus.BUILDERS))
def test_inspect_and_snapshot(name: str, tmp_path: Path) -> None:
    sentinel = tmp_path / "sentinel"
    sentinel.mkdir(mode=0o700)
    (case,) = make_corpus.build(tmp_path / "corpus", sentinel, [name])
    before = sorted(os.listdir(tmp_path))

    proc = drift("inspect", *args_of(case), "-f", "json", cwd=tmp_path)
    check_clean(proc, case)
    if case.expect is not None:
        assert proc.returncode == case.expect, f"{name}: exit {proc.returncode}: {proc.stderr[-2000:]}"
    if proc.returncode == 0:
        reasons = [u["reason"] for u in json.loads(proc.stdout)["unknowns"]]
        for words in case.unknowns:
            assert any(words in r for r in reasons), f"{name}: no unknown says {words!r}: {reasons}"

    out = tmp_path / "out"
    snap = drift("snapshot", *args_of(case), "-o", str(out), cwd=tmp_path)
    check_clean(snap, case)
    if snap.returncode == 2:
        assert not out.exists() or not any(out.iterdir()), f"{name}: a failed snapshot left {list(out.iterdir())}"

    assert os.listdir(sentinel) == [], f"{name}: wrote {os.listdir(sentinel)} outside its output"
    assert sentinel.stat().st_mode & 0o7777 == 0o700, f"{name}: changed the mode of a folder outside its output"
    after = sorted(p for p in os.listdir(tmp_path) if p not in ("out", "cache"))
    assert after == before, f"{name}: left {set(after) - set(before)} beside its output"
