"""`drift report` on a real engine: a labelled fleet over several runs, with history.

Every container carries a label unique to this test run; every report selects on it with
`--filter`, so containers other people run on the same engine are never picked up.
"""

from __future__ import annotations

import datetime
import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RUN_ID, build, run_drift, run_script, sh
from tests.pgserver import store_bytes

pytestmark = pytest.mark.engine

LABEL = "drift.test.report"


def start(docker_client: Any, image: str, name: str, group: str, cleanup: list[tuple[str, str]], **kw: Any) -> Any:
    kw.setdefault("labels", {})[LABEL] = f"{RUN_ID}-{group}"
    kw.setdefault("network_mode", "host")
    container = docker_client.containers.run(image, ["sleep", "infinity"], name=name, detach=True, **kw)
    cleanup.append(("container", name))
    return container


class Reporter:
    """Runs `drift report` on one store and one label group; keeps every JSON document."""

    def __init__(self, tmp: Path, group: str, store_url: str | None = None) -> None:
        self.tmp = tmp
        self.store = tmp / "history.sqlite"
        self.url = store_url or f"sqlite:///{self.store}"
        self.filter = f"label={LABEL}={RUN_ID}-{group}"
        self.count = 0

    def base_args(self) -> list[str]:
        return ["--store", self.url]

    def __call__(self, *extra: str, code: int | None = None, env: dict[str, str] | None = None) -> dict[str, Any]:
        self.count += 1
        out = self.tmp / f"run{self.count}.json"
        proc = run_drift("report", "--filter", self.filter, *self.base_args(), "-o", f"json:{out}", *extra, env=env)
        if code is not None and proc.returncode != code:
            raise AssertionError(f"exit {proc.returncode}, expected {code}\n{proc.stdout}\n{proc.stderr}")
        assert "Traceback" not in proc.stderr
        doc = json.loads(out.read_text())
        assert doc["run"]["exit_code"] == proc.returncode
        doc["_stdout"], doc["_stderr"] = proc.stdout, proc.stderr
        return doc


def by_state(doc: dict[str, Any], state: str) -> set[tuple[str, str, str]]:
    return {(f["target"], f["category"], f["name"]) for f in doc["findings"] if f["state"] == state}


def target(doc: dict[str, Any], name: str) -> dict[str, Any]:
    found = [t for t in doc["targets"] if t["name"] == name]
    assert len(found) == 1, [t["name"] for t in doc["targets"]]
    return found[0]


@pytest.fixture(scope="module")
def second_image(docker_client: Any, base_image: str, tmp_path_factory: pytest.TempPathFactory, cleanup: Any) -> str:
    ctx = tmp_path_factory.mktemp("report-img")
    (ctx / "app.sh").write_text("#!/bin/sh\necho app\n")
    (ctx / "Dockerfile").write_text(f"FROM {base_image}\nCOPY app.sh /srv/app.sh\nENV APP_MODE=prod\n")
    tag = f"drift-test/report-app:{RUN_ID}"
    build(docker_client, ctx, tag, cleanup)
    return tag


