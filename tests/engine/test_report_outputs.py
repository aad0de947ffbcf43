"""`drift report -o html:... -o prom:... -o sarif:... -o markdown:... --notify URL` on a real engine.

A tiny fleet (two labelled containers), three runs on one store: the baseline, a run after a
file is written in one container, a run with nothing changed. Every output is read back the
way its consumer reads it (chromium, prometheus_client, a webhook receiver).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RUN_ID, in_ci, run_drift, sh
from tests.unit.test_report_notify import Receiver

pytestmark = pytest.mark.engine
LABEL = f"drift.test.outputs={RUN_ID}"


@pytest.fixture(scope="module")
def fleet(docker_client: Any, base_image: str, cleanup: list[tuple[str, str]]) -> list[Any]:
    out = []
    for i in (1, 2):
        name = f"drift-test-out-{RUN_ID}-{i}"
        c = docker_client.containers.run(
            base_image, ["sleep", "infinity"], name=name, detach=True, network_mode="host",
            labels={"drift.test.outputs": RUN_ID},
        )  # fmt: skip
        cleanup.append(("container", name))
        out.append(c)
    return out


def _report(folder: Path, store: Path, url: str) -> tuple[int, dict[str, str]]:
    exts = {"json": "json", "html": "html", "prom": "prom", "sarif": "sarif", "markdown": "md"}
    paths = {fmt: folder / f"report.{ext}" for fmt, ext in exts.items()}
    args = ["report", "--filter", f"label={LABEL}", "--store", f"sqlite:///{store}", "--notify", url]
    for fmt, path in paths.items():
        args += ["-o", f"{fmt}:{path}"]
    proc = run_drift(*args)
    assert proc.returncode in (0, 1), proc.stderr
    assert "notify" not in proc.stderr, proc.stderr
    return proc.returncode, {fmt: path.read_text() for fmt, path in paths.items()}


def _findings(prom: str) -> dict[tuple[str, str, str], float]:
    from prometheus_client.parser import text_string_to_metric_families

    families = {f.name: f for f in text_string_to_metric_families(prom)}
    out: dict[tuple[str, str, str], float] = {}
    for s in families["drift_findings"].samples:  # summed over the severity label
        key = (s.labels["workload"], s.labels["category"], s.labels["state"])
        out[key] = out.get(key, 0) + s.value
    return out


def _promtool_check(text: str, tmp_path: Path) -> None:
    """`promtool check metrics` (Debian's prometheus package) accepts the textfile, lint included."""
    promtool = shutil.which("promtool")
    if promtool is None and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "-q", "prometheus"], capture_output=True, env=env, timeout=900)
        promtool = shutil.which("promtool")
    if promtool is None:
        if in_ci():
            pytest.fail("CI=true and promtool could not be installed (apt-get install prometheus)")
        pytest.skip("no promtool")
    proc = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_three_runs_through_every_output(fleet: list[Any], tmp_path: Path) -> None:
    receiver = Receiver()
    store = tmp_path / "history.sqlite"
    changed, clean = fleet[0].name, fleet[1].name
    try:
        code, out = _report(tmp_path, store, receiver.url)
        assert code == 0
        assert json.loads(out["json"])["run"]["first_run"] is True
        base = _findings(out["prom"])
        assert base == {}  # no finding: no count (zeros are left out) ...
        targets = [line for line in out["prom"].splitlines() if line.startswith("drift_workload_targets{")]
        assert {line.split('workload="')[1].split('"')[0] for line in targets} == {changed, clean}  # ... but data
        _promtool_check(out["prom"], tmp_path)
        assert receiver.requests == []  # a clean baseline has nothing to tell

        sh(fleet[0], "echo 'listen=8080' > /etc/myapp.conf")
        code, out = _report(tmp_path, store, receiver.url)
        assert code == 1
        counts = _findings(out["prom"])
        assert counts[(changed, "file", "new")] == 1 and sum(counts.values()) == 1
        _promtool_check(out["prom"], tmp_path)
        assert 'category="file",severity="medium",state="new"} 1' in out["prom"]  # an /etc file: medium
        sarif = json.loads(out["sarif"])
        [result] = sarif["runs"][0]["results"]
        assert result["baselineState"] == "new" and "/etc/myapp.conf" in result["message"]["text"]
        [finding] = json.loads(out["json"])["findings"]
        assert result["provenance"]["firstDetectionTimeUtc"] == finding["first_seen"]
        assert finding["first_seen_run"] == json.loads(out["json"])["run"]["id"]
        assert f"### container {changed}: 1 new" in out["markdown"].replace("\\-", "-")
        assert "/etc/myapp.conf" in out["html"] and 'id="incomplete"' not in out["html"]
        [post] = receiver.requests
        assert [(c["state"], c["target"], c["name"]) for c in post["body"]["changes"]] == [
            ("new", changed, "/etc/myapp.conf")
        ]
        assert post["body"]["text"].startswith("drift report run 2 (complete): 1 new")

        code, out = _report(tmp_path, store, receiver.url)
        assert code == 0
        assert _findings(out["prom"])[(changed, "file", "persisting")] == 1
        assert json.loads(out["sarif"])["runs"][0]["results"][0]["baselineState"] == "unchanged"
        assert "_nothing new, updated or resolved_" in out["markdown"]
        assert len(receiver.requests) == 1  # nothing new: nothing sent
    finally:
        receiver.close()


