"""Choosing engines (--context, --host, [[engine]]) and reading shared layers once, without an engine."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from drift.errors import DriftError
from drift.report.engines import host_endpoint, host_name, specs
from drift.report.shared import LayerReader
from drift.sources.fs import LayerScan


def test_host_names_and_schemes() -> None:
    assert host_name("ssh://ops@build-1.example.com") == "ops@build-1.example.com"
    assert host_name("tcp://10.0.0.5:2376") == "10.0.0.5:2376"
    assert host_name("unix:///run/user/1000/docker.sock") == "/run/user/1000/docker.sock"
    with pytest.raises(DriftError, match=r"unix:///PATH, tcp://HOST:PORT or ssh://USER@HOST"):
        host_name("http://10.0.0.5")


def test_tcp_tls_as_docker_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCKER_TLS_VERIFY", raising=False)
    plain = host_endpoint("tcp://h:2375", "--host")
    assert plain.ca is None and plain.cert is None
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    monkeypatch.setenv("DOCKER_CERT_PATH", str(tmp_path))
    with pytest.raises(DriftError, match=r"ca\.pem"):
        host_endpoint("tcp://h:2376", "--host")
    for name in ("ca", "cert", "key"):
        (tmp_path / f"{name}.pem").write_text("x")
    tls = host_endpoint("tcp://h:2376", "--host")
    assert (tls.ca, tls.cert, tls.key) == tuple(str(tmp_path / f"{n}.pem") for n in ("ca", "cert", "key"))
    assert not tls.skip_tls_verify
    assert host_endpoint("unix:///x.sock", "--host").ca is None  # TLS is for tcp:// only


def test_engines_from_flags_config_or_current_context(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///var/run/docker.sock")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "none"))
    (current,) = specs([], False, [], None)
    assert current.name == "default" and current.endpoint.host == "unix:///var/run/docker.sock"
    toml = tmp_path / "drift.toml"
    toml.write_text(
        '[[engine]]\nname = "web-1"\nhost = "ssh://ops@web-1"\n\n[[engine]]\nname = "here"\ncontext = "default"\n'
    )
    assert [(s.name, s.endpoint.host) for s in specs([], False, [], str(toml))] == [
        ("web-1", "ssh://ops@web-1"),
        ("here", "unix:///var/run/docker.sock"),
    ]
    # flags win over the file; the same engine twice is one engine
    flags = specs(["default"], False, ["tcp://a:2375", "tcp://a:2375"], str(toml))
    assert [(s.name, s.endpoint.host) for s in flags] == [
        ("default", "unix:///var/run/docker.sock"),
        ("a:2375", "tcp://a:2375"),
    ]
    toml.write_text('[[engine]]\nname = "x"\n')
    with pytest.raises(DriftError, match="one of host"):
        specs([], False, [], str(toml))
    toml.write_text('[[engine]]\nname = "x"\nhost = "tcp://a:1"\n[[engine]]\nname = "x"\nhost = "tcp://b:1"\n')
    with pytest.raises(DriftError, match="two engines are named 'x'"):
        specs([], False, [], str(toml))


class SlowLayer:
    """A layer whose scan takes a while and is counted."""

    def __init__(self, digest: str | None, counter: list[str]) -> None:
        self.digest = digest
        self.cache_salt = "test"
        self.counter = counter

    def scan(self) -> LayerScan:
        self.counter.append(str(self.digest))
        time.sleep(0.2)
        return LayerScan(digest=self.digest)


def test_a_layer_on_several_engines_is_read_once() -> None:
    reader = LayerReader(no_cache=True)
    reads: list[str] = []
    results: list[list[LayerScan]] = []

    def engine() -> None:
        layers = [SlowLayer("sha256:base", reads), SlowLayer("sha256:app", reads), SlowLayer(None, reads)]
        results.append(reader(layers))  # type: ignore[arg-type]

    threads = [threading.Thread(target=engine) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(reads) == ["None", "None", "None", "sha256:app", "sha256:base"]  # own changes: every time
    assert reader.reads == 2 and reader.own_reads == 3
    assert all([s.digest for s in r] == ["sha256:base", "sha256:app", None] for r in results)


def test_all_contexts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import hashlib
    import json

    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    for name, host in (("prod", "ssh://ops@prod"), ("build", "tcp://build:2376")):
        meta = tmp_path / "contexts" / "meta" / hashlib.sha256(name.encode()).hexdigest()
        meta.mkdir(parents=True)
        (meta / "meta.json").write_text(json.dumps({"Name": name, "Endpoints": {"docker": {"Host": host}}}))
    found = [(s.name, s.endpoint.host) for s in specs([], True, [], None)]
    assert found == [
        ("default", "unix:///var/run/docker.sock"),
        ("build", "tcp://build:2376"),
        ("prod", "ssh://ops@prod"),
    ]
    with pytest.raises(DriftError, match="no Docker context 'nope'"):
        specs(["nope"], False, [], None)


# Ctrl-C reaches the whole process group: here a worker gets SIGINT at the worst moment, as it
# starts, before it can ignore it (deterministic, unlike a timed signal from outside).
_SIGINT_AT_WORKER_START = """
import multiprocessing.process as mp, os, signal
signal.signal(signal.SIGINT, signal.default_int_handler)
start = mp.BaseProcess._bootstrap
def interrupted(self, *args, **kwargs):
    os.kill(os.getpid(), signal.SIGINT)
    return start(self, *args, **kwargs)
mp.BaseProcess._bootstrap = interrupted
from drift.report.engines import specs
from drift.report.options import Options
from drift.report.worker import Job, Workers
job = Job(specs([], False, ["unix:///nonexistent/drift-test.sock"], None)[0], Options(), [], {}, [])
events, ends = [], []
Workers(1).run([(0, job)], lambda i, e: events.append(e), lambda i, f: ends.append(f))
print(type(events[0]).__name__, ends[0].crash)
"""


def test_a_worker_interrupted_as_it_starts_drops_the_interrupt_and_finishes() -> None:
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", _SIGINT_AT_WORKER_START], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    # the worker ran to its end: the engine is down (reported as such), no crash
    assert proc.stdout.split() == ["Down", "None"], proc.stdout