def test_fleet_over_runs(
    docker_client: Any, base_image: str, second_image: str, cleanup: Any, tmp_path: Path, store_url: str
) -> None:
    """Once per store kind (SQLite, PostgreSQL): the same runs, the same states."""
    kind = store_url.split(":", 1)[0]
    names = {n: f"drift-test-rep-{n}-{kind}-{RUN_ID}" for n in ("web1", "web2", "api1", "api2")}
    bound = tmp_path / "app.conf"
    bound.write_text("setting=1\n")
    c = {
        # -w, --tmpfs, --init and a file bind make paths in the container: given at docker run, never findings
        "web1": start(
            docker_client,
            base_image,
            names["web1"],
            f"fleet-{kind}",
            cleanup,
            working_dir="/srv/newapp/work",
            tmpfs={"/scratch/tmp": ""},
            init=True,
            volumes={str(bound): {"bind": "/etc/app/app.conf", "mode": "ro"}},
        ),
        "web2": start(
            docker_client,
            base_image,
            names["web2"],
            f"fleet-{kind}",
            cleanup,
            environment={"DB_PASSWORD": "hunter2-secret-value", "MODE": "prod"},
            network_mode="none",
            volumes={str(tmp_path): {"bind": "/data", "mode": "ro"}},
        ),
        "api1": start(docker_client, second_image, names["api1"], f"fleet-{kind}", cleanup),
        "api2": start(docker_client, second_image, names["api2"], f"fleet-{kind}", cleanup),
    }
    sh(c["web2"], "echo 'tuned' > /etc/tuned.conf")  # drift that predates the first run
    report = Reporter(tmp_path, f"fleet-{kind}", store_url)

    # 1. the first run is a baseline: everything recorded, exit 0
    first = report(code=0)
    assert first["run"]["first_run"] is True and first["run"]["previous_run"] is None
    assert {t["name"] for t in first["targets"]} == set(names.values())
    assert {t["status"] for t in first["targets"]} == {"new"}
    assert by_state(first, "new") == {(names["web2"], "file", "/etc/tuned.conf")}
    web2 = target(first, names["web2"])
    assert "MODE=prod" in web2["context"]["env"] and "DB_PASSWORD=<redacted>" in web2["context"]["env"]
    assert web2["context"]["volumes"] == [f"{tmp_path}:/data"] and web2["context"]["network"] == "none"
    assert all(f["category"] != "config" for f in first["findings"])

    # 2. by hand: an apt package in one container, a file in another, a third removed
    sh(
        c["web1"],
        "apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive "
        "apt-get install -y -q --no-install-recommends tree >/dev/null",
    )
    sh(c["api1"], "echo 'remember' > /srv/notes.txt")
    c["api2"].remove(force=True)
    second = report(code=1)
    assert second["run"]["first_run"] is False and second["run"]["previous_run"] == first["run"]["id"]
    assert by_state(second, "new") == {
        (names["web1"], "undocumented", "tree"),
        (names["api1"], "file", "/srv/notes.txt"),
    }
    assert by_state(second, "persisting") == {(names["web2"], "file", "/etc/tuned.conf")}
    assert target(second, names["api2"])["status"] == "removed"
    assert {t["name"]: t["status"] for t in second["targets"]}[names["web1"]] == "scanned"
    assert {t["name"] for t in second["targets"] if t["reused"]} == {names["web2"]}
    assert "tree" in second["_stdout"] and "notes.txt" in second["_stdout"]

    # 3. nothing changed: persisting, exit 0; the removed target is reported once only
    third = report(code=0)
    assert all(t["reused"] for t in third["targets"])  # nothing changed: nothing read again
    assert by_state(third, "new") == set() and len(by_state(third, "persisting")) == 3
    assert names["api2"] not in {t["name"] for t in third["targets"]}
    tree = next(f for f in third["findings"] if f["name"] == "tree")
    assert tree["first_seen_run"] == second["run"]["id"]

    # the file edited again, to the same size: updated
    sh(c["api1"], "echo 'rEmember' > /srv/notes.txt")
    edited = report(code=1)
    assert by_state(edited, "updated") == {(names["api1"], "file", "/srv/notes.txt")}
    notes = next(f for f in edited["findings"] if f["name"] == "/srv/notes.txt")
    assert notes["first_seen_run"] == second["run"]["id"] and len(notes["actual"]["sha256"]) == 64

    # 4. the file is undone: resolved (not a failure)
    sh(c["api1"], "rm /srv/notes.txt")
    fourth = report(code=0)
    assert {t["name"] for t in fourth["targets"] if not t["reused"]} == {names["api1"]}
    assert by_state(fourth, "resolved") == {(names["api1"], "file", "/srv/notes.txt")}
    assert target(fourth, names["api1"])["counts"]["resolved"] == 1

    # 5. web2 recreated under the same name from another image: same target, redeployed
    c["web2"].remove(force=True)
    c["web2"] = start(docker_client, second_image, names["web2"], f"fleet-{kind}", cleanup)
    fifth = report(code=0)
    redeployed = target(fifth, names["web2"])
    assert redeployed["redeployed"] is True and redeployed["status"] == "scanned"
    assert by_state(fifth, "resolved") == {(names["web2"], "file", "/etc/tuned.conf")}

    # 6. an acknowledgement with an expiry: never fails while it holds, then comes back as new
    fp = tree["fingerprint"]
    no_reason = run_drift("ack", fp, *report.base_args())
    assert no_reason.returncode == 2 and no_reason.stderr.count("\n") == 1 and "--reason" in no_reason.stderr
    acking = run_drift("ack", fp, "--reason", "approved by ops", "--expires", "20s", *report.base_args(), check=0)
    until = datetime.datetime.strptime(acking.stdout.split(" until ")[1][:20], "%Y-%m-%dT%H:%M:%SZ")
    acked = report("--fail-on", "open", code=0)
    assert by_state(acked, "acknowledged") == {(names["web1"], "undocumented", "tree")}
    ack = next(f for f in acked["findings"] if f["name"] == "tree")["ack"]
    assert ack["reason"] == "approved by ops" and ack["expires"] == until.strftime("%Y-%m-%dT%H:%M:%SZ")
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    time.sleep(max(0.0, (until - now).total_seconds()) + 1.1)
    expired = report(code=1)
    assert by_state(expired, "new") == {(names["web1"], "undocumented", "tree")}

    # history: every run, how the open count moved; the secret never reached the store
    hist = json.loads(run_drift("history", "--format", "json", *report.base_args(), check=0).stdout)
    docs = (first, second, third, edited, fourth, fifth, acked, expired)
    assert [r["run"] for r in hist["runs"]] == [d["run"]["id"] for d in docs]
    assert [r["open"] for r in hist["runs"]][:6] == [1, 3, 3, 3, 2, 1]
    trend = expired["trends"]["engines"]["default"]
    assert [p["run"] for p in trend] == [r["run"] for r in hist["runs"]]
    assert [p["open"] for p in trend] == [r["open"] for r in hist["runs"]]
    web1_trend = expired["trends"]["targets"][f"default/container/{names['web1']}"]
    assert [p["by_category"]["undocumented"] for p in web1_trend] == [0, 1, 1, 1, 1, 1, 1, 1]
    table = run_drift("history", *report.base_args(), check=0).stdout
    assert "complete (baseline)" in table and table.count("\n") == 2 + len(docs)
    one = json.loads(run_drift("history", names["api1"], "--format", "json", *report.base_args(), check=0).stdout)
    assert [r["new"] for r in one["runs"]][:5] == [0, 1, 0, 0, 0] and one["runs"][4]["resolved"] == 1
    assert b"hunter2-secret-value" not in store_bytes(store_url) and b"tree" in store_bytes(store_url)
    for path in tmp_path.glob("run*.json"):
        assert b"hunter2-secret-value" not in path.read_bytes()


