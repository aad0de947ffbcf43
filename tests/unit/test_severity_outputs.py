"""Severity in every output, and `--fail-on severity:LEVEL` for diff and report (no engine:
`drift diff` compares two root folders, the report renderers read the fixture document)."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from drift.diff.command import parse_fail_on
from drift.diff.modes import DiffResult
from drift.errors import DriftError
from drift.model import Finding, Target
from drift.render import json as json_render
from drift.render import junit, report_html, report_markdown, report_prom, report_sarif, sarif
from drift.render.findings import render_markdown, render_table
from drift.report import notify
from drift.report.cli import _fail_on
from drift.report.states import fails
from drift.report.terminal import summary
from tests.conftest import run_drift
from tests.unit.report_fixture import report_doc


def _result(fail_on: tuple[str, ...] | None = None) -> DiffResult:
    findings = [
        Finding("undocumented", "apt", "netcat", None, "1.2"),
        Finding("file", None, "/srv/x", None, {"change": "added", "kind": "file", "mode": "0644", "size": 1}),
        Finding(
            "file", None, "/etc/sudoers.d/app", None, {"change": "added", "kind": "file", "mode": "0440", "size": 9}
        ),
        Finding("mark", "apt", "curl", "auto", "manual"),
    ]
    result = DiffResult(Target("image", "x", "test"), {"kind": "target", "name": "y", "id": None}, "target", findings)
    if fail_on is not None:
        result.fail_on = fail_on
    return result


# ---------------------------------------------------------------- drift diff


def test_diff_table_and_markdown_show_severity_most_serious_first() -> None:
    for text in (render_table(_result()), render_markdown(_result())):
        assert "severity" in text and "severity: 1 high, 1 medium, 1 low, 1 info" in text
        rows = [line for line in text.splitlines() if "netcat" in line or "/srv/x" in line or "sudoers" in line]
        assert ["sudoers" in rows[0], "netcat" in rows[1], "/srv/x" in rows[2]] == [True, True, True], rows


def test_diff_json_has_severity_per_finding_and_counts() -> None:
    doc = json.loads(json_render.render(_result()))
    assert [f["severity"] for f in doc["findings"]] == ["medium", "low", "high", "info"]  # order kept: categories
    assert doc["summary"]["by_severity"] == {"critical": 0, "high": 1, "medium": 1, "low": 1, "info": 1}


def test_diff_sarif_level_and_security_severity() -> None:
    results = json.loads(sarif.render(_result()))["runs"][0]["results"]
    got = {r["properties"]["name"]: (r["level"], r["properties"]["security-severity"]) for r in results}
    assert got == {
        "netcat": ("warning", "5.5"),
        "/srv/x": ("note", "3.0"),
        "/etc/sudoers.d/app": ("error", "8.0"),
        "curl": ("note", "0.0"),
    }
    assert all(r["message"]["text"].startswith(f"[{r['properties']['severity']}] ") for r in results)
    rules = json.loads(sarif.render(_result()))["runs"][0]["tool"]["driver"]["rules"]
    assert "account" in {r["id"] for r in rules}


def test_diff_junit_fails_what_the_severity_floor_lets_through() -> None:
    suite = ET.fromstring(junit.render(_result(("severity:high",))))
    failed = [c.get("name") for c in suite if c.find("failure") is not None]
    assert failed == ["/etc/sudoers.d/app"] and suite.get("failures") == "1"
    assert suite.find("testcase/failure").get("message").startswith("[high] file:")  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("fail_on", "failing"),
    [
        (None, ["netcat", "/srv/x", "/etc/sudoers.d/app", "curl"]),
        ("severity:high", ["/etc/sudoers.d/app"]),
        ("severity:medium", ["netcat", "/etc/sudoers.d/app"]),
        ("file,severity:low", ["/srv/x", "/etc/sudoers.d/app"]),  # both: a file finding, low or more
        ("undocumented", ["netcat"]),
        ("severity:critical", []),
    ],
)
def test_diff_fail_on_severity(fail_on: str | None, failing: list[str]) -> None:
    result = _result(parse_fail_on(fail_on))
    assert [f.name for f in result.failing] == failing


def test_diff_fail_on_bad_values() -> None:
    assert parse_fail_on("severity:HIGH") == ("severity:high",)
    for bad, needle in (("severity:urgent", "critical, high, medium"), ("severity:high,severity:low", "twice"),
                        ("files", "severity:LEVEL")):  # fmt: skip
        with pytest.raises(DriftError, match=needle):
            parse_fail_on(bad)


def _roots(tmp_path: Path) -> tuple[str, str]:
    base, target = tmp_path / "base", tmp_path / "target"
    for root in (base, target):
        (root / "etc").mkdir(parents=True)
        (root / "etc" / "hostname").write_text("x\n")
    (target / "srv").mkdir()
    (target / "srv" / "data.txt").write_text("data\n")
    return f"dir:{target}", f"dir:{base}"


def test_diff_exit_codes_with_a_severity_floor(tmp_path: Path) -> None:
    target, base = _roots(tmp_path)
    assert run_drift("diff", target, base).returncode == 1  # plain files: low
    assert run_drift("diff", target, base, "--fail-on", "severity:high").returncode == 0
    (tmp_path / "target" / "etc" / "cron.d").mkdir()
    (tmp_path / "target" / "etc" / "cron.d" / "job").write_text("* * * * * root sh /srv/x\n")
    proc = run_drift("diff", target, base, "--fail-on", "severity:high", "-f", "json")
    assert proc.returncode == 1
    failing = [f["name"] for f in json.loads(proc.stdout)["findings"] if f["severity"] == "high"]
    assert "/etc/cron.d/job" in failing
    bad = run_drift("diff", target, base, "--fail-on", "severity:urgent")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and bad.stderr.startswith("drift: error: --fail-on")


def test_inspect_rates_unexplained_files(tmp_path: Path) -> None:
    target, base = _roots(tmp_path)
    (tmp_path / "target" / "etc" / "ld.so.preload").write_text("/srv/evil.so\n")
    doc = json.loads(run_drift("inspect", target, "--base", base, "-f", "json", check=0).stdout)
    rated = {f["path"]: f["severity"] for f in doc["files"]}
    assert rated["/etc/ld.so.preload"] == "critical" and rated["/srv/data.txt"] == "low"
    table = run_drift("inspect", target, "--base", base, check=0).stdout
    row = next(line for line in table.splitlines() if "/etc/ld.so.preload" in line)
    assert row.split()[0] == "critical"


# ---------------------------------------------------------------- drift report


def _rated_doc() -> dict[str, Any]:
    """The fixture plus a new, high finding (an authorized_keys added) on shop-web-1."""
    doc = report_doc()
    template = next(f for f in doc["findings"] if f["target"] == "shop-web-1" and f["state"] == "new")
    doc["findings"].append(
        {**copy.deepcopy(template), "category": "file", "manager": None, "name": "/root/.ssh/authorized_keys",
         "expected": None, "actual": {"change": "added", "kind": "file", "mode": "0600", "size": 90},
         "fingerprint": "keys0000", "explained_by": None, "fix": None, "detail": "added", "severity": "high"}
    )  # fmt: skip
    return doc


def test_report_doc_findings_are_rated_from_what_the_store_kept() -> None:
    from drift.report.doc import TargetDoc, finding_json
    from drift.report.states import Outcome

    gone = {"change": "deleted", "kind": "file", "mode": "0644", "size": 1}
    stored = {"category": "file", "manager": None, "name": "/etc/pam.d/sshd", "actual": gone, "fingerprint": "f"}
    t = TargetDoc("local", "container", "web", None, None, "scanned", "its image")
    out = finding_json(t, Outcome("f", "stale", stored, "h", None), now="2026-01-01T00:00:00Z", run=2)
    assert out["severity"] == "high"  # a row written before drift rated findings has none: rated now


def test_report_markdown_and_terminal() -> None:
    doc = _rated_doc()
    text = report_markdown.render(doc)
    assert "| state | severity | finding | fix | first seen |" in text
    row = next(line for line in text.splitlines() if "authorized" in line)
    assert row.startswith("| **new** | high |")
    rows = [line for line in text.splitlines() if line.startswith("| **new** |")]
    assert "authorized" in rows[0]  # most serious first
    doc["summary"]["by_severity"] = {"critical": 0, "high": 1, "medium": 2, "low": 0, "info": 0}
    terminal = summary(doc)
    assert "open by severity: 1 high, 2 medium" in terminal
    first = next(line for line in terminal.splitlines() if line.startswith("  new "))
    assert "high" in first and "authorized_keys" in first


def test_report_sarif_level_and_security_severity() -> None:
    results = json.loads(report_sarif.render(_rated_doc()))["runs"][0]["results"]
    keys = next(r for r in results if r["properties"]["name"] == "/root/.ssh/authorized_keys")
    assert keys["level"] == "error" and keys["properties"]["security-severity"] == "8.0"
    for r in results:
        state = r["properties"]["state"]
        if state in ("resolved", "removed"):
            assert r["level"] == "none"
        elif state != "acknowledged":
            assert r["level"] == {"high": "error", "medium": "warning"}.get(r["properties"]["severity"], "note")


def test_report_prometheus_severity_label() -> None:
    from prometheus_client.parser import text_string_to_metric_families

    families = {f.name: f for f in text_string_to_metric_families(report_prom.render(_rated_doc()))}
    samples = families["drift_findings"].samples
    assert all("severity" in s.labels for s in samples)
    high = [s for s in samples if s.labels["severity"] == "high" and s.value]
    assert [(s.labels["workload"], s.labels["category"], s.labels["state"], s.value) for s in high] == [
        ("shop-web-1", "file", "new", 1)
    ]
    assert all(s.value > 0 for s in samples)  # zeros are left out


def test_report_html_badge_and_minimum_severity_filter() -> None:
    page = report_html.render(_rated_doc())
    assert '<select id="severity-filter">' in page
    assert re.search(r'<option value="1">high and above</option>', page)
    row = re.search(r'<tr class="finding[^>]*data-fingerprint="keys0000">(.*?)</tr>', page, re.S)
    assert row is not None and 'class="badge sev sev-high"' in row.group(1)
    assert re.search(r'data-fingerprint="keys0000"', page) and 'data-severity="1" data-fingerprint="keys0000"' in page
    assert "open by severity:" in page


def test_webhook_payload_says_each_change_s_severity() -> None:
    body = notify.payload(_rated_doc())
    assert body is not None
    keys = next(c for c in body["changes"] if c["name"] == "/root/.ssh/authorized_keys")
    assert keys["severity"] == "high"
    assert all(c["severity"] in ("critical", "high", "medium", "low", "info") for c in body["changes"])
    assert "• new [high] shop-web-1: file: /root/.ssh/authorized_keys" in body["text"]


def test_report_fail_on_severity() -> None:
    states, sevs = ["new", "persisting", "new"], ["medium", "high", "low"]
    assert fails(states, ("new", "updated"), sevs)
    assert not fails(states, ("severity:high",), sevs)  # alone: new,updated of high or more
    assert fails(states, ("open", "severity:high"), sevs)  # the persisting one
    assert fails(states, ("new", "severity:medium"), sevs)
    assert not fails(states, ("none", "severity:info"), sevs)
    with pytest.raises(ValueError):
        fails(states, ("severity:high",))  # the floor needs the severities
    assert _fail_on(["open", "severity:HIGH"]) == ("open", "severity:high")
    with pytest.raises(DriftError, match="critical, high, medium, low, info"):
        _fail_on(["severity:bad"])
    with pytest.raises(DriftError, match="severity:LEVEL"):
        _fail_on(["newish"])


def test_report_fail_on_bad_severity_is_one_line() -> None:
    proc = run_drift("report", "--fail-on", "new,severity:urgent")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert proc.stderr.startswith("drift: error: --fail-on severity:urgent")
