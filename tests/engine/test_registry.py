"""`registry:` targets on a real registry (scripts/registry.sh: TLS with its own CA, htpasswd auth),
read by drift with no engine (DOCKER_HOST points at a dead socket), against the engine's own reading
of the same images; zstd layers from skopeo, in a registry and in an OCI layout."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, RUN_ID, run_drift
from tests.engine.conftest import make_context
from tests.engine.test_diff import assert_planted, keys

pytestmark = pytest.mark.engine
DEAD = "unix:///nonexistent/drift-no-engine.sock"


@dataclass
class Registry:
    host: str
    user: str
    password: str
    folder: Path
    docker_config: Path  # `docker login` done here

    def env(self, **extra: str) -> dict[str, str]:
        """What a CI job without an engine has: credentials in a Docker config, no engine."""
        return {"DOCKER_CONFIG": str(self.docker_config), "DOCKER_HOST": DEAD, **extra}

    def push(self, image: str, name: str) -> str:
        """The engine's image into the registry, as `docker push` puts it there (a Docker v2 manifest,
        gzip layers, the same config), by skopeo: no second local tag on the engine's image, which
        tests running beside this one would see as another name of their base image."""
        ref = f"{self.host}/{name}:{RUN_ID}"
        creds = ["--dest-cert-dir", f"/etc/docker/certs.d/{self.host}", "--dest-creds", f"{self.user}:{self.password}"]
        cmd = [_skopeo(), "copy", "-q", *creds, f"docker-daemon:{image}", f"docker://{ref}"]
        subprocess.run(cmd, check=True, capture_output=True)
        return ref


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def registry(docker_client: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    folder = tmp_path_factory.mktemp("registry") / "srv"
    script = str(ROOT / "scripts" / "registry.sh")
    try:
        host = subprocess.run(
            ["bash", script, "start", str(folder), str(_free_port())], check=True, capture_output=True, text=True
        ).stdout.strip()
        config = tmp_path_factory.mktemp("docker-config")
        password = (folder / "password").read_text().strip()
        subprocess.run(
            ["docker", "login", "-u", "drift", "--password-stdin", host],
            input=password,
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, "DOCKER_CONFIG": str(config)},
        )
        yield Registry(host, "drift", password, folder, config)
    finally:
        subprocess.run(["bash", script, "stop", str(folder)], check=False)


@pytest.fixture(scope="session")
def pushed(registry: Registry, base_image: str, df_image: str, df_changed: str) -> dict[str, str]:
    return {
        "base": registry.push(base_image, "drift-test-base"),
        "df": registry.push(df_image, "drift-test-df"),
        "changed": registry.push(df_changed, "drift-test-dfchg"),
    }


def inspect_json(*args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    return json.loads(run_drift("inspect", *args, "-f", "json", env=env, check=0).stdout)


def same_inventory(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert a["packages"] == b["packages"]
    assert a["files"] == b["files"]
    assert a["packages"] and a["files"]


def test_a_registry_image_with_no_engine_is_the_engines_inventory(
    registry: Registry, pushed: dict[str, str], df_changed: str, base_image: str, tmp_path: Path
) -> None:
    local = inspect_json(df_changed, "--base", base_image)
    env = registry.env(DRIFT_CACHE_DIR=str(tmp_path / "cache"))
    remote = inspect_json(f"registry:{pushed['changed']}", "--base", pushed["base"], env=env)
    same_inventory(local, remote)
    assert remote["target"]["kind"] == "registry" and remote["target"]["id"] == local["target"]["id"]
    assert remote["target"]["digest"].startswith(f"{registry.host}/drift-test-dfchg@sha256:")
    # the layers were downloaded into the cache folder by digest, and a second run downloads none again
    blobs = tmp_path / "cache" / "blobs" / "sha256"
    before = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in blobs.iterdir()}
    assert len(before) >= 2
    again = inspect_json(f"registry:{pushed['changed']}", "--base", pushed["base"], env=env)
    same_inventory(local, again)
    assert {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in blobs.iterdir()} == before


def test_by_digest_and_with_a_credential_helper(
    registry: Registry, pushed: dict[str, str], df_changed: str, base_image: str, tmp_path: Path
) -> None:
    """`@sha256:` names the manifest; credentials from `credHelpers` through docker-credential-NAME."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helper = bin_dir / "docker-credential-drifttest"
    answer = json.dumps({"ServerURL": registry.host, "Username": registry.user, "Secret": registry.password})
    helper.write_text(f"#!/bin/sh\ncat >/dev/null\necho '{answer}'\n")
    helper.chmod(0o755)
    config = tmp_path / "config"
    config.mkdir()
    (config / "config.json").write_text(json.dumps({"credHelpers": {registry.host: "drifttest"}}))
    env = {
        "DOCKER_CONFIG": str(config),
        "DOCKER_HOST": DEAD,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "DRIFT_CACHE_DIR": str(tmp_path / "cache"),
    }
    tagged = inspect_json(f"registry:{pushed['changed']}", "--base", pushed["base"], env=env)
    digest = tagged["target"]["digest"].split("@", 1)[1]
    name = pushed["changed"].rsplit(":", 1)[0]
    by_digest = inspect_json(f"registry:{name}@{digest}", "--base", pushed["base"], "--no-cache", env=env)
    same_inventory(tagged, by_digest)
    local = inspect_json(df_changed, "--base", base_image)
    same_inventory(local, by_digest)


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stdout == ""
    return lines[0]