def test_unreadable_target_is_an_error_and_its_findings_stale(
    docker_client: Any, base_image: str, tmp_path: Path, cleanup: Any
) -> None:
    """A real way for a target to become unreadable: the image under a stopped container is
    force-removed (`docker rmi -f`), so the engine keeps the container but can no longer
    describe what it was made from. drift cannot compare it, says why, and keeps its findings."""
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(f"FROM {base_image}\nRUN echo doomed > /srv/doomed\n")
    doomed = f"drift-test/report-doomed:{RUN_ID}"
    build(docker_client, ctx, doomed, cleanup)
    name = f"drift-test-rep-doomed-{RUN_ID}"
    run_script(docker_client, doomed, "echo hand > /etc/hand.conf", name, cleanup, labels={LABEL: f"{RUN_ID}-err"})
    report = Reporter(tmp_path, "err")
    first = report("--all", code=0)
    assert by_state(first, "new") == {(name, "file", "/etc/hand.conf")}

    down = report("--all", code=2, env={"DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"})
    assert down["engines"][0]["status"] == "down" and down["run"]["status"] == "failed"
    assert by_state(down, "stale") == {(name, "file", "/etc/hand.conf")}

    docker_client.images.remove(doomed, force=True)
    broken = report("--all", code=2)
    t = target(broken, name)
    assert t["status"] == "error" and "no longer has" in t["error"]
    assert by_state(broken, "stale") == {(name, "file", "/etc/hand.conf")}
    assert broken["run"]["status"] == "partial" and broken["summary"]["errors"] == 1
    hist = json.loads(run_drift("history", "--format", "json", *report.base_args(), check=0).stdout)
    assert [r["status"] for r in hist["runs"]] == ["complete", "failed", "partial"]
    assert [r["open"] for r in hist["runs"]] == [1, 1, 1]
    time.sleep(1.1)  # times are kept to the second: every run so far is now older than "0s"
    pruned = run_drift("history", "prune", "--keep", "0s", *report.base_args(), check=0)
    assert "runs and trend counts kept" in pruned.stdout
    after = json.loads(run_drift("history", "--format", "json", *report.base_args(), check=0).stdout)
    assert [(r["run"], r["open"], r["status"]) for r in after["runs"]] == [
        (r["run"], r["open"], r["status"]) for r in hist["runs"]
    ]
    conn = sqlite3.connect(report.store)
    assert conn.execute("SELECT count(*) FROM finding_states").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM findings WHERE resolved_run IS NULL").fetchone()[0] == 1
    conn.close()


