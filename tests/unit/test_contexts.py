"""Docker contexts read from the files the docker CLI writes (meta.json, TLS folder, config.json)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from drift.errors import DriftError
from drift.sources import contexts


def _store(config: Path, name: str, host: str, *, tls: bool = False, skip: bool = False) -> None:
    sid = hashlib.sha256(name.encode()).hexdigest()
    meta = config / "contexts" / "meta" / sid
    meta.mkdir(parents=True)
    doc = {"Name": name, "Metadata": {}, "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": skip}}}
    (meta / "meta.json").write_text(json.dumps(doc))
    if tls:
        folder = config / "contexts" / "tls" / sid / "docker"
        folder.mkdir(parents=True)
        for pem in ("ca", "cert", "key"):
            (folder / f"{pem}.pem").write_text("-----BEGIN TEST-----\n")


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in ("DOCKER_HOST", "DOCKER_CONTEXT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    _store(tmp_path, "remote", "tcp://10.0.0.9:2376", tls=True)
    _store(tmp_path, "local", "unix:///run/other.sock")
    return tmp_path


def test_default_without_anything(config: Path) -> None:
    assert contexts.current_context() == ("default", "default")
    assert contexts.current_endpoint().host == "unix:///var/run/docker.sock"
    assert contexts.list_contexts() == ["default", "local", "remote"]


def test_current_context_from_config_json(config: Path) -> None:
    (config / "config.json").write_text(json.dumps({"auths": {}, "currentContext": "remote"}))
    assert contexts.current_context() == ("remote", "config.json currentContext")
    ep = contexts.current_endpoint()
    assert ep.host == "tcp://10.0.0.9:2376" and ep.context == "remote"
    tls = config / "contexts" / "tls" / hashlib.sha256(b"remote").hexdigest() / "docker"
    assert (ep.ca, ep.cert, ep.key) == (str(tls / "ca.pem"), str(tls / "cert.pem"), str(tls / "key.pem"))
    assert "'remote'" in ep.describe() and "currentContext" in ep.describe()


def test_precedence(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (config / "config.json").write_text(json.dumps({"currentContext": "remote"}))
    monkeypatch.setenv("DOCKER_CONTEXT", "local")
    assert contexts.current_endpoint().host == "unix:///run/other.sock"
    monkeypatch.setenv("DOCKER_HOST", "tcp://1.2.3.4:2375")
    ep = contexts.current_endpoint()
    assert (ep.host, ep.chosen_by) == ("tcp://1.2.3.4:2375", "DOCKER_HOST")
    assert contexts.endpoint_for("default").host == "tcp://1.2.3.4:2375"


def test_unknown_context_and_bad_config(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DriftError, match="no Docker context 'gone'"):
        contexts.endpoint_for("gone")
    (config / "config.json").write_text("{not json")
    with pytest.raises(DriftError, match=r"config\.json"):
        contexts.current_context()


def test_a_meta_folder_under_another_name_is_not_trusted(config: Path) -> None:
    """meta.json must sit under the sha256 of its own name (as the docker CLI stores it)."""
    sid = hashlib.sha256(b"local").hexdigest()
    (config / "contexts" / "meta" / sid / "meta.json").write_text(
        json.dumps({"Name": "remote", "Endpoints": {"docker": {"Host": "unix:///x"}}})
    )
    assert contexts.list_contexts() == ["default", "remote"]
    with pytest.raises(DriftError):
        contexts.endpoint_for("local")


def test_docker_is_imported_without_paramiko_until_an_ssh_engine_is_used() -> None:
    """docker-py imports paramiko at import time (0.15 s, 20 MB on every run); drift defers it."""
    import subprocess
    import sys

    code = (
        "import sys; from drift.sources import dockerlib; d = dockerlib.load();"
        "print('paramiko' in sys.modules, hasattr(d.errors, 'APIError'));"
        "dockerlib.load_for_ssh(); import docker.api.client as c;"
        "print('paramiko' in sys.modules, hasattr(c, 'SSHHTTPAdapter'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "True", "True", "True"]