def test_without_credentials_one_line_and_exit_2(registry: Registry, pushed: dict[str, str], tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = run_drift("inspect", f"registry:{pushed['df']}", env={**registry.env(), "DOCKER_CONFIG": str(empty)})
    line = one_line_error(proc)
    assert "auth:" in line and f"docker login {registry.host}" in line
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    (wrong / "config.json").write_text(json.dumps({"auths": {registry.host: {"username": "drift", "password": "x"}}}))
    proc = run_drift("inspect", f"registry:{pushed['df']}", env={**registry.env(), "DOCKER_CONFIG": str(wrong)})
    line = one_line_error(proc)
    assert "auth:" in line and "refused the credentials" in line and "'x'" not in line


def test_a_bad_ca_is_one_line_and_exit_2(registry: Registry, pushed: dict[str, str], tmp_path: Path) -> None:
    other = tmp_path / "certs.d" / registry.host
    other.mkdir(parents=True)
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=another CA",
            "-keyout",
            str(tmp_path / "k.pem"),
            "-out",
            str(other / "ca.crt"),
        ],
        check=True,
        capture_output=True,
    )
    env = registry.env(DRIFT_CERTS_D=str(tmp_path / "certs.d"))
    line = one_line_error(run_drift("inspect", f"registry:{pushed['df']}", env=env))
    assert line.startswith("drift: error: TLS:") and "certificate verify failed" in line and "ca.crt" in line


def test_diff_of_a_registry_image_against_its_dockerfile_without_engine(
    registry: Registry, pushed: dict[str, str], df_changed: str, df_context: Path, tmp_path: Path
) -> None:
    """What a CI job runs: the pushed image against the Dockerfile; FROM is read from the registry."""
    ctx = make_context(tmp_path / "ctx", pushed["base"])
    env = registry.env(DRIFT_CACHE_DIR=str(tmp_path / "cache"))
    proc = run_drift("diff", f"registry:{pushed['changed']}", str(ctx / "Dockerfile"), "-f", "json", env=env, check=1)
    remote = json.loads(proc.stdout)
    assert_planted(remote)
    local = json.loads(run_drift("diff", df_changed, str(df_context / "Dockerfile"), "-f", "json", check=1).stdout)
    assert keys(remote) == keys(local)
    clean = run_drift("diff", f"registry:{pushed['df']}", str(ctx / "Dockerfile"), env=env, check=0)
    assert "in sync" in clean.stdout


def _skopeo() -> str:
    found = shutil.which("skopeo")
    if found is None:
        subprocess.run(["bash", "-c", "apt-get install -y -q skopeo >/dev/null"], check=True)
        found = shutil.which("skopeo")
    assert found
    return found


def test_zstd_layers_in_a_layout_and_in_a_registry(
    registry: Registry, pushed: dict[str, str], df_changed: str, base_image: str, tmp_path: Path
) -> None:
    skopeo = _skopeo()
    source = f"docker-daemon:{df_changed}"
    for fmt in ("gzip", "zstd"):
        dest = f"oci:{tmp_path / fmt}:x"
        subprocess.run([skopeo, "copy", "-q", "--dest-compress-format", fmt, source, dest], check=True)
    manifest = json.loads((tmp_path / "zstd" / "index.json").read_text())["manifests"][0]["digest"]
    layers = json.loads((tmp_path / "zstd" / "blobs" / "sha256" / manifest.split(":")[1]).read_text())["layers"]
    assert {layer["mediaType"] for layer in layers} == {"application/vnd.oci.image.layer.v1.tar+zstd"}
    gz = inspect_json(f"oci:{tmp_path / 'gzip'}", "--base", base_image, "--no-cache")
    zs = inspect_json(f"oci:{tmp_path / 'zstd'}", "--base", base_image, "--no-cache")
    same_inventory(gz, zs)
    ref = f"{registry.host}/drift-test-zstd:{RUN_ID}"
    subprocess.run(
        [
            skopeo,
            "copy",
            "-q",
            "--dest-compress-format",
            "zstd",
            "--dest-cert-dir",
            f"/etc/docker/certs.d/{registry.host}",
            "--dest-creds",
            f"{registry.user}:{registry.password}",
            source,
            f"docker://{ref}",
        ],
        check=True,
    )
    remote = inspect_json(f"registry:{ref}", "--base", pushed["base"], "--no-cache", env=registry.env())
    same_inventory(gz, remote)


def test_a_local_inspect_imports_no_registry_or_zstd_code(base_image: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "drift", "inspect", base_image, "-f", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "drift.sources.docker" in proc.stderr  # -X importtime lists what was imported
    for module in ("zstandard", "drift.sources.registry", "drift.sources.zstd"):
        assert module not in proc.stderr
