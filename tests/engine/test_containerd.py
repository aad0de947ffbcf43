"""containerd as an engine, on a real containerd (Debian's 1.6, a throwaway instance beside
Docker's with its own root, state and socket: scripts/containerd.sh), read through its gRPC
API. Containers are made the way a Kubernetes node has them: in namespace k8s.io, with the
labels the kubelet sets, host networking (only 127.0.0.1 is reachable here).

What drift finds in a containerd container is what it finds in a Docker container given the
same changes; `drift report` names it POD-NAMESPACE/POD/CONTAINER and keeps its history
across runs and restarts of containerd; what Kubernetes mounts is not drift.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, RUN_ID, in_ci, run_drift, sh

pytestmark = pytest.mark.engine

SCRIPT = str(ROOT / "scripts" / "containerd.sh")
POD = ("shop", "web-7d9f", "app")
# the same hand changes in a containerd container and in a Docker one
CHANGES = (
    "apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends jq >/dev/null"
    " && rm -rf /var/lib/apt/lists/*"
    " && printf 'x=1\\n' > /etc/app.conf && cp /bin/true /usr/local/bin/t && rm /etc/issue.net"
)


class Containerd:
    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.sock = ""
        self.image = ""

    @property
    def url(self) -> str:
        return f"containerd://{self.sock}"

    def start(self) -> None:
        proc = subprocess.run(["bash", SCRIPT, "start", self.folder], capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            message = f"scripts/containerd.sh could not start containerd: {proc.stderr.strip()[-500:]}"
            if in_ci():
                pytest.fail(message)
            pytest.skip(message)
        self.sock = proc.stdout.strip()

    def kill(self) -> None:
        """containerd itself stops (its containers' shims go on running, as on a node)."""
        pid_file = Path(self.folder, "containerd.pid")
        pid = int(pid_file.read_text().strip())
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            if not Path(f"/proc/{pid}").exists():
                break
            time.sleep(0.1)
        pid_file.unlink()

    def ctr(self, *args: str, input: bytes | None = None, check: bool = True) -> str:
        proc = subprocess.run(
            ["bash", SCRIPT, "ctr", self.folder, *args], input=input, capture_output=True, timeout=900
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"ctr {' '.join(args)}: exit {proc.returncode}: {proc.stderr.decode()[-2000:]}")
        return proc.stdout.decode()

    def run(self, cid: str, *extra: str, pod: tuple[str, str, str] | None = POD) -> None:
        labels = []
        if pod:
            keys = ("io.kubernetes.pod.namespace", "io.kubernetes.pod.name", "io.kubernetes.container.name")
            for key, value in zip(keys, pod, strict=True):
                labels += ["--label", f"{key}={value}"]
        self.ctr("run", "-d", "--net-host", *labels, *extra, self.image, cid, "sleep", "3600")

    def exec(self, cid: str, script: str) -> None:
        self.ctr("tasks", "exec", "--exec-id", f"x{time.monotonic_ns()}", cid, "sh", "-c", script)


def _need_grpc() -> None:
    """drift's containerd client needs grpcio and protobuf (a venv made before they were its
    dependencies lacks them: `make venv` installs them)."""
    import importlib.util

    missing = [m for m in ("grpc", "google") if importlib.util.find_spec(m) is None]
    if missing:
        message = f"drift's containerd client needs grpcio and protobuf ({missing} missing): make venv"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def ctd(base_image: str) -> Iterator[Containerd]:
    _need_grpc()
    folder = tempfile.mkdtemp(prefix=f"drift-containerd-{RUN_ID}-")
    c = Containerd(folder)
    try:
        c.start()
        saved = subprocess.run(["docker", "save", base_image], capture_output=True, check=True, timeout=600).stdout
        c.ctr("images", "import", "-", input=saved)
        from drift.sources.containerd import normalized

        c.image = normalized(base_image)
        assert c.image in c.ctr("images", "ls", "-q").split(), c.ctr("images", "ls", "-q")
        yield c
    finally:
        subprocess.run(["bash", SCRIPT, "stop", folder], capture_output=True, timeout=300)


def _files(doc: dict[str, Any]) -> set[tuple[Any, ...]]:
    """What drift says of each changed file but its runtime noise (/etc/hosts and the like)."""
    return {
        (f["path"], f["change"], f["kind"], f["mode"], f["class"], f["owner"], f["severity"])
        for f in doc["files"]
        if f["class"] != "noise"
    }


def test_inspect_finds_what_docker_finds(
    ctd: Containerd, docker_client: Any, base_image: str, cleanup: list[tuple[str, str]]
) -> None:
    cid = f"drift-{RUN_ID}-same"
    ctd.run(cid, pod=None)
    ctd.exec(cid, CHANGES)
    name = f"drift-test-ctd-same-{RUN_ID}"
    container = docker_client.containers.run(base_image, ["sleep", "3600"], name=name, detach=True, network_mode="host")
    cleanup.append(("container", name))
    sh(container, CHANGES)

    mine = json.loads(
        run_drift("inspect", f"containerd:{cid}", "-f", "json", env={"CONTAINERD_ADDRESS": ctd.sock}, check=0).stdout
    )
    theirs = json.loads(run_drift("inspect", name, "-f", "json", check=0).stdout)
    assert mine["target"]["kind"] == "container" and mine["target"]["id"] == cid
    assert mine["base"]["id"] == theirs["base"]["id"]  # the same image config, by digest
    assert _files(mine) == _files(theirs)
    found = {(p, c, k, m, cls, sev) for p, c, k, m, cls, _, sev in _files(mine)}
    assert ("/etc/app.conf", "added", "file", "0644", "unexplained", "medium") in found
    assert ("/usr/local/bin/t", "added", "file", "0755", "unexplained", "high") in found
    assert ("/etc/issue.net", "deleted", "file", "0644", "unexplained", "low") in found or any(
        p == "/etc/issue.net" and c == "deleted" for p, c, *_ in found
    )
    packages = {(p["manager"], p["name"], p["change"]) for p in mine["package_changes"]}
    assert ("apt", "jq", "added") in packages
    assert packages == {(p["manager"], p["name"], p["change"]) for p in theirs["package_changes"]}
    assert [h["created_by"] for h in mine["history"]] == [h["created_by"] for h in theirs["history"]]

    # the same container through -H, by its ID without prefix
    proc = run_drift("inspect", "-H", ctd.url, cid, "-f", "json", check=0)
    assert _files(json.loads(proc.stdout)) == _files(mine)


def test_snapshot_and_diff_of_a_containerd_container(ctd: Containerd, tmp_path: Path) -> None:
    cid = f"drift-{RUN_ID}-snap"
    ctd.run(cid, pod=("shop", "snap-1", "app"))  # the kubelet's labels are no LABELs of the image
    ctd.exec(cid, "printf 'x=1\\n' > /etc/app.conf")
    out = tmp_path / "snap"
    # the image's own command (the container's, `sleep 3600`, is how it was run, not how it was built)
    proc = run_drift("snapshot", "-H", ctd.url, f"containerd:{cid}", "-o", str(out), "--cmd", '["bash"]')
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    dockerfile = (out / "Dockerfile").read_text()
    assert "COPY files/ /" in dockerfile and (out / "files" / "etc" / "app.conf").read_text() == "x=1\n"
    assert "WORKDIR" not in dockerfile and 'CMD ["bash"]' in dockerfile and "LABEL" not in dockerfile
    # the written Dockerfile describes the container: a static audit finds nothing
    proc = run_drift("diff", "-H", ctd.url, f"containerd:{cid}", str(out / "Dockerfile"), "-f", "json")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert json.loads(proc.stdout)["findings"] == []
    # built by Docker and compared whole with the containerd container: the same
    proc = run_drift(
        "diff", "-H", ctd.url, "shop/snap-1/app", str(out / "Dockerfile"), "-f", "json", "--build", "--network", "host"
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert json.loads(proc.stdout)["findings"] == []
    # and a change after the snapshot is drift
    ctd.exec(cid, "printf 'x=2\\n' >> /etc/app.conf && touch /etc/later.conf")
    proc = run_drift("diff", "-H", ctd.url, f"containerd:{cid}", str(out / "Dockerfile"), "-f", "json")
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert {f["name"] for f in json.loads(proc.stdout)["findings"]} == {"/etc/app.conf", "/etc/later.conf"}


def _report(ctd: Containerd, store: str, out: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str], Any]:
    proc = run_drift("report", "-H", ctd.url, "--store", store, "-o", f"json:{out}", *extra)
    return proc, json.loads(out.read_text()) if out.exists() else None


def test_report_names_pods_keeps_history_and_down_is_stale(ctd: Containerd, tmp_path: Path) -> None:
    cid = f"drift-{RUN_ID}-report"
    ctd.run(cid)
    ctd.exec(cid, "printf 'hot\\n' > /etc/hotfix.conf && cp /bin/true /usr/local/bin/t")
    # a pod's pause container is Kubernetes' own: never a target
    ctd.run(f"drift-{RUN_ID}-pause", "--label", "io.cri-containerd.kind=sandbox", pod=("shop", "web-7d9f", "POD"))
    store = f"sqlite:///{tmp_path / 'h.sqlite'}"
    only = ["--filter", "label=io.kubernetes.pod.name=web-7d9f"]
    name = "/".join(POD)
    wanted = {"/etc/hotfix.conf": "medium", "/usr/local/bin/t": "high"}
    docs = []
    for i, state in enumerate(("new", "persisting")):
        proc, doc = _report(ctd, store, tmp_path / f"r{i}.json", *only)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert [t["name"] for t in doc["targets"]] == [name], doc["targets"]
        found = {f["name"]: f for f in doc["findings"]}
        assert {n: f["severity"] for n, f in found.items()} == wanted
        assert {f["state"] for f in found.values()} == {state}
        assert {f["target"] for f in found.values()} == {name}
        docs.append(doc)
    ids = {d["engines"][0]["id"] for d in docs}
    assert len(ids) == 1 and next(iter(ids)).startswith("containerd:"), [d["engines"] for d in docs]

    ctd.kill()  # containerd down: what it had is stale, the run fails with exit 2
    try:
        proc, down = _report(ctd, store, tmp_path / "down.json", *only)
        assert proc.returncode == 2, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert down["engines"][0]["status"] == "down"
        assert {f["name"] for f in down["findings"] if f["state"] == "stale"} == set(wanted)
    finally:
        ctd.start()
    # the same containerd after its restart: the same engine, the history goes on
    proc, back = _report(ctd, store, tmp_path / "back.json", *only)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert back["engines"][0]["id"] in ids
    assert {f["state"] for f in back["findings"]} == {"persisting"}


def test_report_over_docker_and_containerd_at_once(ctd: Containerd, tmp_path: Path) -> None:
    """Two engines are read by forked processes: containerd's gRPC client works in its child."""
    cid = f"drift-{RUN_ID}-both"
    ctd.run(cid, pod=("shop", "both-1", "app"))
    ctd.exec(cid, "printf 'x\\n' > /etc/both.conf")
    store = f"sqlite:///{tmp_path / 'h.sqlite'}"
    out = tmp_path / "r.json"
    proc = run_drift(
        "report", "-H", "unix:///var/run/docker.sock", "-H", ctd.url, "--store", store, "-o", f"json:{out}",
        "--filter", "label=io.kubernetes.pod.name=both-1",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stderr == ""  # nor gRPC's notes on the fork
    doc = json.loads(out.read_text())
    assert [e["status"] for e in doc["engines"]] == ["up", "up"]
    assert {(f["target"], f["name"]) for f in doc["findings"]} == {("shop/both-1/app", "/etc/both.conf")}


def test_a_restarted_pod_container_is_one_target(ctd: Containerd, tmp_path: Path) -> None:
    """The kubelet keeps a restarted container's previous one (exited) under the same labels."""
    pod = ("shop", "restart-1", "app")
    first, second = f"drift-{RUN_ID}-try0", f"drift-{RUN_ID}-try1"
    ctd.run(first, pod=pod)
    ctd.exec(first, "printf 'old\\n' > /etc/first.conf")
    ctd.ctr("tasks", "kill", "-s", "KILL", first)
    for _ in range(50):
        if "STOPPED" in ctd.ctr("tasks", "ls"):
            break
        time.sleep(0.1)
    ctd.run(second, pod=pod)
    ctd.exec(second, "printf 'new\\n' > /etc/second.conf")
    store = f"sqlite:///{tmp_path / 'h.sqlite'}"
    proc, doc = _report(ctd, store, tmp_path / "r.json", "--all", "--filter", "label=io.kubernetes.pod.name=restart-1")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert [(t["name"], t["id"]) for t in doc["targets"]] == [("shop/restart-1/app", second)]
    assert {f["name"] for f in doc["findings"]} == {"/etc/second.conf"}
    # and by that name
    found = json.loads(run_drift("inspect", "-H", ctd.url, "shop/restart-1/app", "-f", "json", check=0).stdout)
    assert found["target"]["id"] == second


def test_kubernetes_mounts_are_not_drift(ctd: Containerd, tmp_path: Path) -> None:
    token = tmp_path / "sa"
    token.mkdir()
    (token / "token").write_text("not-a-real-token\n")
    data = tmp_path / "data"
    data.mkdir()
    cid = f"drift-{RUN_ID}-mounts"
    pod = ("shop", "cart-55c4", "api")
    ctd.run(
        cid,
        "--mount",
        f"type=bind,src={token},dst=/var/run/secrets/kubernetes.io/serviceaccount,options=rbind:ro",
        "--mount",
        f"type=bind,src={data},dst=/srv/data,options=rbind:rw",  # a volume at a folder the image lacks
        pod=pod,
    )
    ctd.exec(cid, "printf 'edited\\n' > /etc/edited.conf")
    doc = json.loads(run_drift("inspect", "-H", ctd.url, cid, "-f", "json", check=0).stdout)
    files = {f["path"]: f for f in doc["files"]}
    assert files["/srv/data"]["class"] == "noise", files.get("/srv/data")
    assert files["/srv/data"]["reason"].startswith("made by Kubernetes"), files["/srv/data"]
    assert files["/etc/edited.conf"]["class"] == "unexplained"
    made = [
        p for p, f in files.items() if f["class"] != "noise" and ("/secrets/" in p or p in ("/etc/hosts", "/srv/data"))
    ]
    assert made == [], made

    store = f"sqlite:///{tmp_path / 'h.sqlite'}"
    proc, report = _report(ctd, store, tmp_path / "r.json", "--filter", "label=io.kubernetes.pod.name=cart-55c4")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert {(f["target"], f["name"]) for f in report["findings"]} == {("shop/cart-55c4/api", "/etc/edited.conf")}


def test_another_snapshotter_is_refused_in_one_line(ctd: Containerd) -> None:
    """A native snapshot is a whole root folder: compared with the image's tar layers it would
    show the image's hardlinked files as changed by hand. Refused, never guessed."""
    cid = f"drift-{RUN_ID}-native"
    ctd.run(cid, "--snapshotter", "native", pod=None)
    proc = run_drift("inspect", "-H", ctd.url, cid)
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines() == [
        f"drift: error: container {cid}: its snapshotter is 'native'; "
        "drift reads containerd's overlayfs snapshots only (the default, and the kubelet's)"
    ]


def test_unreachable_containerd_is_one_line(tmp_path: Path) -> None:
    _need_grpc()
    proc = run_drift("inspect", "-H", "containerd:///nonexistent.sock", "some-pod-container")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("drift: error: cannot reach containerd at /nonexistent.sock")
    assert "CONTAINERD_ADDRESS" in lines[0]
    out = tmp_path / "r.json"
    proc = run_drift(
        "report",
        "-H",
        "containerd:///nonexistent.sock",
        "--store",
        f"sqlite:///{tmp_path / 'h.sqlite'}",
        "-o",
        f"json:{out}",
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert json.loads(out.read_text())["engines"][0]["status"] == "down"


def _delete(ctd: Containerd, cid: str) -> None:
    """The pod is gone, as the kubelet removes a deleted pod's containers."""
    ctd.ctr("tasks", "kill", "-s", "KILL", cid)
    for _ in range(50):
        if ctd.ctr("tasks", "delete", cid, check=False) == "" and cid not in ctd.ctr("tasks", "ls"):
            break
        time.sleep(0.1)
    ctd.ctr("containers", "delete", cid)


def test_a_rescheduled_pod_continues_its_workloads_history(ctd: Containerd, tmp_path: Path) -> None:
    """A Deployment's pod replaced by a new one (a reschedule, a rollout): the new pod goes on
    with the old one's history. A finding it still has persists, with its first sighting; one
    it no longer has is resolved; the old pod is removed without a finding of its own. The
    workload's other replica, still there, keeps its own history."""
    ns = f"roll{RUN_ID}"
    old, kept, new = f"drift-{RUN_ID}-roll-a", f"drift-{RUN_ID}-roll-b", f"drift-{RUN_ID}-roll-c"
    old_pod, kept_pod, new_pod = "web-7d9f8b6c4-x2kz9", "web-7d9f8b6c4-bq5tw", "web-5c4b7d6f9-lm2np"
    ctd.run(old, pod=(ns, old_pod, "app"))
    ctd.exec(old, "printf 'hot\\n' > /etc/hotfix.conf && cp /bin/true /usr/local/bin/t")
    ctd.run(kept, pod=(ns, kept_pod, "app"))
    store = f"sqlite:///{tmp_path / 'h.sqlite'}"
    only = ["--filter", f"label=io.kubernetes.pod.namespace={ns}"]
    proc, first = _report(ctd, store, tmp_path / "r1.json", *only)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert {(f["target"], f["name"], f["state"]) for f in first["findings"]} == {
        (f"{ns}/{old_pod}/app", "/etc/hotfix.conf", "new"),
        (f"{ns}/{old_pod}/app", "/usr/local/bin/t", "new"),
    }

    _delete(ctd, old)
    ctd.run(new, pod=(ns, new_pod, "app"))
    ctd.exec(new, "printf 'hot\\n' > /etc/hotfix.conf")  # the hot fix again; the binary not
    proc, second = _report(ctd, store, tmp_path / "r2.json", *only)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    targets = {t["name"]: t for t in second["targets"]}
    assert targets[f"{ns}/{new_pod}/app"]["continues"] == f"{ns}/{old_pod}/app"
    assert targets[f"{ns}/{new_pod}/app"]["redeployed"] is True
    assert targets[f"{ns}/{old_pod}/app"]["status"] == "removed"
    assert targets[f"{ns}/{kept_pod}/app"]["continues"] is None
    states = {(f["target"], f["name"]): f for f in second["findings"]}
    assert set(states) == {(f"{ns}/{new_pod}/app", "/etc/hotfix.conf"), (f"{ns}/{new_pod}/app", "/usr/local/bin/t")}
    hot = states[(f"{ns}/{new_pod}/app", "/etc/hotfix.conf")]
    assert hot["state"] == "persisting" and hot["first_seen_run"] == first["run"]["id"]
    assert states[(f"{ns}/{new_pod}/app", "/usr/local/bin/t")]["state"] == "resolved"
    assert f"continues {ns}/{old_pod}/app" in proc.stdout
    _delete(ctd, new)
    _delete(ctd, kept)
