"""drift's own reader of the engine API's read calls on a local socket (drift/sources/docker_socket.py)
answers as the Docker SDK does, on the real engine, and an inspection no longer imports the SDK."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from drift.errors import DriftError, EngineUnreachable
from drift.sources.contexts import Endpoint
from drift.sources.docker import Engine
from drift.sources.docker_socket import SocketApi

pytestmark = pytest.mark.engine


def test_the_socket_reader_answers_as_the_sdk(docker_client: Any, base_image: str) -> None:
    engine = Engine()
    api = engine.api
    assert isinstance(api, SocketApi)
    sdk = docker_client.api
    assert api.inspect_image(base_image) == sdk.inspect_image(base_image)
    assert api.history(base_image) == sdk.history(base_image)
    assert {r["Id"] for r in api.images()} == {r["Id"] for r in sdk.images()}
    assert set(api.images(all=True, quiet=True)) == set(sdk.images(all=True, quiet=True))
    mine = {c["Id"] for c in api.containers(all=True, filters={"status": ["exited", "created", "running"]})}
    theirs = {c["Id"] for c in sdk.containers(all=True, filters={"status": ["exited", "created", "running"]})}
    assert mine == theirs
    assert api.info()["ID"] == sdk.info()["ID"]
    assert api.version()["ApiVersion"] == sdk.version()["ApiVersion"]


def test_missing_is_none_and_a_refusal_is_one_line(base_image: str) -> None:
    engine = Engine()
    assert engine.find_image("drift-no-such-image:never") is None
    assert engine.find_container("drift-no-such-container-ever") is None
    with pytest.raises(DriftError, match="refused to inspect image"):
        engine.find_image("UPPER/Case:Is-Not-A-Name")  # 400 from the engine, not 404
    # a call the reader does not make itself goes to the SDK's client
    assert engine.api.inspect_distribution is not None


def test_a_dead_socket_is_unreachable_with_what_to_do(tmp_path: Any) -> None:
    engine = Engine(Endpoint("", f"unix://{tmp_path}/none.sock", "DOCKER_HOST"))
    with pytest.raises(EngineUnreachable, match=r"cannot reach the Docker engine at .*: .*start dockerd"):
        engine.find_image("x")


def test_an_inspection_does_not_import_the_sdk(base_image: str) -> None:
    code = (
        "import sys; from drift.cli import main\n"
        f"sys.argv = ['drift', 'inspect', {base_image!r}, '-f', 'json', '-o', '/dev/null']\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "print('docker' in sys.modules, 'requests' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"], out
