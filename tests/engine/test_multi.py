"""`drift report` over several real engines: a second dockerd (scripts/engine2.sh), an sshd on
127.0.0.1 (scripts/sshd.sh) for ssh://, Docker contexts, and one PostgreSQL store written by
two reports at once. Every server a test starts is stopped by its fixture's finalizer.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, RUN_ID, in_ci, run_drift, sh
from tests.pgserver import fresh_database, sql

pytestmark = pytest.mark.engine

LABEL = "drift.test.multi"
LOCAL_HOST = "unix:///var/run/docker.sock"


class Engine2:
    """A second dockerd, stoppable and restartable (same data root: its containers survive)."""

    def __init__(self, folder: str, bridge: str) -> None:
        self.folder, self.bridge = folder, bridge
        self.host = ""

    def start(self) -> str:
        proc = subprocess.run(
            ["bash", str(ROOT / "scripts" / "engine2.sh"), "start", self.folder, self.bridge],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"scripts/engine2.sh start failed: {proc.stderr.strip()[-800:]}")
        self.host = proc.stdout.strip()
        return self.host

    def stop(self) -> None:
        """Kill it (engine2.sh stop also removes the bridge; a start makes it again)."""
        subprocess.run(
            ["bash", str(ROOT / "scripts" / "engine2.sh"), "stop", self.folder, self.bridge],
            capture_output=True,
            timeout=120,
        )

    def client(self) -> Any:
        import docker

        return docker.DockerClient(base_url=self.host, timeout=300)


@pytest.fixture(scope="module")
def engine2(docker_client: Any, base_image: str) -> Iterator[Engine2]:
    if shutil.which("dockerd") is None or os.geteuid() != 0:
        if in_ci():
            pytest.fail("the multi-engine tests need root and dockerd")
        pytest.skip("the multi-engine tests need root and dockerd")
    folder = tempfile.mkdtemp(prefix=f"drift-e2-{RUN_ID}-", dir="/tmp")
    eng = Engine2(folder, f"drb{RUN_ID[:6]}")
    try:
        eng.start()
        save = subprocess.Popen(["docker", "save", base_image], stdout=subprocess.PIPE)
        load = subprocess.run(
            ["docker", "load"], stdin=save.stdout, capture_output=True, env={**os.environ, "DOCKER_HOST": eng.host}
        )
        save.wait()
        assert load.returncode == 0, load.stderr
        yield eng
    finally:
        if eng.host:
            subprocess.run(
                ["sh", "-c", "docker rm -f $(docker ps -aq) >/dev/null 2>&1 || true"],
                env={**os.environ, "DOCKER_HOST": eng.host},
                timeout=120,
            )
        eng.stop()
        subprocess.run(["rm", "-rf", folder], timeout=300)


def start(client: Any, image: str, name: str, group: str, **kw: Any) -> Any:
    return client.containers.run(
        image,
        ["sleep", "infinity"],
        name=name,
        detach=True,
        labels={LABEL: f"{RUN_ID}-{group}"},
        network_mode="none",
        restart_policy={"Name": "always"},
        **kw,
    )


def report(tmp: Path, group: str, *args: str, code: int, env: dict[str, str] | None = None) -> dict[str, Any]:
    out = tmp / f"report-{len(list(tmp.glob('report-*.json')))}.json"
    proc = run_drift("report", "--filter", f"label={LABEL}={RUN_ID}-{group}", *args, "-o", f"json:{out}", env=env)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == code, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    doc = json.loads(out.read_text())
    doc["_stderr"] = proc.stderr
    return doc


def states(doc: dict[str, Any]) -> set[tuple[str, str, str, str]]:
    return {(f["engine"], f["target"], f["name"], f["state"]) for f in doc["findings"]}


def test_two_engines_one_report_then_one_down_then_back(
    docker_client: Any, base_image: str, engine2: Engine2, tmp_path: Path
) -> None:
    group = "pair"
    one = f"drift-test-multi-one-{RUN_ID}"
    two = f"drift-test-multi-two-{RUN_ID}"
    c1 = start(docker_client, base_image, one, group)
    c2 = start(engine2.client(), base_image, two, group)
    start(engine2.client(), base_image, one, group)  # the same name on the other engine
    try:
        (tmp_path / "drift.toml").write_text(
            f'[[engine]]\nname = "one"\ncontext = "default"\n\n[[engine]]\nname = "two"\nhost = "{engine2.host}"\n'
        )
        args = ("--config", str(tmp_path / "drift.toml"), "--store", f"sqlite:///{tmp_path / 'h.sqlite'}")
        sh(c1, "echo one > /etc/one.conf")
        sh(c2, "echo two > /etc/two.conf")

        # 1. both engines in one report: targets from both, keyed by engine (one name on both is two targets)
        cold = {"DRIFT_CACHE_DIR": str(tmp_path / "cache")}  # an empty layer cache, shared by the engines
        first = report(tmp_path, group, *args, code=0, env=cold)
        layers = len(docker_client.images.get(base_image).attrs["RootFS"]["Layers"])
        assert first["run"]["layer_reads"] == {"image": layers, "container": 3}  # the image on both: read once
        id1, id2 = docker_client.info()["ID"], engine2.client().info()["ID"]
        assert id1 != id2
        assert {(e["name"], e["status"], e["id"]) for e in first["engines"]} == {("one", "up", id1), ("two", "up", id2)}
        assert {(t["engine"], t["name"]) for t in first["targets"]} == {("one", one), ("two", two), ("two", one)}
        assert states(first) == {("one", one, "/etc/one.conf", "new"), ("two", two, "/etc/two.conf", "new")}

        # 2. engine two killed: down with its reason, its findings stale, exit 2; engine one unaffected
        sh(c1, "echo more > /etc/more.conf")
        engine2.stop()
        second = report(tmp_path, group, *args, code=2)
        down = {e["name"]: e for e in second["engines"]}
        assert down["one"]["status"] == "up" and down["two"]["status"] == "down"
        assert engine2.host in down["two"]["error"]
        assert "engine two is down" in second["_stderr"]
        assert states(second) == {
            ("one", one, "/etc/one.conf", "persisting"),
            ("one", one, "/etc/more.conf", "new"),
            ("two", two, "/etc/two.conf", "stale"),
        }
        assert {t["status"] for t in second["targets"] if t["engine"] == "two"} == {"error"}
        assert second["run"]["status"] == "partial"

        # 3. back up (its containers restart): its findings as they really are, never resolved while down
        engine2.start()
        c2 = engine2.client().containers.get(two)
        third = report(tmp_path, group, *args, code=0)
        assert {e["status"] for e in third["engines"]} == {"up"}
        assert ("two", two, "/etc/two.conf", "persisting") in states(third)
        sh(c2, "rm /etc/two.conf")
        fourth = report(tmp_path, group, *args, code=0)
        assert ("two", two, "/etc/two.conf", "resolved") in states(fourth)
        assert ("one", one, "/etc/more.conf", "persisting") in states(fourth)
    finally:
        c1.remove(force=True)
        for name in (two, one):
            with contextlib.suppress(Exception):
                engine2.client().containers.get(name).remove(force=True)


def test_a_context_switched_to_another_engine_is_reported(
    docker_client: Any, base_image: str, engine2: Engine2, tmp_path: Path
) -> None:
    group = "ctx"
    name = f"drift-test-multi-ctx-{RUN_ID}"
    c2 = start(engine2.client(), base_image, name, group)
    c1 = start(docker_client, base_image, name, group)
    try:
        env = {"DOCKER_CONFIG": str(tmp_path / "docker-config")}
        env_full = {**os.environ, **env}
        env_full.pop("DOCKER_HOST", None)
        subprocess.run(
            ["docker", "context", "create", "prod", "--docker", f"host={engine2.host}"], env=env_full, check=True
        )
        sh(c2, "echo x > /etc/x.conf")
        args = ("--context", "prod", "--store", f"sqlite:///{tmp_path / 'h.sqlite'}")
        first = report(tmp_path, group, *args, code=0, env=env)
        assert first["engines"][0]["name"] == "prod" and first["engines"][0]["status"] == "up"
        assert states(first) == {("prod", name, "/etc/x.conf", "new")}

        # the context now points at the first engine: same name, another engine -> reported, not merged
        subprocess.run(
            ["docker", "context", "update", "prod", "--docker", "host=unix:///var/run/docker.sock"],
            env=env_full,
            check=True,
        )
        second = report(tmp_path, group, *args, code=2, env=env)
        eng = second["engines"][0]
        assert eng["status"] == "down" and "another Docker engine" in eng["error"]
        assert states(second) == {("prod", name, "/etc/x.conf", "stale")}
    finally:
        c1.remove(force=True)
        c2.remove(force=True)


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    folder = Path(tempfile.mkdtemp(prefix=f"drift-ssh-{RUN_ID}-"))
    port = 22000 + int(RUN_ID[:4], 16) % 2000
    script = str(ROOT / "scripts" / "sshd.sh")
    proc = subprocess.run(
        ["bash", script, "start", str(folder), str(port)], capture_output=True, text=True, timeout=900
    )
    try:
        if proc.returncode != 0:
            message = f"scripts/sshd.sh could not start sshd: {proc.stderr.strip()[-500:]}"
            if in_ci():
                pytest.fail(message)
            pytest.skip(message)
        # The docker SDK, like the docker CLI, runs the system `ssh`, which reads the config of the
        # passwd user; a `ssh` first in PATH points it at this test's config instead (-F).
        home = tmp_path / "home"
        (home / ".ssh").mkdir(parents=True)
        host_key = (folder / "host_key.pub").read_text().split()
        (home / ".ssh" / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_key[0]} {host_key[1]}\n")
        config = home / ".ssh" / "config"
        config.write_text(
            f"Host 127.0.0.1\n  IdentityFile {proc.stdout.strip()}\n  IdentitiesOnly yes\n"
            f"  StrictHostKeyChecking yes\n  UserKnownHostsFile {home / '.ssh' / 'known_hosts'}\n  BatchMode yes\n"
        )
        (home / "bin").mkdir()
        wrapper = home / "bin" / "ssh"
        wrapper.write_text(f'#!/bin/sh\nexec {shutil.which("ssh")} -F {config} "$@"\n')
        wrapper.chmod(0o755)
        yield port, home
    finally:
        subprocess.run(["bash", script, "stop", str(folder)], capture_output=True, timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


def test_an_engine_over_ssh(docker_client: Any, base_image: str, sshd: tuple[int, Path], tmp_path: Path) -> None:
    port, home = sshd
    name = f"drift-test-multi-ssh-{RUN_ID}"
    c = start(docker_client, base_image, name, "ssh")
    try:
        sh(c, "echo far > /etc/far.conf")
        url = f"ssh://root@127.0.0.1:{port}"
        args = ("--host", url, "--store", f"sqlite:///{tmp_path / 'h.sqlite'}", "--no-cache")
        env = {"HOME": str(home), "PATH": f"{home / 'bin'}:{os.environ['PATH']}"}
        doc = report(tmp_path, "ssh", *args, code=0, env=env)
        (eng,) = doc["engines"]
        assert eng["status"] == "up" and eng["endpoint"] == url and eng["id"] == docker_client.info()["ID"]
        assert states(doc) == {(f"root@127.0.0.1:{port}", name, "/etc/far.conf", "new")}
        assert doc["run"]["layer_reads"]["image"] > 0  # --no-cache: read over the API (docker save/export)

        # beside a local engine: each read by a forked worker, the ssh one with its own ssh client
        both = report(tmp_path, "ssh", *args, "--host", LOCAL_HOST, code=0, env=env)
        assert {e["status"] for e in both["engines"]} == {"up"} and len(both["engines"]) == 2
        assert states(both) == {
            (f"root@127.0.0.1:{port}", name, "/etc/far.conf", "persisting"),
            ("/var/run/docker.sock", name, "/etc/far.conf", "new"),
        }
    finally:
        c.remove(force=True)


def test_one_postgres_store_two_reports_at_once(
    docker_client: Any, base_image: str, engine2: Engine2, pg_server: str, tmp_path: Path
) -> None:
    url = fresh_database(pg_server)
    a = start(docker_client, base_image, f"drift-test-multi-pga-{RUN_ID}", "pga")
    b = start(engine2.client(), base_image, f"drift-test-multi-pgb-{RUN_ID}", "pgb")
    try:
        sh(a, "echo a > /etc/a.conf")
        sh(b, "echo b > /etc/b.conf")
        procs = []
        for group, host in (("pga", "unix:///var/run/docker.sock"), ("pgb", engine2.host)):
            out = tmp_path / f"{group}.json"
            cmd = [sys.executable, "-m", "drift", "report", "--filter", f"label={LABEL}={RUN_ID}-{group}"]
            cmd += ["--host", host, "--store", url, "-o", f"json:{out}", "--quiet"]
            procs.append((subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True), out))
        for proc, _ in procs:
            _, err = proc.communicate(timeout=600)
            assert proc.returncode == 0, err
        docs = [json.loads(out.read_text()) for _, out in procs]
        assert {d["run"]["id"] for d in docs} == {1, 2}
        runs = sql(url, "SELECT id, status FROM runs ORDER BY id")
        assert runs == [(1, "complete"), (2, "complete")]
        rows = sql(url, "SELECT run, count(*) FROM target_runs GROUP BY run ORDER BY run")
        assert rows == [(1, 1), (2, 1)]
        names = {f["name"] for d in docs for f in d["findings"]}
        assert names == {"/etc/a.conf", "/etc/b.conf"}

        # one report over both engines into that store: its workers fork beside an open connection
        out = tmp_path / "both.json"
        cmd = [sys.executable, "-m", "drift", "report", "--filter", f"name=drift-test-multi-pg[ab]-{RUN_ID}"]
        cmd += ["--host", "unix:///var/run/docker.sock", "--host", engine2.host, "--store", url, "-o", f"json:{out}"]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr
        both = json.loads(out.read_text())
        assert {(f["name"], f["state"]) for f in both["findings"]} == {
            ("/etc/a.conf", "persisting"),
            ("/etc/b.conf", "persisting"),
        }
        assert sql(url, "SELECT id, status FROM runs WHERE id = 3") == [(3, "complete")]
        assert sql(url, "SELECT count(*) FROM target_runs WHERE run = 3") == [(2,)]
    finally:
        a.remove(force=True)
        b.remove(force=True)


def test_an_engine_that_never_answers_times_out_and_the_others_complete(
    docker_client: Any, base_image: str, tmp_path: Path
) -> None:
    """A socket that accepts and then says nothing (a hung engine): down after --engine-timeout,
    the other engine's report complete, exit 2."""
    import socket
    import threading
    import time

    path = str(tmp_path / "hung.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    name = f"drift-test-multi-hung-{RUN_ID}"
    c = start(docker_client, base_image, name, "hung")
    try:
        sh(c, "echo here > /etc/here.conf")
        args = ("--host", LOCAL_HOST, "--host", f"unix://{path}", "--engine-timeout", "3")
        t0 = time.monotonic()
        doc = report(tmp_path, "hung", *args, "--store", f"sqlite:///{tmp_path / 'h.sqlite'}", code=2)
        assert time.monotonic() - t0 < 120  # generous: the hung engine is given up, not waited for
        engines = {e["endpoint"]: e for e in doc["engines"]}
        assert engines[f"unix://{path}"]["status"] == "down" and "timed out" in engines[f"unix://{path}"]["error"]
        assert engines[LOCAL_HOST]["status"] == "up"
        assert states(doc) == {("/var/run/docker.sock", name, "/etc/here.conf", "new")}
        assert doc["run"]["status"] == "partial"
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        server.close()
        c.remove(force=True)


def make_certs(folder: Path) -> None:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, as docker's TLS guide makes them."""

    def ssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=drift-test-ca",
        "-keyout", "ca-key.pem", "-out", "ca.pem")  # fmt: skip
    (folder / "server.ext").write_text("subjectAltName = IP:127.0.0.1\nextendedKeyUsage = serverAuth\n")
    (folder / "client.ext").write_text("extendedKeyUsage = clientAuth\n")
    for who, cn in (("server", "127.0.0.1"), ("client", "drift")):
        key, csr, cert = (f"{who}-key.pem", f"{who}.csr", f"{who}-cert.pem")
        ssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={cn}", "-keyout", key, "-out", csr)
        ssl("x509", "-req", "-in", csr, "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
            "-days", "2", "-out", cert, "-extfile", f"{who}.ext")  # fmt: skip
    (folder / "client").mkdir()
    for name, src in (("ca.pem", "ca.pem"), ("cert.pem", "client-cert.pem"), ("key.pem", "client-key.pem")):
        shutil.copy(folder / src, folder / "client" / name)