def test_html_of_a_real_run_in_chromium(fleet: list[Any], tmp_path: Path) -> None:
    from tests.browser import Browser, find_chromium
    from tests.conftest import in_ci

    binary = find_chromium(install=True)
    if binary is None:
        if in_ci():
            pytest.fail("CI=true and chromium could not be installed (scripts/chromium.sh)")
        pytest.skip("no chromium")
    store = tmp_path / "history.sqlite"
    run_drift("report", "--filter", f"label={LABEL}", "--store", f"sqlite:///{store}", "-q", check=0)
    sh(fleet[1], "rm -f /etc/issue.net")
    run_drift("report", "--filter", f"label={LABEL}", "--store", f"sqlite:///{store}", "-q",
              "-o", f"html:{tmp_path / 'r.html'}")  # fmt: skip
    browser = Browser(binary)
    try:
        browser.open((tmp_path / "r.html").as_uri())
        assert browser.problems() == []
        browser.click('#state-filter .chip[data-state="new"]')
        rows = browser.eval(
            "Array.from(document.querySelectorAll('tr.finding')).filter(r => r.offsetParent !== null)"
            ".map(r => [r.dataset.state, r.dataset.target, r.querySelector('code').textContent])"
        )
        assert [r for r in rows if r[1].endswith(f"/container/{fleet[1].name}")] == [
            ["new", rows[0][1] if rows else "", "/etc/issue.net"]
        ]
        assert all(r[0] == "new" for r in rows)
    finally:
        browser.close()


def test_a_failed_webhook_is_one_warning_without_its_token(fleet: list[Any], tmp_path: Path) -> None:
    """A webhook URL's path is its secret (Slack, Teams): a failed POST names the host only."""
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/services/T000/B000/s3cr3t-webhook-token"
    store = tmp_path / "history.sqlite"
    run_drift("report", "--filter", f"label={LABEL}", "--store", f"sqlite:///{store}", "-q", check=0)
    sh(fleet[1], "echo changed > /etc/webhook-probe.conf")
    try:
        proc = run_drift("report", "--filter", f"label={LABEL}", "--store", f"sqlite:///{store}", "--notify", url)
    finally:
        sh(fleet[1], "rm -f /etc/webhook-probe.conf")
    assert proc.returncode == 1, proc.stderr
    [line] = [ln for ln in proc.stderr.splitlines() if "notify" in ln]
    assert line.startswith("drift: warning: --notify:") and "127.0.0.1" in line
    assert "s3cr3t-webhook-token" not in proc.stderr + proc.stdout


def test_fail_on_a_minimum_severity(fleet: list[Any], tmp_path: Path) -> None:
    """--fail-on severity:high: a new plain file passes, a new cron job fails the run."""
    args = ["report", "--filter", f"label={LABEL}", "--store", f"sqlite:///{tmp_path / 'h.sqlite'}"]
    args += ["--fail-on", "severity:high", "-o", "json:-"]
    assert run_drift(*args).returncode == 0  # the baseline
    sh(fleet[1], "echo note > /opt/severity-probe.txt")
    try:
        low = run_drift(*args)
        assert low.returncode == 0, low.stderr
        [f] = [f for f in json.loads(low.stdout)["findings"] if f["state"] == "new"]
        assert (f["name"], f["severity"]) == ("/opt/severity-probe.txt", "low")
        sh(fleet[1], "echo '* * * * * root true' > /etc/cron.d/severity-probe")
        high = run_drift(*args)
        assert high.returncode == 1, high.stderr
        doc = json.loads(high.stdout)
        assert [(f["name"], f["severity"]) for f in doc["findings"] if f["state"] == "new"] == [
            ("/etc/cron.d/severity-probe", "high")
        ]
        assert doc["run"]["fail_on"] == ["severity:high"] and doc["summary"]["by_severity"]["high"] == 1
    finally:
        sh(fleet[1], "rm -f /opt/severity-probe.txt /etc/cron.d/severity-probe")
