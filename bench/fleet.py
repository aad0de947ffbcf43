"""The fleet case: `drift report` over 30 running containers, side by side with the shell loop
an ops person writes today.

    make bench-fleet      (part of `make bench`; BENCH_RUNS=5 for more runs)

30 containers from 3 images, some changed by hand inside (files written and deleted, a pip
install). In each round, on the same containers:
  loop     for each container: docker diff C; docker exec C dpkg-query -W; docker exec C pip list
  cold     drift report over the 30 (empty store, empty layer cache)
  second   drift report again, nothing changed (same store and cache)
  one      drift report over 1 container, cold: the memory baseline
Targets (issue 10): cold >= 5x and second >= 10x faster than the loop; peak memory of the
30-container run <= 1.5x that of the 1-container run. Medians of BENCH_RUNS rounds.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from bench import DRIFT, RUNS, SMALL, SMALL_STORY, ensure_image, measure, report_against_loop, runner, sh
from drift.progress import bar

FLEET = 30
ID = uuid.uuid4().hex[:8]
LABEL = f"drift.bench.fleet={ID}"
IMAGES = {
    f"drift-bench/fleet-web:{ID}": "mkdir -p /srv/www && seq 1 5000 > /srv/www/index.txt",
    f"drift-bench/fleet-worker:{ID}": "useradd -m worker && printf 'concurrency=4\\n' > /etc/worker.conf",
    f"drift-bench/fleet-cron:{ID}": "mkdir -p /etc/cron.jobs && echo '0 * * * * true' > /etc/cron.jobs/hourly",
}
HAND = [
    "echo 'listen=8080' > /etc/myapp.conf && rm -f /etc/issue.net",
    "echo '# tuned by hand' >> /etc/bash.bashrc",
    "pip install -q --break-system-packages six==1.16.0 || echo 'pip: no index reachable' > /etc/pip-failed",
]
LOOP = (
    'for c in $(docker ps -q --filter "label={label}"); do '
    'docker diff "$c"; docker exec "$c" dpkg-query -W; docker exec "$c" pip list; done'
)


def build_images() -> None:
    ctx = Path(tempfile.mkdtemp(prefix="drift-bench-fleet-"))
    try:
        for tag, script in IMAGES.items():
            (ctx / "Dockerfile").write_text(f"FROM {SMALL}\nRUN {script}\n")
            sh(
                "docker",
                "build",
                "-q",
                "--network",
                "host",
                "-t",
                tag,
                str(ctx),
                env={**os.environ, "DOCKER_BUILDKIT": "0"},
            )
    finally:
        shutil.rmtree(ctx, ignore_errors=True)


def start_fleet() -> list[str]:
    names = []
    tags = list(IMAGES)
    for i in range(FLEET):
        name = f"drift-bench-fleet-{ID}-{i:02d}"
        sh(
            "docker",
            "run",
            "-d",
            "--network",
            "host",
            "--name",
            name,
            "--label",
            LABEL,
            tags[i % 3],
            "sleep",
            "infinity",
        )
        names.append(name)
    for i, name in enumerate(names[:9]):  # 9 of 30 changed by hand, 3 of each kind
        sh("docker", "exec", name, "bash", "-c", HAND[i % 3])
    return names


def cleanup(names: list[str]) -> None:
    if names:
        subprocess.run(["docker", "rm", "-f", *names], capture_output=True)
    subprocess.run(["docker", "rmi", "-f", *IMAGES], capture_output=True)


def drift_report(folder: str, *selection: str) -> tuple[float, int, dict[str, object]]:
    """One `drift report` with its store and layer cache in `folder` (fresh folder = cold)."""
    out = os.path.join(folder, "report.json")
    cmd = [*DRIFT, "report", *selection, "--store", f"sqlite:///{folder}/history.sqlite", "-q", "-o", f"json:{out}"]
    seconds, mb, _ = measure(cmd, {"DRIFT_CACHE_DIR": os.path.join(folder, "cache")}, ok=(0, 1))
    return seconds, mb, json.loads(Path(out).read_text())


def check(doc: dict[str, object], *, states: set[str]) -> int:
    """Every target scanned, findings only in `states`; returns the number of findings."""
    targets = doc["targets"]
    assert isinstance(targets, list) and len(targets) == FLEET, f"{len(targets)} targets"  # type: ignore[arg-type]
    assert all(t["status"] in ("scanned", "new") for t in targets), [t["error"] for t in targets]
    findings = doc["findings"]
    assert isinstance(findings, list)
    assert {f["state"] for f in findings} <= states, {f["state"] for f in findings}
    return len(findings)


def one_round(names: list[str]) -> dict[str, float]:
    row: dict[str, float] = {}
    row["loop_s"], _, text = measure(["bash", "-c", LOOP.format(label=LABEL)])
    row["loop_lines"] = len(text.splitlines())
    folder = tempfile.mkdtemp(prefix="drift-bench-fleet-")
    one = tempfile.mkdtemp(prefix="drift-bench-fleet-one-")
    try:
        row["cold_s"], row["cold_mb"], doc = drift_report(folder, "--filter", f"label={LABEL}")
        row["findings"] = check(doc, states={"new"})
        row["second_s"], row["second_mb"], doc = drift_report(folder, "--filter", f"label={LABEL}")
        assert check(doc, states={"persisting"}) == row["findings"]
        row["one_s"], row["one_mb"], _ = drift_report(one, names[0])
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(one, ignore_errors=True)
    return row


def main() -> None:
    runner()  # start it before this process grows
    ensure_image(SMALL, SMALL_STORY)
    names: list[str] = []
    try:
        build_images()
        names = start_fleet()
        shown = bar("bench: fleet of 30 containers")  # on a terminal only (drift/progress.py)
        shown.start(RUNS)
        rows = []
        for i in range(RUNS):
            shown.step(f"round {i + 1}/{RUNS}")
            rows.append(one_round(names))
        shown.stop()
    finally:
        cleanup(names)
    report(rows)


def report(rows: list[dict[str, float]]) -> None:
    report_against_loop(
        rows,
        name="fleet",
        what=f"fleet: {FLEET} running containers from 3 images, 9 changed by hand",
        labels=(
            "shell loop (docker diff + dpkg-query + pip list per container)",
            "drift report, cold (empty store and cache)",
            "drift report, second run, nothing changed",
            "drift report, 1 container, cold",
        ),
        cold_x=5,
        second_x=10,
    )


if __name__ == "__main__":
    sys.exit(main())
