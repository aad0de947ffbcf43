"""The engine is chosen as the docker CLI chooses it: DOCKER_HOST, DOCKER_CONTEXT, currentContext.

Contexts are made by the real `docker context create` in a DOCKER_CONFIG of the test's own
(never the user's): one reaches the real engine through a symlink to its socket, one points
at nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import run_drift

pytestmark = pytest.mark.engine

_HOST = os.environ.get("DOCKER_HOST", "")
SOCKET = _HOST.removeprefix("unix://") if _HOST.startswith("unix://") else "/var/run/docker.sock"


@pytest.fixture
def contexts(tmp_path: Path, docker_client: object, base_image: str) -> dict[str, str]:
    if shutil.which("docker") is None or not os.path.exists(SOCKET):
        pytest.skip("needs the docker CLI and the local socket")
    (tmp_path / "link.sock").symlink_to(SOCKET)
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "DOCKER_CONTEXT")}
    env["DOCKER_CONFIG"] = str(tmp_path / "docker-config")
    for name, sock in (("via-link", tmp_path / "link.sock"), ("nowhere", tmp_path / "none.sock")):
        subprocess.run(
            ["docker", "context", "create", name, "--docker", f"host=unix://{sock}"],
            env=env,
            check=True,
            capture_output=True,
        )
    return env


def _inspect(env: dict[str, str], base_image: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return run_drift("inspect", f"image:{base_image}", "-f", "json", env={**env, **extra})


def test_current_context_is_used(contexts: dict[str, str], base_image: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    env = contexts
    subprocess.run(["docker", "context", "use", "nowhere"], env=env, check=True, capture_output=True)
    down = _inspect(env, base_image)
    assert down.returncode == 2, down.stderr
    lines = down.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("drift: error: cannot reach the Docker engine")
    assert "'nowhere'" in lines[0] and "currentContext" in lines[0] and "none.sock" in lines[0]
    # DOCKER_CONTEXT wins over currentContext, DOCKER_HOST over both
    assert _inspect(env, base_image, DOCKER_CONTEXT="via-link").returncode == 0
    assert _inspect(env, base_image, DOCKER_CONTEXT="nowhere", DOCKER_HOST=f"unix://{SOCKET}").returncode == 0
    subprocess.run(["docker", "context", "use", "via-link"], env=env, check=True, capture_output=True)
    assert _inspect(env, base_image).returncode == 0


def test_context_that_does_not_exist(
    contexts: dict[str, str], base_image: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    proc = _inspect(contexts, base_image, DOCKER_CONTEXT="no-such-context")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "no Docker context 'no-such-context'" in lines[0] and "docker context ls" in lines[0]
