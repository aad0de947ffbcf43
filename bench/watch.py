"""`drift watch` on 30 containers: how soon a change reaches the webhook, and a soak.

    make bench-watch      (part of `make bench`; WATCH_EXECS=3400 for the soak's size)

Setup: 30 containers of the base image with a label of this run, a webhook receiver on
127.0.0.1 (an http.server in a thread), `drift watch --filter label=... --notify URL --format
json` as a child with a store and layer cache of its own.

  latency   20 times, one container after the other: an exec that writes an executable in
            /usr/local/bin; from the moment the exec has ended (its API call returned) to the
            webhook's POST naming that file. Median and worst, with the default --settle (2 s:
            that much of it is the wait for more events) and with --settle 0.5.
  soak      execs of `true` in 4 threads over the 30 containers (exec_create, exec_start,
            exec_die: 3 events each) until 10,000 events, paced over 3 minutes at least
            (WATCH_SOAK_SECONDS), so that the first and the last minute are apart; and every 250 execs one that writes
            an executable (a real change: a full rescan and a POST); the watch's resident
            memory sampled twice a second, after a first change and POST (the code they load
            is loaded once). Memory flat: the peak of the last minute within 10% of the first
            minute's. No event lost: every event reached the watch (its count on exit), every
            exec_die is counted in a rescan line (the lines' `events` add up to the execs), and
            every change was posted.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BASE = os.environ.get("DRIFT_BASE_IMAGE", "drift-base:bookworm")
ID = uuid.uuid4().hex[:8]
LABEL = f"drift.bench.watch={ID}"
CONTAINERS = 30
ROUNDS = 20
EXECS = int(os.environ.get("WATCH_EXECS", "3400"))  # x3 events each
THREADS = 4
SOAK_SECONDS = float(os.environ.get("WATCH_SOAK_SECONDS", "180"))  # the flood paced over this long at least


class Receiver:
    def __init__(self) -> None:
        self.posts: list[tuple[float, str]] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                with outer.lock:
                    outer.posts.append((time.monotonic(), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, text: str, timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for when, body in self.posts:
                    if text in body:
                        return when
            time.sleep(0.02)
        raise SystemExit(f"bench/watch.py: no POST naming {text} within {timeout} s")


class Watcher:
    def __init__(self, folder: str, url: str, *extra: str) -> None:
        env = {**os.environ, "DRIFT_CACHE_DIR": os.path.join(folder, "cache")}
        cmd = [sys.executable, "-m", "drift", "watch", "--filter", f"label={LABEL}", "--format", "json"]
        cmd += ["--store", os.path.join(folder, "store.sqlite"), "--notify", url, *extra]
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_dfl
        )
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self.err: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=lambda: self.err.extend(self.proc.stderr or ()), daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout or ():
            self.lines.put(json.loads(line))

    def line(self, timeout: float) -> dict[str, Any]:
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            why = "".join(self.err)[-2000:]
            raise SystemExit(f"bench/watch.py: no line from drift watch in {timeout} s: {why}") from None

    def rss_kb(self) -> int:
        with open(f"/proc/{self.proc.pid}/status") as fh:
            for row in fh:
                if row.startswith("VmRSS:"):
                    return int(row.split()[1])
        return 0

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def _dfl() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def latency(client: Any, containers: list[Any], settle: str) -> list[float]:
    folder = tempfile.mkdtemp(prefix="drift-bench-watch-")
    receiver = Receiver()
    w = Watcher(folder, receiver.url, "--settle", settle)
    try:
        first = w.line(600)
        assert first["trigger"] == "watch start" and first["targets"] == CONTAINERS, first
        out = []
        for k in range(ROUNDS):
            c = containers[k % len(containers)]
            name = f"probe-{settle}-{k}".replace(".", "_")
            r = c.exec_run(["sh", "-c", f"cp /bin/true /usr/local/bin/{name}"])
            ended = time.monotonic()
            assert r.exit_code == 0, r.output
            out.append(receiver.wait_for(f"/usr/local/bin/{name}", 60) - ended)
        return out
    finally:
        w.stop()
        receiver.server.shutdown()
        shutil.rmtree(folder, ignore_errors=True)


def soak(client: Any, containers: list[Any]) -> dict[str, Any]:
    folder = tempfile.mkdtemp(prefix="drift-bench-watch-")
    receiver = Receiver()
    w = Watcher(folder, receiver.url)
    samples: list[tuple[float, int]] = []
    marks: list[str] = []

    def change(c: Any) -> None:
        """A real change, posted: the scans and webhook calls go on through the soak."""
        name = f"soak-{len(marks)}-{c.name}"
        assert c.exec_run(["sh", "-c", f"cp /bin/true /usr/local/bin/{name}"]).exit_code == 0
        marks.append(name)

    try:
        w.line(600)
        change(containers[0])  # warm-up: the first full rescan and the first POST happen before t0
        receiver.wait_for(marks[0], 60)
        done = threading.Event()
        t0 = time.monotonic()

        def sample() -> None:
            while not done.is_set():
                samples.append((time.monotonic() - t0, w.rss_kb()))
                time.sleep(0.5)

        threading.Thread(target=sample, daemon=True).start()
        counter = iter(range(EXECS))
        lock = threading.Lock()

        def execs() -> None:
            import docker

            api = docker.APIClient(timeout=120)
            while True:
                with lock:
                    k = next(counter, None)
                if k is None:
                    return
                ahead = t0 + k * SOAK_SECONDS / EXECS - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
                cid = containers[k % len(containers)].id
                e = api.exec_create(cid, ["true"])
                api.exec_start(e["Id"], detach=True)
                if k % 250 == 249:  # every 250 execs, one that changes something
                    change(containers[(k // 250) % len(containers)])

        threads = [threading.Thread(target=execs) for _ in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        flood = time.monotonic() - t0
        counted, lines = 0, 0
        deadline = time.monotonic() + 180
        while counted < EXECS + len(marks) and time.monotonic() < deadline:
            line = w.line(180)
            if line["trigger"] != "watch start":
                counted += line["events"] if "exec" in line["trigger"] else 0
                lines += 1
        for name in marks:
            receiver.wait_for(f"/usr/local/bin/{name}", 60)
        time.sleep(3)  # one more settle: nothing comes after the count
        while not w.lines.empty():
            line = w.lines.get()
            counted += line["events"] if "exec" in line["trigger"] else 0
        done.set()
    finally:
        code = w.stop()
        receiver.server.shutdown()
    received = next((int(x.split(" of ")[1].split()[0]) for x in w.err if "stopped after" in x), -1)
    shutil.rmtree(folder, ignore_errors=True)
    end = samples[-1][0]
    first = max(kb for t, kb in samples if t <= 60)
    last = max(kb for t, kb in samples if t >= end - 60)
    timeline = [max((kb for t, kb in samples if q <= t < q + 15), default=0) // 1024 for q in range(0, int(end), 15)]
    return {
        "execs": EXECS + len(marks),
        "changes_posted": len(marks),
        "events_sent": 3 * (EXECS + len(marks)),
        "events_received": received,
        "exec_die_counted": counted,
        "rescans": lines,
        "flood_seconds": round(flood, 1),
        "total_seconds": round(end, 1),
        "rss_first_minute_mb": round(first / 1024, 1),
        "rss_last_minute_mb": round(last / 1024, 1),
        "rss_mb_per_15s": timeline,
        "exit": code,
    }


def main() -> None:
    import docker

    client = docker.from_env(timeout=300)
    containers = []
    try:
        for i in range(CONTAINERS):
            containers.append(
                client.containers.run(
                    BASE,
                    ["sleep", "infinity"],
                    name=f"drift-bench-watch-{ID}-{i:02d}",
                    detach=True,
                    labels={"drift.bench.watch": ID},
                    network_mode="host",
                )
            )
        rows = []
        for settle in ("2", "0.5"):
            secs = latency(client, containers, settle)
            rows.append((settle, statistics.median(secs), max(secs)))
        print(f"drift watch, {CONTAINERS} containers watched: from the end of an exec to the webhook, {ROUNDS} execs")
        print(f"{'--settle':>10} {'median s':>10} {'worst s':>10}")
        for settle, med, worst in rows:
            print(f"{settle:>10} {med:>10.2f} {worst:>10.2f}")
        result = soak(client, containers)
        flat = result["rss_last_minute_mb"] <= 1.10 * result["rss_first_minute_mb"]
        whole = result["exec_die_counted"] == result["execs"] and result["events_received"] == result["events_sent"]
        print(f"soak: {json.dumps(result)}")
        print(f"memory flat (last minute's peak <= 1.10 x the first's): {'PASS' if flat else 'FAIL'}")
        print(f"no event lost (every exec_die in a rescan, every event received): {'PASS' if whole else 'FAIL'}")
        if not (flat and whole):
            raise SystemExit(1)
    finally:
        for c in containers:
            c.remove(force=True)


if __name__ == "__main__":
    main()