def test_two_runs_at_once_and_a_held_store(docker_client: Any, base_image: str, tmp_path: Path, cleanup: Any) -> None:
    name = f"drift-test-rep-conc-{RUN_ID}"
    sh(start(docker_client, base_image, name, "conc", cleanup), "echo x > /etc/conc.conf")
    report = Reporter(tmp_path, "conc")
    cmd = [sys.executable, "-m", "drift", "report", "--filter", report.filter, *report.base_args(), "--quiet"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    conn = sqlite3.connect(report.store)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    runs = conn.execute("SELECT status, first_run, started, finished FROM runs ORDER BY id").fetchall()
    assert [(r[0], r[1]) for r in runs] == [("complete", 1), ("complete", 0)]
    assert runs[0][3] <= runs[1][3]
    # one after the other: the baseline recorded the finding, the second run saw it persisting
    assert conn.execute("SELECT count(*) FROM findings").fetchone()[0] == 1
    states = [r[0] for r in conn.execute("SELECT state FROM finding_states ORDER BY run")]
    assert states == ["new", "persisting"]
    conn.close()

    from drift.store.lock import exclusive

    with exclusive(str(report.store), timeout=1, what="test"):
        proc = run_drift("report", "--filter", report.filter, *report.base_args(), "--lock-timeout", "1")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "in use by another drift process" in proc.stderr and "--lock-timeout" in proc.stderr


def test_damaged_store_is_one_line_and_left_untouched(tmp_path: Path) -> None:
    store = tmp_path / "history.sqlite"
    content = b"SQLite format 3\x00" + bytes(range(256)) * 40
    store.write_bytes(content)
    proc = run_drift("report", "--filter", f"label={LABEL}=nothing-{RUN_ID}", "--store", f"sqlite:///{store}")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("drift: error: ") and proc.stderr.count("\n") == 1
    assert "damaged" in proc.stderr and "left as it is" in proc.stderr
    assert store.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.sqlite", "history.sqlite.lock"]


def test_images_against_their_dockerfile_or_their_baseline(
    docker_client: Any, base_image: str, tmp_path: Path, cleanup: Any
) -> None:
    app = tmp_path / "services" / "app"
    app.mkdir(parents=True)
    (app / "app.sh").write_text("#!/bin/sh\necho app\n")
    (app / "Dockerfile").write_text(f"FROM {base_image}\nCOPY app.sh /srv/app.sh\nENV APP_MODE=prod\n")
    mapped = f"drift-test/report-img-mapped:{RUN_ID}"
    build(docker_client, app, mapped, cleanup)
    labelled = f"drift-test/report-img-labelled:{RUN_ID}"
    build(docker_client, app, labelled, cleanup, labels={"drift.dockerfile": "services/app/Dockerfile"})
    nosy = f"drift-test/report-img-nosy:{RUN_ID}"  # an image may not make drift read a host file
    build(docker_client, app, nosy, cleanup, labels={"drift.dockerfile": "../../../../../etc/shadow"})
    plain_ctx = tmp_path / "plain"
    plain_ctx.mkdir()
    plain = f"drift-test/report-img-plain:{RUN_ID}"
    version = "FROM {base}\nENV APP_VERSION={v} API_TOKEN=tok-secret-{v}\n"
    (plain_ctx / "Dockerfile").write_text(version.format(base=base_image, v=1))
    build(docker_client, plain_ctx, plain, cleanup)
    (tmp_path / "drift.toml").write_text(
        '[report]\nfail_on = ["new"]\n\n[[dockerfile]]\nimage = "drift-test/report-img-mapped:*"\n'
        'path = "services/app/Dockerfile"\n'
    )
    store = ["--store", f"sqlite:///{tmp_path / 'h.sqlite'}", "--config", str(tmp_path / "drift.toml")]
    args = ["report", f"drift-test/report-img-*:{RUN_ID}", *store, "-o", f"json:{tmp_path / 'r.json'}"]

    assert run_drift(*args).returncode == 2  # the nosy image is an error
    doc = json.loads((tmp_path / "r.json").read_text())
    assert {t["name"] for t in doc["targets"]} == {mapped, labelled, plain, nosy}
    assert "must be a path inside" in target(doc, nosy)["error"]
    docker_client.images.remove(nosy, force=True)
    assert target(doc, mapped)["compared_with"] == f"Dockerfile {app / 'Dockerfile'}"
    assert target(doc, labelled)["compared_with"] == f"Dockerfile {app / 'Dockerfile'}"
    assert target(doc, plain)["compared_with"].startswith("its first inventory")
    audit = json.loads(run_drift("diff", mapped, str(app / "Dockerfile"), "--format", "json").stdout)
    expected = {f["fingerprint"] for f in audit["findings"]}
    assert {f["fingerprint"] for f in doc["findings"] if f["target"] == mapped} == expected

    run_drift(*args, check=0)
    again = json.loads((tmp_path / "r.json").read_text())
    assert target(again, plain)["reused"] is True and target(again, mapped)["reused"] is False

    # app:latest retagged: the same name now points at an image with other settings and packages
    (plain_ctx / "Dockerfile").write_text(version.format(base=base_image, v=2) + "RUN dpkg --purge tzdata\n")
    build(docker_client, plain_ctx, plain, cleanup)
    proc = run_drift(*args)
    assert proc.returncode == 1, proc.stderr
    doc = json.loads((tmp_path / "r.json").read_text())
    assert target(doc, plain)["redeployed"] is True and target(doc, plain)["reused"] is False
    assert by_state(doc, "new") == {(plain, "config", "Env.APP_VERSION"), (plain, "missing", "tzdata")}
    assert not [f for f in doc["findings"] if f["target"] != plain and f["state"] != "persisting"]
    proc = run_drift(*args)
    assert proc.returncode == 0, proc.stderr  # fail_on = ["new"]: the change is persisting now
    doc = json.loads((tmp_path / "r.json").read_text())
    assert target(doc, plain)["reused"] is True
    assert by_state(doc, "persisting") >= {(plain, "config", "Env.APP_VERSION"), (plain, "missing", "tzdata")}
    for path in (tmp_path / "h.sqlite", tmp_path / "r.json"):
        assert b"tok-secret" not in path.read_bytes()


def test_images_in_use_and_opt_out(docker_client: Any, base_image: str, tmp_path: Path, cleanup: Any) -> None:
    keep = f"drift-test-rep-keep-{RUN_ID}"
    skip = f"drift-test-rep-skip-{RUN_ID}"
    start(docker_client, base_image, keep, "use", cleanup)
    start(docker_client, base_image, skip, "use", cleanup, labels={"drift.enable": "false"})
    report = Reporter(tmp_path, "use")
    doc = report("--images", code=0)
    assert [(t["kind"], t["name"]) for t in doc["targets"]] == [("container", keep), ("image", base_image)]


def test_a_container_gone_between_listing_and_reading_is_removed(
    docker_client: Any, base_image: str, tmp_path: Path, cleanup: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine listed it, then it was removed before its turn (a redeploy during the run):
    the run goes on, and the target is `removed`, not an error and not a crash."""
    from drift.report import run as run_mod
    from drift.report import worker
    from drift.report.options import Options
    from drift.report.targets import Selection

    names = [f"drift-test-rep-race{i}-{RUN_ID}" for i in (1, 2)]
    for name in names:
        start(docker_client, base_image, name, "race", cleanup)
    real_select = worker.select

    def select_then_remove(engine: Any, sel: Any) -> Any:
        found = real_select(engine, sel)
        docker_client.containers.get(names[1]).remove(force=True)  # by the real engine, after the listing
        return found

    monkeypatch.setattr(worker, "select", select_then_remove)
    opts = Options(
        selection=Selection(filters=(f"label={LABEL}={RUN_ID}-race",)), store=f"sqlite:///{tmp_path / 'h.sqlite'}"
    )
    doc = run_mod.run_report(opts)
    assert {t["name"]: t["status"] for t in doc["targets"]} == {names[0]: "new", names[1]: "removed"}
    assert doc["run"]["exit_code"] == 0 and doc["run"]["status"] == "complete"


def test_a_filter_the_engine_refuses_is_a_failed_run_and_the_next_is_the_baseline(tmp_path: Path) -> None:
    store = ["--store", f"sqlite:///{tmp_path / 'h.sqlite'}"]
    proc = run_drift("report", "--filter", "colour=blue", *store, "--quiet")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert (
        proc.stderr.startswith("drift: error: the Docker engine refused to list containers") and "colour" in proc.stderr
    )
    hist = json.loads(run_drift("history", "--format", "json", *store, check=0).stdout)
    assert [r["status"] for r in hist["runs"]] == ["failed"]
    same = ["report", "--filter", f"label={LABEL}=none-{RUN_ID}", *store, "-o", f"json:{tmp_path / 'r.json'}"]
    down = run_drift(*same, env={"DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"})
    assert down.returncode == 2 and "is down" in down.stderr
    proc = run_drift(*same)
    assert proc.returncode == 0, proc.stderr
    run = json.loads((tmp_path / "r.json").read_text())["run"]
    assert run["first_run"] is True and run["previous_run"] is None  # a run that saw nothing is no baseline


def test_an_engine_name_that_now_reaches_another_engine_is_said(tmp_path: Path) -> None:
    store = tmp_path / "h.sqlite"
    args = ["report", "--filter", f"label={LABEL}=none-{RUN_ID}", "--store", f"sqlite:///{store}"]
    run_drift(*args, check=0)
    conn = sqlite3.connect(store)
    conn.execute("UPDATE engines SET engine_id = 'AAAA:OTHER:ENGINE'")  # as if 'default' pointed elsewhere before
    conn.commit()
    conn.close()
    proc = run_drift(*args, "-o", f"json:{tmp_path / 'r.json'}", check=2)
    engine = json.loads((tmp_path / "r.json").read_text())["engines"][0]
    # not merged into the other engine's history (its findings would be 'resolved' on a machine never scanned)
    assert engine["status"] == "down" and engine["id"] != "AAAA:OTHER:ENGINE"
    assert "another Docker engine" in engine["error"] and "AAAA:OTHER:ENGINE" in engine["error"]
    assert "another Docker engine" in proc.stderr


def test_default_store_location_follows_xdg_state_home(tmp_path: Path) -> None:
    env = {"DRIFT_STORE": "", "XDG_STATE_HOME": str(tmp_path / "state")}
    run_drift("report", "--filter", f"label={LABEL}=none-{RUN_ID}", "--quiet", env=env, check=0)
    assert (tmp_path / "state" / "drift" / "history.sqlite").is_file()
    hist = json.loads(run_drift("history", "--format", "json", env=env, check=0).stdout)
    assert [r["status"] for r in hist["runs"]] == ["complete"]


def test_ignore_rules_from_driftignore_and_the_command_line(
    docker_client: Any, base_image: str, tmp_path: Path, cleanup: Any
) -> None:
    name = f"drift-test-rep-ign-{RUN_ID}"
    sh(
        start(docker_client, base_image, name, "ign", cleanup),
        "echo a > /etc/keep.conf && echo b > /etc/ign.conf && mkdir -p /srv/skip && echo c > /srv/skip/x",
    )
    (tmp_path / "drift.toml").write_text('[report]\nretention = "0s"\n')  # prune detail after every run
    (tmp_path / ".driftignore").write_text("# scratch space\n/srv/skip\n")
    report = Reporter(tmp_path, "ign")
    config = ["--config", str(tmp_path / "drift.toml")]
    first = report(*config, "--ignore", "/etc/ign.conf", code=0)
    assert {f["name"] for f in first["findings"]} == {"/etc/keep.conf"}
    # without the --ignore the container is read again (the rules are part of its signature)
    second = report(*config, code=1)
    assert target(second, name)["reused"] is False
    assert by_state(second, "new") == {(name, "file", "/etc/ign.conf")}
    assert by_state(second, "persisting") == {(name, "file", "/etc/keep.conf")}
    conn = sqlite3.connect(report.store)  # pruned to nothing but the open findings and the trend counts
    assert [r[0] for r in conn.execute("SELECT DISTINCT run FROM run_counts ORDER BY run")] == [1, 2]
    assert conn.execute("SELECT count(*) FROM findings WHERE resolved_run IS NULL").fetchone()[0] == 2


def test_over_the_api_the_containers_of_one_image_share_one_save(
    docker_client: Any, base_image: str, tmp_path: Path, cleanup: Any
) -> None:
    """An engine whose overlay2 folders cannot be read here (a remote one; DRIFT_READ=api makes
    the local one behave so) is read through the API: three containers of one image give one
    `docker save` of it (counted in the engine's own events), their few changes are read path by
    path (no export), and the findings are those of reading the folders in place."""
    names = [f"drift-test-rep-api{i}-{RUN_ID}" for i in range(3)]
    for i, name in enumerate(names):
        sh(start(docker_client, base_image, name, "api", cleanup), f"echo {i} > /etc/api{i}.conf")
    image_id = docker_client.images.get(base_image).id
    since = int(time.time()) - 1
    api = Reporter(tmp_path / "api", "api")
    (tmp_path / "api").mkdir()
    doc = api(code=0, env={"DRIFT_READ": "api"})
    until = int(time.time()) + 1
    saves = [
        e
        for e in docker_client.events(since=since, until=until, decode=True, filters={"type": "image", "event": "save"})
        if e.get("id") == image_id or e.get("Actor", {}).get("ID") == image_id
    ]
    assert len(saves) == 1, saves
    exports = list(docker_client.events(since=since, until=until, decode=True, filters={"event": "export"}))
    assert exports == []  # a container's few changes are read path by path, not by a whole export
    assert by_state(doc, "new") == {(n, "file", f"/etc/api{i}.conf") for i, n in enumerate(names)}
    (tmp_path / "here").mkdir()
    assert by_state(Reporter(tmp_path / "here", "api")(code=0), "new") == by_state(doc, "new")
