"""Every message drift prints on stderr is one line, whatever a path or name holds."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from drift.say import printable
from tests.hostile import make_corpus


def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "drift", *args],
        capture_output=True,
        text=True,
        errors="surrogateescape",
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("a\nb", "a\\x0ab"),
        ("a\rb\tc\x1b[2J", "a\\x0db\\x09c\\x1b[2J"),
        ("caf\udce9", "caf\\xe9"),  # a byte that was not UTF-8 (surrogateescape): the byte
        ("\x85\u2028\u202e", "\\x85\\u2028\\u202e"),
        ("café ✓", "café ✓"),  # other text is shown as it is
    ],
)
def test_printable(text: str, shown: str) -> None:
    assert printable(text) == shown


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "please report it" not in proc.stderr, proc.stderr
    lines = proc.stderr.split("\n")
    assert len(lines) == 2 and lines[1] == "" and lines[0].startswith("drift: error: "), repr(proc.stderr)
    return lines[0]


def test_a_corrupt_archive_named_with_a_newline_is_one_error_line(tmp_path: Path) -> None:
    (tmp_path / "bad\nx.tar").write_bytes(b"not a tar at all")
    line = one_error_line(run("inspect", "bad\nx.tar", cwd=tmp_path))
    assert "bad\\x0ax.tar" in line


@pytest.mark.parametrize("name", ["no\nsuch.tar", "archive:no\nsuch\udce9.tar"])
def test_a_missing_archive_named_with_a_newline_is_one_error_line(tmp_path: Path, name: str) -> None:
    one_error_line(run("inspect", name, cwd=tmp_path))


def test_a_warning_naming_a_path_with_a_newline_is_one_line(tmp_path: Path) -> None:
    odd = tmp_path / "x\ny"
    odd.write_text("a file, not a folder")
    make_corpus.docker_archive(tmp_path / "base.tar", [make_corpus.base_layer()])
    proc = run("inspect", "base.tar", cwd=tmp_path, env={"DRIFT_CACHE_DIR": str(odd)})
    assert proc.returncode == 0, proc.stderr
    warnings = [line for line in proc.stderr.split("\n") if line]
    assert len(warnings) == 1 and warnings[0].startswith("drift: warning: "), repr(proc.stderr)
    assert "x\\x0ay" in warnings[0]
