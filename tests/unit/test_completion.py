"""`drift completion bash|zsh|fish`: each shell's own completion machinery, driven as a person
at a terminal drives it (tests/shells.py), completes drift's commands and options.

zsh and fish are installed by scripts/shells.sh when missing; without them these tests skip on a
laptop and fail under CI=true. Names from the engine: tests/engine/test_completion.py.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import in_ci
from tests.shells import complete, drift_env, find_shells

SHELLS = ("bash", "zsh", "fish")


@pytest.fixture(scope="module")
def shells() -> None:
    if not find_shells(install=True):
        if in_ci():
            pytest.fail("CI=true and zsh or fish could not be installed (scripts/shells.sh)")
        pytest.skip("no zsh or fish (run scripts/shells.sh as root)")


@pytest.mark.parametrize("shell", SHELLS)
def test_commands_complete(shells: None, shell: str, tmp_path: Path) -> None:
    offered = complete(shell, "drift ", drift_env(tmp_path), tmp_path)
    assert {"inspect", "snapshot", "diff", "report", "completion"} <= set(offered), offered
    assert not any(o.startswith("-") for o in offered), offered  # options only after a '-'


@pytest.mark.parametrize("shell", SHELLS)
def test_options_of_a_command_complete(shells: None, shell: str, tmp_path: Path) -> None:
    offered = complete(shell, "drift inspect --", drift_env(tmp_path), tmp_path)
    assert {"--base", "--format", "--output", "--no-cache", "--host", "--show-secrets"} <= set(offered), offered
    assert "--verify" not in offered  # snapshot's, not inspect's


@pytest.mark.parametrize("shell", SHELLS)
def test_a_prefix_narrows_and_choices_complete(shells: None, shell: str, tmp_path: Path) -> None:
    env = drift_env(tmp_path)
    assert complete(shell, "drift sn", env, tmp_path) == ["snapshot"]
    assert sorted(complete(shell, "drift completion ", env, tmp_path)) == ["bash", "fish", "zsh"]
    offered = complete(shell, "drift inspect --format ", env, tmp_path)
    from drift.cli import Format

    assert sorted(offered) == sorted(f.value for f in Format) and "cyclonedx" in offered, offered


def _ask(line: str, env_extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """drift answering a bash completion request for LINE, as the script's function asks it."""
    env = {"_DRIFT_COMPLETE": "complete_bash", "_DRIFT_COMP_LINE": line, "COMP_WORDBREAKS": " \t\n\"'><=;|&(:"}
    env.update(env_extra)
    return subprocess.run(
        [sys.executable, "-m", "drift"], capture_output=True, text=True, env={**_base_env(), **env}, timeout=120
    )


def _base_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "_DRIFT_", "CONTAINERD_"))}


def test_no_engine_gives_no_names_and_no_error() -> None:
    """An engine that refuses the connection: nothing offered, nothing on stderr, exit 0."""
    with socket.socket() as s:  # a port nobody listens on (bound, never listening)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        proc = _ask("drift inspect ", {"DOCKER_HOST": f"tcp://127.0.0.1:{port}"})
    assert (proc.returncode, proc.stdout.strip(), proc.stderr) == (0, "", "")


def test_a_silent_engine_does_not_hold_the_tab() -> None:
    """An engine that accepts the connection and never answers: nothing offered, within the deadline."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        start = time.monotonic()
        proc = _ask("drift inspect ", {"DOCKER_HOST": f"tcp://127.0.0.1:{s.getsockname()[1]}"})
        took = time.monotonic() - start
    assert (proc.returncode, proc.stdout.strip(), proc.stderr) == (0, "", "")
    # the deadline is 2 s; the rest is Python starting drift on a busy machine
    assert took < 15, took


def test_options_still_complete_without_an_engine() -> None:
    proc = _ask("drift snapshot --ve", {"DOCKER_HOST": "tcp://127.0.0.1:1"})
    assert (proc.returncode, sorted(proc.stdout.split()), proc.stderr) == (0, ["--verify", "--verify-packages"], "")


def test_an_unknown_shell_is_one_line_and_exit_2() -> None:
    proc = subprocess.run([sys.executable, "-m", "drift", "completion", "tcsh"], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "tcsh" in proc.stderr and "bash" in proc.stderr, proc.stderr