def test_an_engine_over_tcp_with_tls(docker_client: Any, tmp_path: Path) -> None:
    """tcp:// with TLS as docker does it: DOCKER_TLS_VERIFY and DOCKER_CERT_PATH; without them
    the TLS engine is down with its reason."""
    if shutil.which("dockerd") is None or os.geteuid() != 0:
        pytest.skip("needs root and dockerd")
    certs = tmp_path / "certs"
    certs.mkdir()
    make_certs(certs)
    port = 23000 + int(RUN_ID[:4], 16) % 2000
    folder = tempfile.mkdtemp(prefix=f"drift-e3-{RUN_ID}-", dir="/tmp")
    eng = Engine2(folder, f"drt{RUN_ID[:6]}")
    tls = f"--tlsverify --tlscacert {certs}/ca.pem --tlscert {certs}/server-cert.pem --tlskey {certs}/server-key.pem"
    os.environ["ENGINE2_ARGS"] = f"{tls} -H tcp://127.0.0.1:{port}"
    try:
        eng.start()
        engine_id = eng.client().info()["ID"]
        url = f"tcp://127.0.0.1:{port}"
        store = ("--store", f"sqlite:///{tmp_path / 'h.sqlite'}")
        env = {"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(certs / "client")}
        doc = report(tmp_path, "tls", "--host", url, *store, code=0, env=env)
        assert [(e["name"], e["status"], e["id"]) for e in doc["engines"]] == [(f"127.0.0.1:{port}", "up", engine_id)]
        plain = report(tmp_path, "tls", "--host", url, *store, code=2, env={"DOCKER_TLS_VERIFY": ""})
        assert plain["engines"][0]["status"] == "down" and url in plain["engines"][0]["error"]
    finally:
        os.environ.pop("ENGINE2_ARGS", None)
        eng.stop()
        subprocess.run(["rm", "-rf", folder], timeout=300)


def test_each_engine_is_read_by_a_process_of_its_own_and_a_dead_one_is_its_engine_down(
    docker_client: Any, base_image: str, engine2: Engine2, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Engines are read in forked worker processes (the parent records); a worker that dies
    (here: SIGKILL) makes its engine `down` with the reason, its findings `stale`, exit 2, and
    the other engine's results complete. With --jobs 1 the engines are read in the run's process."""
    import signal

    from drift.report import run as run_mod
    from drift.report import worker
    from drift.report.engines import EngineSpec, host_endpoint
    from drift.report.options import Options
    from drift.report.targets import Selection

    group = "proc"
    name = f"drift-test-multi-proc-{RUN_ID}"
    c1 = start(docker_client, base_image, name, group)
    c2 = start(engine2.client(), base_image, name, group)
    pids, kill = tmp_path / "pids", tmp_path / "kill"
    real = worker.events

    def events(engine: Any, job: Any, reader: Any) -> Any:
        with open(pids, "a") as fh:  # a file: a forked worker cannot write into this process
            fh.write(f"{job.spec.name} {os.getpid()}\n")
        if kill.exists() and job.spec.name == "two":
            os.kill(os.getpid(), signal.SIGKILL)
        return real(engine, job, reader)

    def readers() -> dict[str, int]:
        out = dict(line.split() for line in pids.read_text().splitlines())
        pids.unlink()
        return {k: int(v) for k, v in out.items()}

    try:
        sh(c1, "echo one > /etc/one.conf")
        sh(c2, "echo two > /etc/two.conf")
        monkeypatch.setattr(worker, "events", events)
        monkeypatch.setenv("DRIFT_CACHE_DIR", str(tmp_path / "cache"))
        engines = (
            EngineSpec("one", host_endpoint(LOCAL_HOST, "--host")),
            EngineSpec("two", host_endpoint(engine2.host, "--host")),
        )
        opts = Options(
            selection=Selection(filters=(f"label={LABEL}={RUN_ID}-{group}",)),
            store=f"sqlite:///{tmp_path / 'h.sqlite'}",
            engines=engines,
        )
        first = run_mod.run_report(opts)
        assert first["run"]["exit_code"] == 0, first["run"]
        assert states(first) == {("one", name, "/etc/one.conf", "new"), ("two", name, "/etc/two.conf", "new")}
        layers = len(docker_client.images.get(base_image).attrs["RootFS"]["Layers"])
        assert first["run"]["layer_reads"] == {"image": layers, "container": 2}  # summed over the workers
        by = readers()
        assert set(by) == {"one", "two"} and len(set(by.values())) == 2 and os.getpid() not in by.values()

        kill.touch()
        second = run_mod.run_report(opts)
        eng = {e["name"]: e for e in second["engines"]}
        assert eng["one"]["status"] == "up" and eng["two"]["status"] == "down"
        assert "its scan process ended without a result (signal 9)" in eng["two"]["error"]
        assert states(second) == {("one", name, "/etc/one.conf", "persisting"), ("two", name, "/etc/two.conf", "stale")}
        assert second["run"]["exit_code"] == 2 and second["run"]["status"] == "partial"
        assert {(t["engine"], t["status"]) for t in second["targets"]} == {("one", "scanned"), ("two", "error")}
        readers()

        kill.unlink()
        import dataclasses

        third = run_mod.run_report(dataclasses.replace(opts, jobs=1))
        assert third["run"]["exit_code"] == 0, third["run"]
        assert states(third) == {
            ("one", name, "/etc/one.conf", "persisting"),
            ("two", name, "/etc/two.conf", "persisting"),
        }
        assert set(readers().values()) == {os.getpid()}

        # more engines than --jobs: the third waits for a free worker, and is read all the same
        three = (*engines, EngineSpec("three", host_endpoint(LOCAL_HOST, "--host")))
        fourth = run_mod.run_report(dataclasses.replace(opts, engines=three, jobs=2))
        assert fourth["run"]["exit_code"] == 0, fourth["run"]
        assert ("three", name, "/etc/one.conf", "new") in states(fourth)
        by = readers()
        assert set(by) == {"one", "two", "three"} and len(set(by.values())) == 3 and os.getpid() not in by.values()
    finally:
        c1.remove(force=True)
        c2.remove(force=True)


def _children(pid: int) -> set[int]:
    out = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                out.add(int(stat.parent.name))
    return out


def test_ctrl_c_stops_the_engine_workers(docker_client: Any, base_image: str, engine2: Engine2, tmp_path: Path) -> None:
    """A real Ctrl-C (SIGINT to the process group) while the workers read: exit 130, one line,
    no worker left behind, and the run recorded as failed."""
    import signal
    import time

    group = "intr"
    made = []
    for i in range(3):
        made.append(start(docker_client, base_image, f"drift-test-multi-intr{i}-{RUN_ID}", group))
        made.append(start(engine2.client(), base_image, f"drift-test-multi-intr{i}-{RUN_ID}", group))
    store = f"sqlite:///{tmp_path / 'h.sqlite'}"
    cmd = [sys.executable, "-m", "drift", "report", "--filter", f"label={LABEL}={RUN_ID}-{group}"]
    cmd += ["--host", LOCAL_HOST, "--host", engine2.host, "--store", store, "-q"]
    try:
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its own process group, as a shell's foreground job
            env={**os.environ, "DRIFT_CACHE_DIR": str(tmp_path / "cache")},
        )
        workers: set[int] = set()
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline and len(workers) < 2:
            workers = _children(proc.pid)
            time.sleep(0.002)
        assert len(workers) == 2, f"the report's two workers were not seen (exit {proc.poll()})"
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 130, err
        assert "Traceback" not in err and err.count("\n") <= 1, err
        assert not [p for p in workers if Path(f"/proc/{p}").exists()], "a worker outlived the report"
        hist = json.loads(run_drift("history", "--format", "json", "--store", store, check=0).stdout)
        assert [r["status"] for r in hist["runs"]] == ["failed"]
    finally:
        for c in made:
            c.remove(force=True)
