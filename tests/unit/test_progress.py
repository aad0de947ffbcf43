"""The shared progress display on a real pseudo-terminal: drawn there, never on a pipe; text
from images and Dockerfiles (a build step, a name) is shown as it is, never read as markup."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.ptyrun import run_with_tty_stderr

SCRIPT = r"""
import time
from drift.progress import bar, status
with status("docker build x") as s:
    s.update("Step 2/3 : RUN echo '[/oops]' && test -f [bold]x\x1b[2J")
    time.sleep(0.3)
b = bar("drift report [/x] {task}")
b.start(2)
b.step("container web-[/1]")
time.sleep(0.3)
b.step("image app:1")
b.stop()
print("done")
"""


def _run(tty: bool) -> tuple[int, str, str]:
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "160"}
    if not tty:
        proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=60)
        return proc.returncode, proc.stdout, proc.stderr
    return run_with_tty_stderr([sys.executable, "-c", SCRIPT], env, timeout=60)


def test_terminal_gets_progress_with_text_as_is() -> None:
    code, out, tty = _run(tty=True)
    assert code == 0 and out == "done\n", tty
    assert "Traceback" not in tty
    assert "[/oops]" in tty and "[bold]x" in tty and "web-[/1]" in tty and "drift report [/x] {task}" in tty
    assert "\x1b[2J" not in tty and "\\x1b[2J" in tty  # a control character from a Dockerfile is escaped


def test_a_pipe_gets_nothing() -> None:
    code, out, err = _run(tty=False)
    assert (code, out, err) == (0, "done\n", "")
