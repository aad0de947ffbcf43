"""`drift watch` on the real engine: a subprocess with its own store, a webhook receiver on
127.0.0.1 (an http.server in a thread), and containers of its own selected by a label, so other
containers on the engine (other tests', other people's) never reach it.

Signals: the child's SIGINT and SIGTERM dispositions are set to the default by the test itself
(a parent started in the background may ignore SIGINT, and children inherit that)."""

from __future__ import annotations

import fcntl
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, RUN_ID, in_ci, run_drift

pytestmark = pytest.mark.engine

LABEL = "drift.test.watch"


class Receiver:
    """A webhook receiver: every POST's JSON body, with the time it arrived."""

    def __init__(self) -> None:
        self.posts: list[tuple[float, dict[str, Any]]] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with outer.lock:
                    outer.posts.append((time.monotonic(), json.loads(body)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook/secret-token"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def count(self) -> int:
        with self.lock:
            return len(self.posts)

    def wait(self, predicate: Any, timeout: float, after: int = 0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for _, body in self.posts[after:]:
                    if predicate(body):
                        return body
            time.sleep(0.1)
        raise AssertionError(f"no matching POST within {timeout} s; got {[b for _, b in self.posts[after:]]}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _default_signals() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


class Watcher:
    """`drift watch --format json` as a child process; its stdout lines read by a thread."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "drift", "watch", "--format", "json", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            preexec_fn=_default_signals,
        )
        self.lines: list[dict[str, Any]] = []
        self.stderr = ""
        self._q: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._q.put(line)

    def _read_err(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr += line

    def _drain(self) -> None:
        while True:
            try:
                self.lines.append(json.loads(self._q.get_nowait()))
            except queue.Empty:
                return

    def wait(self, predicate: Any, timeout: float, after: int = 0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._drain()
            for line in self.lines[after:]:
                if predicate(line):
                    return line
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        self._drain()
        raise AssertionError(
            f"no matching line within {timeout} s (exit {self.proc.poll()}); lines {self.lines[after:]}\n"
            f"stderr: {self.stderr[-2000:]}"
        )

    def seen(self) -> int:
        self._drain()
        return len(self.lines)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    try:
        yield r
    finally:
        r.close()


def start(client: Any, image: str, name: str, group: str, **kw: Any) -> Any:
    return client.containers.run(
        image,
        ["sleep", "infinity"],
        name=name,
        detach=True,
        labels={LABEL: f"{RUN_ID}-{group}"},
        network_mode=kw.pop("network_mode", "host"),
        **kw,
    )


def exec_(container: Any, script: str) -> None:
    result = container.exec_run(["sh", "-c", script])
    assert result.exit_code == 0, result.output


@pytest.fixture
def group(docker_client: Any, base_image: str, request: pytest.FixtureRequest) -> Iterator[tuple[str, list[Any]]]:
    """Two containers of this test's own group (removed at the end)."""
    name = request.node.name.replace("test_", "")[:20].replace("_", "-")
    made = [start(docker_client, base_image, f"drift-watch-{RUN_ID}-{name}-{i}", name) for i in (1, 2)]
    try:
        yield name, made
    finally:
        for c in made:
            c.remove(force=True)


def _baseline(w: Watcher) -> dict[str, Any]:
    return w.wait(lambda line: line["trigger"] == "watch start", 120)


def test_an_exec_that_adds_an_executable_is_posted_within_seconds_with_its_severity(
    tmp_path: Path, receiver: Receiver, group: tuple[str, list[Any]]
) -> None:
    name, (c1, c2) = group
    w = Watcher(
        "--filter", f"label={LABEL}={RUN_ID}-{name}", "--store", str(tmp_path / "s.sqlite"),
        "--notify", receiver.url, "--notify-on", "severity:high",
    )  # fmt: skip
    try:
        first = _baseline(w)
        assert first["first_run"] and first["targets"] == 2 and first["exit_code"] == 0

        # a file that is no executable (low): recorded, not posted under --notify-on severity:high
        n = w.seen()
        exec_(c1, "mkdir -p /srv && echo note > /srv/watch-note.txt")
        low = w.wait(lambda line: line["target"] == c1.name and "exec" in line["trigger"], 30, after=n)
        assert low["new"] == 1 and not low["notified"] and low["exit_code"] == 1

        # an executable in /usr/local/bin (high): posted within 15 s of the exec's end
        n, posts = w.seen(), receiver.count()
        exec_(c1, "printf '#!/bin/sh\\necho hi\\n' > /usr/local/bin/watch-probe && chmod +x /usr/local/bin/watch-probe")
        ended = time.monotonic()
        body = receiver.wait(lambda b: b["changes"], 15, after=posts)
        took = time.monotonic() - ended
        assert took < 15
        [change] = body["changes"]
        assert change["state"] == "new" and change["severity"] == "high" and change["target"] == c1.name
        assert "/usr/local/bin/watch-probe" in json.dumps(change)
        assert body["watch"]["target"] == c1.name and body["watch"]["trigger"] == "exec"
        assert body["text"].startswith(f"drift watch, {c1.name} after exec (run ") and "1 new" in body["text"]
        assert "secret-token" not in w.stderr
        line = w.wait(lambda line: line["target"] == c1.name and line["new"] == 1, 15, after=n)
        assert line["notified"]

        # an exec that changes nothing: a rescan, nothing posted
        n, posts = w.seen(), receiver.count()
        exec_(c2, "true")
        quiet = w.wait(lambda line: line["target"] == c2.name, 30, after=n)
        assert quiet["new"] == 0 and quiet["resolved"] == 0 and not quiet["notified"]
        time.sleep(1)
        assert receiver.count() == posts

        # ten quick execs: one rescan
        n = w.seen()
        for _ in range(10):
            exec_(c2, "true")
        one = w.wait(lambda line: line["target"] == c2.name, 30, after=n)
        assert one["events"] == 10, one
        time.sleep(3)  # past the settle time: no second rescan comes
        assert [x for x in w.lines[n:] if x["target"] == c2.name] == [one]
    finally:
        code = w.stop(signal.SIGTERM)
    assert code == 0, w.stderr
    assert "Traceback" not in w.stderr

    # every rescan is a run in the history; the next report starts from what the watch recorded
    hist = json.loads(run_drift("history", "--store", str(tmp_path / "s.sqlite"), "--format", "json", check=0).stdout)
    assert len(hist["runs"]) >= 5 and sum(r["new"] for r in hist["runs"]) == 2
    out = tmp_path / "r.json"
    run_drift(
        "report", "--filter", f"label={LABEL}={RUN_ID}-{name}", "--store", str(tmp_path / "s.sqlite"),
        "--lock-timeout", "0", "-o", f"json:{out}", check=0,
    )  # fmt: skip
    doc = json.loads(out.read_text())
    assert {f["state"] for f in doc["findings"]} == {"persisting"} and len(doc["findings"]) == 2


def test_an_exec_that_installs_a_package_is_posted_with_the_package(
    tmp_path: Path, receiver: Receiver, group: tuple[str, list[Any]]
) -> None:
    name, (c1, _) = group
    w = Watcher(
        "--filter", f"label={LABEL}={RUN_ID}-{name}", "--store", str(tmp_path / "s.sqlite"), "--notify", receiver.url
    )  # fmt: skip
    try:
        _baseline(w)
        exec_(
            c1,
            "apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q"
            " --no-install-recommends tree >/dev/null && rm -rf /var/lib/apt/lists/*",
        )
        ended = time.monotonic()
        body = receiver.wait(lambda b: b["changes"], 15)
        assert time.monotonic() - ended < 15
        package = [c for c in body["changes"] if c["manager"] == "apt" and c["name"] == "tree"]
        assert package and package[0]["state"] == "new" and package[0]["severity"] == "medium", body
        assert body["watch"]["target"] == c1.name
    finally:
        code = w.stop()
    assert code == 0, w.stderr


def test_a_copy_into_a_container_and_a_start_are_rescanned(tmp_path: Path, group: tuple[str, list[Any]]) -> None:
    import io
    import tarfile

    name, (c1, c2) = group
    w = Watcher("--filter", f"label={LABEL}={RUN_ID}-{name}", "--store", str(tmp_path / "s.sqlite"), "--settle", "0.5")
    try:
        _baseline(w)
        data = io.BytesIO()
        with tarfile.open(fileobj=data, mode="w") as tar:
            info = tarfile.TarInfo("copied.conf")
            info.size = 4
            tar.addfile(info, io.BytesIO(b"x=1\n"))
        n = w.seen()
        assert c1.put_archive("/etc", data.getvalue())  # what `docker cp` does
        copy = w.wait(lambda line: line["target"] == c1.name, 30, after=n)
        assert copy["trigger"] == "copy" and copy["new"] == 1

        n = w.seen()
        c2.stop(timeout=1)
        c2.start()
        start = w.wait(lambda line: line["target"] == c2.name, 30, after=n)
        assert start["trigger"] == "start" and start["error"] is None
    finally:
        code = w.stop()
    assert code == 0, w.stderr


def test_sigterm_right_after_a_change_leaves_the_store_to_the_next_report_and_sigint_exits_130(
    tmp_path: Path, group: tuple[str, list[Any]]
) -> None:
    name, (c1, _) = group
    store = str(tmp_path / "s.sqlite")
    sel = ("--filter", f"label={LABEL}={RUN_ID}-{name}", "--store", store)
    w = Watcher(*sel, "--settle", "0")
    try:
        _baseline(w)
        exec_(c1, "echo x > /srv-file-$$")
        time.sleep(0.3)  # the rescan is starting or running
    finally:
        code = w.stop(signal.SIGTERM)
    assert code == 0, w.stderr
    assert "Traceback" not in w.stderr and "stopped after" in w.stderr
    proc = run_drift("report", *sel, "--lock-timeout", "0", "-o", f"json:{tmp_path / 'r.json'}")
    assert proc.returncode in (0, 1), proc.stderr  # the store is free at once (a wait would be exit 2)

    w = Watcher(*sel)
    try:
        _baseline(w)
    finally:
        code = w.stop(signal.SIGINT)
    assert code == 130, w.stderr


def test_a_store_held_by_a_report_is_retried(tmp_path: Path, receiver: Receiver, group: tuple[str, list[Any]]) -> None:
    name, (c1, _) = group
    store = tmp_path / "s.sqlite"
    w = Watcher(
        "--filter", f"label={LABEL}={RUN_ID}-{name}", "--store", str(store), "--notify", receiver.url, "--settle", "0.5"
    )  # fmt: skip
    try:
        _baseline(w)
        fd = os.open(str(store) + ".lock", os.O_RDWR)
        fcntl.flock(fd, fcntl.LOCK_EX)  # what a long `drift report` does
        try:
            exec_(c1, "cp /bin/true /usr/local/bin/held-probe")
            time.sleep(8)  # the watch waits 5 s for the lock, then tries again later
            assert not any(line["target"] == c1.name for line in w.lines[1:])
        finally:
            os.close(fd)
        body = receiver.wait(lambda b: b["changes"], 40)
        assert "held-probe" in json.dumps(body["changes"])
    finally:
        code = w.stop()
    assert code == 0 and "in use by another drift process" in w.stderr, w.stderr


def test_sighup_rereads_drift_toml(tmp_path: Path, receiver: Receiver, group: tuple[str, list[Any]]) -> None:
    name, (c1, _) = group
    toml = tmp_path / "drift.toml"
    toml.write_text(f'[report]\nfilters = ["label={LABEL}={RUN_ID}-nothing"]\nnotify = "{receiver.url}"\n')
    w = Watcher("--config", str(toml), "--store", str(tmp_path / "s.sqlite"), "--settle", "0.5")
    try:
        assert _baseline(w)["targets"] == 0
        toml.write_text(f'[report]\nfilters = ["label={LABEL}={RUN_ID}-{name}"]\nnotify = "{receiver.url}"\n')
        w.proc.send_signal(signal.SIGHUP)
        w.wait(lambda line: line["trigger"] == "reload" and line["targets"] == 2, 60)
        exec_(c1, "cp /bin/true /usr/local/bin/hup-probe")
        body = receiver.wait(lambda b: b["changes"], 20)
        assert "hup-probe" in json.dumps(body["changes"])
    finally:
        code = w.stop()
    assert code == 0 and "configuration reloaded" in w.stderr, w.stderr


def test_the_engine_restarted_mid_watch_is_followed_again(
    tmp_path: Path, receiver: Receiver, engine2: Any, base_image: str
) -> None:
    """A second, throwaway dockerd (never the main engine): stopped, changed while down, started."""
    client = engine2.client()
    c = start(
        client, base_image, f"drift-watch-{RUN_ID}-e2", "e2", network_mode="none", restart_policy={"Name": "always"}
    )
    w = Watcher(
        "-H", engine2.host, "--filter", f"label={LABEL}={RUN_ID}-e2", "--store", str(tmp_path / "s.sqlite"),
        "--notify", receiver.url, "--settle", "0.5",
    )  # fmt: skip
    try:
        assert _baseline(w)["targets"] == 1
        upper = c.attrs["GraphDriver"]["Data"]["UpperDir"]
        engine2.stop()
        time.sleep(1)
        probe = Path(upper) / "usr" / "local" / "bin" / "while-down"
        probe.parent.mkdir(parents=True, exist_ok=True)
        probe.write_text("#!/bin/sh\n")
        probe.chmod(0o755)
        engine2.start()
        body = receiver.wait(lambda b: b["changes"], 90)
        assert "while-down" in json.dumps(body["changes"])
        assert body["changes"][0]["severity"] == "high"
        # and the engine's events are followed again
        c = engine2.client().containers.get(c.name)
        exec_(c, "cp /bin/true /usr/local/bin/after-restart")
        posts = receiver.count()
        body = receiver.wait(lambda b: "after-restart" in json.dumps(b["changes"]), 30, after=posts - 1)
        assert w.proc.poll() is None
    finally:
        code = w.stop()
    assert code == 0, w.stderr


def test_an_engine_that_stops_answering_is_noticed(
    tmp_path: Path, receiver: Receiver, engine2: Any, base_image: str
) -> None:
    """The second engine frozen (SIGSTOP): its socket stays open and its stream never ends, but it
    does not answer; a file written meanwhile is found once it answers again (SIGCONT)."""
    client = engine2.client()
    c = start(client, base_image, f"drift-watch-{RUN_ID}-frozen", "frozen", network_mode="none")
    w = Watcher(
        "-H", engine2.host, "--filter", f"label={LABEL}={RUN_ID}-frozen", "--store", str(tmp_path / "s.sqlite"),
        "--notify", receiver.url, "--settle", "0.5", env={"DRIFT_WATCH_PING": "1"},
    )  # fmt: skip
    pid = int(Path(engine2.folder, "docker.pid").read_text())
    try:
        assert _baseline(w)["targets"] == 1
        upper = Path(c.attrs["GraphDriver"]["Data"]["UpperDir"])
        os.kill(pid, signal.SIGSTOP)
        try:
            probe = upper / "usr" / "local" / "bin" / "while-frozen"
            probe.parent.mkdir(parents=True, exist_ok=True)
            probe.write_text("#!/bin/sh\n")
            probe.chmod(0o755)
            time.sleep(6)  # the watch's ping (1 s, answered within 1 s) gives up: the stream is closed
        finally:
            os.kill(pid, signal.SIGCONT)
        try:
            body = receiver.wait(lambda b: b["changes"], 60)
        except AssertionError as exc:
            w.seen()
            raise AssertionError(f"{exc}\nlines: {w.lines}\nstderr: {w.stderr[-3000:]}") from None
        assert "while-frozen" in json.dumps(body["changes"])
        assert body["watch"]["trigger"] == "reconnect"
    finally:
        code = w.stop()
        client.containers.get(c.name).remove(force=True)
    assert code == 0, w.stderr


@pytest.fixture(scope="module")
def engine2(docker_client: Any, base_image: str) -> Iterator[Any]:
    """A second dockerd of this module's own (tests/engine/test_multi.py's Engine2), with the base image."""
    from tests.engine.test_multi import Engine2

    if shutil.which("dockerd") is None or os.geteuid() != 0:
        if in_ci():
            pytest.fail("the engine-restart test needs root and dockerd")
        pytest.skip("the engine-restart test needs root and dockerd")
    folder = tempfile.mkdtemp(prefix=f"drift-w2-{RUN_ID}-", dir="/tmp")
    eng = Engine2(folder, f"drw{RUN_ID[:6]}")
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


@pytest.fixture(scope="module")
def ctd(base_image: str) -> Iterator[Any]:
    """A throwaway containerd (tests/engine/test_containerd.py's), with the base image."""
    from tests.engine.test_containerd import SCRIPT, Containerd, _need_grpc

    _need_grpc()
    folder = tempfile.mkdtemp(prefix=f"drift-wctd-{RUN_ID}-")
    c = Containerd(folder)
    try:
        c.start()
        saved = subprocess.run(["docker", "save", base_image], capture_output=True, check=True, timeout=600).stdout
        c.ctr("images", "import", "-", input=saved)
        from drift.sources.containerd import normalized

        c.image = normalized(base_image)
        yield c
    finally:
        subprocess.run(["bash", SCRIPT, "stop", folder], capture_output=True, timeout=300)


def test_containerd_is_followed_through_its_events(tmp_path: Path, receiver: Receiver, ctd: Any) -> None:
    pod = (f"watch{RUN_ID}", "web-5f6d", "app")
    ctd.run(f"w-{RUN_ID}-1", pod=pod)
    ctd.run(f"w-{RUN_ID}-2", pod=(f"other{RUN_ID}", "api-1", "app"))  # not selected
    w = Watcher(
        "-H", ctd.url, "--filter", f"label=io.kubernetes.pod.namespace={pod[0]}", "--store", str(tmp_path / "s.sqlite"),
        "--notify", receiver.url, "--settle", "0.5",
    )  # fmt: skip
    try:
        assert _baseline(w)["targets"] == 1
        ctd.exec(f"w-{RUN_ID}-2", "cp /bin/true /usr/local/bin/not-mine")
        ctd.exec(f"w-{RUN_ID}-1", "cp /bin/true /usr/local/bin/ctd-probe")
        ended = time.monotonic()
        body = receiver.wait(lambda b: b["changes"], 15)
        assert time.monotonic() - ended < 15
        [change] = body["changes"]
        assert change["target"] == "/".join(pod) and change["severity"] == "high"
        assert "/usr/local/bin/ctd-probe" in json.dumps(change)
        line = w.wait(lambda line: line["target"] == "/".join(pod), 15, after=1)
        assert line["trigger"] == "exec" and line["new"] == 1
        time.sleep(2)
        assert all(x["target"] != f"{pod[0]}/api-1/app" for x in w.lines) and receiver.count() == 1
    finally:
        code = w.stop()
    assert code == 0, w.stderr
