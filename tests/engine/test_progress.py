"""Progress of long work is drawn on stderr when it is a terminal (a real pseudo-terminal
here), and nothing reaches a pipe, a log file or stdout: `diff --build`'s docker build and
`drift report`'s bar over targets share drift/progress.py."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RUN_ID, build
from tests.ptyrun import run_with_tty_stderr as tty_stderr

pytestmark = pytest.mark.engine

ESC = "\x1b"


def run_with_tty_stderr(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """Run drift with stderr on a pseudo-terminal, stdout on a pipe: (code, stdout, terminal)."""
    full_env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "160", **env}
    return tty_stderr([sys.executable, "-m", "drift", *args], full_env, timeout=900)


def run_piped(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "drift", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "TERM": "xterm-256color", **env},
        timeout=900,
    )


@pytest.fixture(scope="module")
def small_build(
    docker_client: Any, base_image: str, cleanup: list[tuple[str, str]], tmp_path_factory: Any
) -> tuple[str, Path]:
    ctx = tmp_path_factory.mktemp("progress")
    (ctx / "Dockerfile").write_text(f"FROM {base_image}\nRUN echo 'a=1' > /etc/progress-test.conf\n")
    tag = f"drift-test/progress:{RUN_ID}"
    build(docker_client, ctx, tag, cleanup)
    return tag, ctx / "Dockerfile"


def test_diff_build_shows_its_build_on_a_terminal_only(small_build: tuple[str, Path]) -> None:
    tag, dockerfile = small_build
    args = ["diff", tag, str(dockerfile), "--build", "--network", "host"]
    code, out, tty = run_with_tty_stderr(args, {})
    assert code == 0, (out, tty)
    assert "docker build drift-diff:" in tty and ESC in tty  # the status line, drawn
    assert ESC not in out and "docker build" not in out
    piped = run_piped(args, {})
    assert piped.returncode == 0, piped.stderr
    assert piped.stderr == "" and ESC not in piped.stdout
    # what a script reads is the same either way (but for the build's tag: each run has its own)
    run_tag = re.compile(r"drift-diff:[0-9a-f]{12}-[0-9a-f]{6}")
    assert run_tag.search(out) and run_tag.sub("TAG", piped.stdout) == run_tag.sub("TAG", out)


def test_report_bar_on_a_terminal_not_with_quiet_or_a_pipe(small_build: tuple[str, Path], tmp_path: Path) -> None:
    tag, _ = small_build
    env = {"DRIFT_STORE": str(tmp_path / "h.sqlite")}
    code, out, tty = run_with_tty_stderr(["report", tag], env)
    assert code == 0, (out, tty)
    assert "drift report" in tty and "0/1" in tty and f"image {tag}" in tty and ESC in tty
    assert ESC not in out
    code, _, quiet_tty = run_with_tty_stderr(["report", tag, "--quiet"], env)
    assert code == 0 and quiet_tty == ""
    piped = run_piped(["report", tag], env)
    assert piped.returncode == 0 and piped.stderr == "" and ESC not in piped.stdout
