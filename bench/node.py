"""The Kubernetes node case: `drift report` over 30 pod containers on a containerd, side by side
with the loop an operator writes today.

    make bench-node       (part of `make bench`; BENCH_RUNS=5 for more runs)

A throwaway containerd (scripts/containerd.sh) beside Docker's, the bench's small image (Debian
with python3, pip and requests) imported into it, 30 containers labelled as the kubelet labels
pods (3 Deployments of 10 replicas), 9 of them changed by hand inside (files, a pip install).
In each round, on the same containers:
  loop     for each container: ctr tasks exec C dpkg-query -W; ctr tasks exec C pip list
  cold     drift report -H containerd:///... over the 30 (empty store, empty layer cache)
  second   drift report again, nothing changed (same store and cache)
  one      drift report over 1 container, cold: the memory baseline
Targets (issue 17): cold >= 10x and second >= 30x faster than the loop; peak memory of the
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

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = str(ROOT / "scripts" / "containerd.sh")
PODS = 30
ID = uuid.uuid4().hex[:8]
NAMESPACE = f"bench{ID}"
HAND = [
    "echo 'listen=8080' > /etc/myapp.conf && rm -f /etc/issue.net",
    "echo '# tuned by hand' >> /etc/bash.bashrc",
    "pip install -q --break-system-packages six==1.16.0 || echo 'pip: no index reachable' > /etc/pip-failed",
]
# the kubelet's pod names: Deployment NAME, ReplicaSet hash, pod suffix (Kubernetes' alphabet)
WORKLOADS = ("web-7d9f8b6c4", "api-5c4b7d6f9", "worker-6b8c9d7f5")
SUFFIX = "bcdfghjklmnpqrstvwxz2456789"


def pod_name(i: int) -> str:
    w = WORKLOADS[i % 3]
    n, tail = i + 1000, ""
    for _ in range(5):  # i in Kubernetes' alphabet: one pod name per i
        n, r = divmod(n, len(SUFFIX))
        tail += SUFFIX[r]
    return f"{w}-{tail}"


class Node:
    def __init__(self) -> None:
        self.folder = tempfile.mkdtemp(prefix="drift-bench-node-")
        self.sock = ""
        self.image = ""
        self.ids: list[str] = []

    def ctr(self, *args: str, input: bytes | None = None) -> str:
        proc = subprocess.run(["bash", SCRIPT, "ctr", self.folder, *args], input=input, capture_output=True)
        if proc.returncode != 0:
            raise SystemExit(f"ctr {' '.join(args)} failed: {proc.stderr.decode()[-800:]}")
        return proc.stdout.decode()

    def start(self) -> None:
        self.sock = sh("bash", SCRIPT, "start", self.folder).strip()
        saved = subprocess.run(["docker", "save", SMALL], capture_output=True, check=True).stdout
        self.ctr("images", "import", "-", input=saved)
        self.image = next(i for i in self.ctr("images", "ls", "-q").split() if i.endswith(SMALL))
        for i in range(PODS):
            cid = f"bench-{ID}-{i:02d}"
            labels = {
                "io.kubernetes.pod.namespace": NAMESPACE,
                "io.kubernetes.pod.name": pod_name(i),
                "io.kubernetes.container.name": "app",
            }
            flags = [x for k, v in labels.items() for x in ("--label", f"{k}={v}")]
            self.ctr("run", "-d", "--net-host", *flags, self.image, cid, "sleep", "infinity")
            self.ids.append(cid)
        for i, cid in enumerate(self.ids[:9]):  # 9 of 30 changed by hand, 3 of each kind
            self.ctr("tasks", "exec", "--exec-id", f"hand{i}", cid, "bash", "-c", HAND[i % 3])

    def stop(self) -> None:
        subprocess.run(["bash", SCRIPT, "stop", self.folder], capture_output=True)
        shutil.rmtree(self.folder, ignore_errors=True)

    @property
    def url(self) -> str:
        return f"containerd://{self.sock}"

    def loop(self) -> str:
        ctr = f"ctr -a {self.sock} -n k8s.io"
        return (
            f"for c in {' '.join(self.ids)}; do {ctr} tasks exec --exec-id q$$ $c dpkg-query -W; "
            f"{ctr} tasks exec --exec-id p$$ $c pip list; done"
        )


def drift_report(node: Node, folder: str, *selection: str) -> tuple[float, int, dict[str, object]]:
    """One `drift report` with its store and layer cache in `folder` (fresh folder = cold)."""
    out = os.path.join(folder, "report.json")
    cmd = [*DRIFT, "report", "-H", node.url, *selection, "--store", f"sqlite:///{folder}/h.sqlite", "-q"]
    cmd += ["-o", f"json:{out}"]
    seconds, mb, _ = measure(cmd, {"DRIFT_CACHE_DIR": os.path.join(folder, "cache")}, ok=(0, 1))
    return seconds, mb, json.loads(Path(out).read_text())


def check(doc: dict[str, object], *, states: set[str], pods: int = PODS) -> int:
    targets = doc["targets"]
    assert isinstance(targets, list) and len(targets) == pods, f"{len(targets)} targets"  # type: ignore[arg-type]
    assert all(t["status"] in ("scanned", "new") for t in targets), [t["error"] for t in targets]
    assert all(str(t["name"]).startswith(f"{NAMESPACE}/") for t in targets)
    findings = doc["findings"]
    assert isinstance(findings, list)
    assert {f["state"] for f in findings} <= states, {f["state"] for f in findings}
    return len(findings)


def one_round(node: Node) -> dict[str, float]:
    row: dict[str, float] = {}
    row["loop_s"], _, text = measure(["bash", "-c", node.loop()])
    row["loop_lines"] = len(text.splitlines())
    folder = tempfile.mkdtemp(prefix="drift-bench-node-run-")
    one = tempfile.mkdtemp(prefix="drift-bench-node-one-")
    selection = ["--filter", f"label=io.kubernetes.pod.namespace={NAMESPACE}"]
    try:
        row["cold_s"], row["cold_mb"], doc = drift_report(node, folder, *selection)
        row["findings"] = check(doc, states={"new"})
        row["second_s"], row["second_mb"], doc = drift_report(node, folder, *selection)
        assert check(doc, states={"persisting"}) == row["findings"]
        only = ["--filter", f"label=io.kubernetes.pod.name={pod_name(0)}"]
        row["one_s"], row["one_mb"], doc = drift_report(node, one, *only)
        check(doc, states={"new"}, pods=1)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(one, ignore_errors=True)
    return row


def main() -> None:
    runner()  # start it before this process grows
    ensure_image(SMALL, SMALL_STORY)
    node = Node()
    try:
        node.start()
        rows = [one_round(node) for _ in range(RUNS)]
    finally:
        node.stop()
    report(rows)


def report(rows: list[dict[str, float]]) -> None:
    report_against_loop(
        rows,
        name="node",
        what=f"node: {PODS} pod containers on containerd (3 Deployments x 10), 9 changed by hand",
        labels=(
            "loop: ctr tasks exec dpkg-query -W + pip list per container",
            "drift report -H containerd://, cold",
            "drift report, second run, nothing changed",
            "drift report, 1 container, cold",
        ),
        cold_x=10,
        second_x=30,
    )


if __name__ == "__main__":
    sys.exit(main())
