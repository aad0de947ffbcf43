"""The multi-engine case: one `drift report` over two engines, against one report per engine.

    make bench-multi      (part of `make bench`; BENCH_RUNS=N rounds, default 5)

A second dockerd (scripts/engine2.sh) beside the first, bench.py's small image (Debian with
python3, pip and requests) loaded into it (`docker save | docker load`: the same image on
both), 30 containers of it on each engine, some changed by hand. In each round, each report
runs cold (its own empty store and layer cache):
  a        drift report --host A
  b        drift report --host B
  both     drift report --host A --host B   (engines scanned at the same time)
Targets (issue 11): both <= 0.6 x (a + b); the image present on both engines is read once
(`run.layer_reads.image` of `both` equals that of `a`). Medians of BENCH_RUNS rounds.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from fleet import drift_report

from bench import SMALL, SMALL_STORY, ensure_image, sh

ROOT = Path(__file__).resolve().parent.parent
# Five rounds by default (bench.py's default is three): on a 2-core VM two CPU-bound processes at
# once are noisy (a plain Python loop here: the slower of two at once took 1.1x to 1.6x the time of
# one alone, from run to run), and a round takes about ten seconds.
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
FLEET = 30
ID = uuid.uuid4().hex[:8]
LABEL = f"drift.bench.multi={ID}"
LOCAL = "unix:///var/run/docker.sock"
HAND = ["echo 'listen=8080' > /etc/myapp.conf", "echo '# tuned' >> /etc/bash.bashrc", "rm -f /etc/issue.net"]


def docker(host: str, *args: str) -> str:
    return sh("docker", *args, env={**os.environ, "DOCKER_HOST": host})


def start_engine2(folder: str, bridge: str) -> str:
    host = sh("bash", str(ROOT / "scripts" / "engine2.sh"), "start", folder, bridge).strip()
    save = subprocess.Popen(["docker", "save", SMALL], stdout=subprocess.PIPE)
    subprocess.run(
        ["docker", "load"], stdin=save.stdout, check=True, capture_output=True, env={**os.environ, "DOCKER_HOST": host}
    )
    save.wait()
    return host


def start_fleet(host: str) -> list[str]:
    names = []
    for i in range(FLEET):
        name = f"drift-bench-multi-{ID}-{i:02d}"
        docker(host, "run", "-d", "--network", "none", "--name", name, "--label", LABEL, SMALL, "sleep", "infinity")
        names.append(name)
    for i, name in enumerate(names[:6]):
        docker(host, "exec", name, "bash", "-c", HAND[i % 3])
    return names


def report(*hosts: str) -> tuple[float, dict[str, object]]:
    folder = tempfile.mkdtemp(prefix="drift-bench-multi-")
    try:
        args = [a for h in hosts for a in ("--host", h)]
        seconds, _, doc = drift_report(folder, "--filter", f"label={LABEL}", *args)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    targets = doc["targets"]
    assert isinstance(targets, list) and len(targets) == FLEET * len(hosts), len(targets)  # type: ignore[arg-type]
    assert all(t["status"] in ("new", "scanned") for t in targets), [t["error"] for t in targets]
    return seconds, doc


def main() -> None:
    if os.geteuid() != 0 or shutil.which("dockerd") is None:
        raise SystemExit("bench/multi.py starts a second dockerd: it needs root and dockerd")
    ensure_image(SMALL, SMALL_STORY)  # the fleet's image (python3, pip, requests), on both engines
    folder = tempfile.mkdtemp(prefix=f"drift-bench-e2-{ID}-", dir="/tmp")
    bridge = f"drbb{ID[:6]}"
    fleets: dict[str, list[str]] = {}
    try:
        engine2 = start_engine2(folder, bridge)
        fleets = {LOCAL: start_fleet(LOCAL), engine2: start_fleet(engine2)}
        rows = []
        for _ in range(RUNS):
            a, doc_a = report(LOCAL)
            b, doc_b = report(engine2)
            both, doc_both = report(LOCAL, engine2)
            reads = [d["run"]["layer_reads"]["image"] for d in (doc_a, doc_b, doc_both)]  # type: ignore[index]
            rows.append((a, b, both, *reads))
        a, b, both = (statistics.median(r[i] for r in rows) for i in range(3))
        reads_a, reads_b, reads_both = rows[-1][3:]
        print(f"two engines, {FLEET} containers each, cold, median of {RUNS} rounds:")
        print(f"  engine A alone      {a:6.2f} s   image layers read: {reads_a}")
        print(f"  engine B alone      {b:6.2f} s   image layers read: {reads_b}")
        print(f"  both in one report  {both:6.2f} s   image layers read: {reads_both}")
        ratio = both / (a + b)
        print(f"  ratio both / (A + B) = {ratio:.2f} (target <= 0.60): {'ok' if ratio <= 0.6 else 'MISSED'}")
        once = reads_both == reads_a
        print(f"  the image on both engines read once: {'ok' if once else 'MISSED'} ({reads_both} vs {reads_a})")
        if ratio > 0.6 or not once:
            sys.exit(1)
    finally:
        for host, names in fleets.items():
            subprocess.run(["docker", "rm", "-f", *names], capture_output=True, env={**os.environ, "DOCKER_HOST": host})
        subprocess.run(["bash", str(ROOT / "scripts" / "engine2.sh"), "stop", folder, bridge], capture_output=True)
        subprocess.run(["rm", "-rf", folder])


if __name__ == "__main__":
    main()
