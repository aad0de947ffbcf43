"""Podman as an engine, through its Docker-compatible API (a real `podman system service` from
Debian's podman package, with storage of its own: scripts/podman.sh).

Podman answers `info` with a new random ID on every call; drift knows a Podman service by its
host name and storage root instead, so a second and third `drift report` continue the first
one's history. Podman's own run defaults (env `container=podman`, `TERM`, `HOME`, `HOSTNAME`,
StopSignal 15, /run/.containerenv, buildah's version label) are never drift.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, RUN_ID, in_ci, run_drift

SCRIPT = str(ROOT / "scripts" / "podman.sh")
# Root here may lower but not raise rlimits; Podman's defaults would raise them.
ULIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1000:1000"]


class Podman:
    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.url = ""

    def start(self) -> None:
        proc = subprocess.run(["bash", SCRIPT, "start", self.folder], capture_output=True, text=True, timeout=900)
        if proc.returncode != 0:
            message = f"scripts/podman.sh could not start Podman: {proc.stderr.strip()[-500:]}"
            if in_ci():
                pytest.fail(message)
            pytest.skip(message)
        self.url = proc.stdout.strip()

    def stop_service(self) -> None:
        pid = Path(self.folder, "service.pid").read_text().strip()
        subprocess.run(["kill", pid], check=True)
        for _ in range(100):
            if not Path(f"/proc/{pid}").exists():
                break
            subprocess.run(["sleep", "0.1"], check=True)
        Path(self.folder, "service.pid").unlink()

    def podman(self, *args: str, input: bytes | None = None, check: bool = True) -> str:
        proc = subprocess.run(
            ["bash", SCRIPT, "podman", self.folder, *args], input=input, capture_output=True, timeout=900
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"podman {' '.join(args)}: {proc.stderr.decode()[-2000:]}")
        return proc.stdout.decode()

    @property
    def env(self) -> dict[str, str]:
        return {"DOCKER_HOST": self.url}


@pytest.fixture(scope="module")
def podman(base_image: str) -> Iterator[Podman]:
    folder = tempfile.mkdtemp(prefix=f"drift-podman-{RUN_ID}-")
    pm = Podman(folder)
    try:
        pm.start()
        saved = subprocess.run(["docker", "save", base_image], capture_output=True, check=True, timeout=600).stdout
        pm.podman("load", input=saved)
        yield pm
    finally:
        subprocess.run(["bash", SCRIPT, "stop", folder], capture_output=True, timeout=300)


def _run(pm: Podman, name: str, base_image: str) -> None:
    pm.podman("run", "-d", "--name", name, "--network", "host", *ULIMITS, base_image, "sleep", "3600")


def _json(path: Path) -> Any:
    return json.loads(path.read_text())


def test_inspect_snapshot_verify_and_diff_on_podman(podman: Podman, base_image: str, tmp_path: Path) -> None:
    name = f"drift-test-podman-{RUN_ID}"
    _run(podman, name, base_image)
    podman.podman(
        "exec",
        name,
        "sh",
        "-c",
        "apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends jq >/dev/null"
        " && rm -rf /var/lib/apt/lists/* && printf 'x=1\\n' > /etc/app.conf",
    )
    proc = run_drift("inspect", name, "-f", "json", env=podman.env, check=0)
    doc = json.loads(proc.stdout)
    assert doc["target"]["kind"] == "container"
    files = {f["path"]: f for f in doc["files"]}
    assert files["/etc/app.conf"]["class"] == "unexplained"
    assert "/run/.containerenv" not in files or files["/run/.containerenv"]["class"] == "noise"
    assert ("apt", "jq", "added") in {(p["manager"], p["name"], p["change"]) for p in doc["package_changes"]}
    # Podman's run defaults are not the container's config changes
    changed = {json.dumps(c) for c in doc["config_changes"]}
    assert not [c for c in changed if any(k in c for k in ("container", "TERM", "HOME", "HOSTNAME", "StopSignal"))]

    out = tmp_path / "snap"
    proc = run_drift("snapshot", name, "-o", str(out), "--verify", "--network", "host", env=podman.env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "findings: no drift" in proc.stdout
    dockerfile = (out / "Dockerfile").read_text()
    assert "HOSTNAME" not in dockerfile and "container=" not in dockerfile and "STOPSIGNAL" not in dockerfile
    assert "jq=" in dockerfile

    image = f"localhost/drift-test/podman-commit:{RUN_ID}"
    podman.podman("commit", name, image)
    for extra in ([], ["--build", "--network", "host"]):
        proc = run_drift("diff", image, str(out / "Dockerfile"), "-f", "json", *extra, env=podman.env)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert json.loads(proc.stdout)["findings"] == []
    # and the audit still sees what it must: a file changed after the snapshot
    podman.podman("exec", name, "sh", "-c", "printf 'x=2\\n' > /etc/app.conf")
    later = f"localhost/drift-test/podman-commit2:{RUN_ID}"
    podman.podman("commit", name, later)
    proc = run_drift(
        "diff", later, str(out / "Dockerfile"), "-f", "json", "--build", "--network", "host", env=podman.env
    )
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert [f["name"] for f in json.loads(proc.stdout)["findings"]] == ["/etc/app.conf"]
    podman.podman("rm", "-f", "-t", "0", name)
    podman.podman("rmi", image, later)


def test_report_history_continues_on_podman_and_down_is_stale(podman: Podman, base_image: str, tmp_path: Path) -> None:
    name = f"drift-test-podman-report-{RUN_ID}"
    _run(podman, name, base_image)
    podman.podman("exec", name, "sh", "-c", "printf 'hot\\n' > /etc/hotfix.conf && cp /bin/true /usr/local/bin/t")
    store = f"sqlite:///{tmp_path / 'h.sqlite'}"
    args = ["report", "-H", podman.url, "--store", store, "--filter", f"name={name}"]
    docs = []
    for i in range(3):
        out = tmp_path / f"r{i}.json"
        proc = run_drift(*args, "-o", f"json:{out}", env=podman.env)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        docs.append(_json(out))
    ids = {d["engines"][0]["id"] for d in docs}
    assert len(ids) == 1 and ids.pop().startswith("podman:"), [d["engines"] for d in docs]
    assert all(d["engines"][0]["status"] == "up" for d in docs)
    wanted = {"/etc/hotfix.conf", "/usr/local/bin/t"}
    for doc, state in zip(docs, ("new", "persisting", "persisting"), strict=True):
        found = {f["name"]: f for f in doc["findings"] if f["target"] == name}
        assert set(found) == wanted, found
        assert {f["state"] for f in found.values()} == {state}
    assert {f["name"]: f["severity"] for f in docs[0]["findings"]}["/usr/local/bin/t"] == "high"

    podman.stop_service()  # the service down: what it had is stale, the run fails with exit 2
    try:
        out = tmp_path / "down.json"
        proc = run_drift(*args, "-o", f"json:{out}", env=podman.env)
        assert proc.returncode == 2, proc.stdout[-3000:] + proc.stderr[-3000:]
        down = _json(out)
        assert down["engines"][0]["status"] == "down"
        assert {f["name"] for f in down["findings"] if f["state"] == "stale"} == wanted
    finally:
        podman.start()
    out = tmp_path / "back.json"
    proc = run_drift(*args, "-o", f"json:{out}", env=podman.env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert {f["state"] for f in _json(out)["findings"]} == {"persisting"}
    podman.podman("rm", "-f", "-t", "0", name)


def test_rootless_podman_socket_is_found_without_docker(
    podman: Podman, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No DOCKER_HOST, no context, no Docker socket: drift finds Podman's socket where Podman's
    clients look for it ($XDG_RUNTIME_DIR/podman/podman.sock), and knows it is Podman."""
    from drift.sources import contexts
    from drift.sources.docker import Engine

    runtime = tmp_path / "xdg"
    (runtime / "podman").mkdir(parents=True)
    os.symlink(podman.url.removeprefix("unix://"), runtime / "podman" / "podman.sock")
    monkeypatch.delenv("CONTAINER_HOST", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    host, found_by = contexts.default_host(f"unix://{tmp_path}/no-docker.sock")
    assert host == f"unix://{runtime}/podman/podman.sock"
    assert "rootless Podman" in found_by
    engine = Engine(contexts.Endpoint(contexts.DEFAULT_CONTEXT, host, found_by))
    assert engine.podman
    # with a Docker socket there, Docker's wins, as the docker CLI would choose
    assert contexts.default_host(contexts.DEFAULT_HOST)[0] == contexts.DEFAULT_HOST
    monkeypatch.setenv("CONTAINER_HOST", podman.url)
    assert contexts.default_host(f"unix://{tmp_path}/no-docker.sock") == (
        podman.url,
        "CONTAINER_HOST; no Docker socket",
    )
