"""Trend points and the terminal summary, from plain values."""

from __future__ import annotations

from drift.report import doc as docmod
from drift.report import trends
from drift.report.states import Outcome
from drift.report.terminal import summary
from drift.store.records import CountRow


def test_trend_points_sum_open_states_and_fill_missing_runs_with_zeros() -> None:
    rows = [
        CountRow(1, "t1", "default", "default/container/web", "file", "new", 2),
        CountRow(2, "t2", "default", "default/container/web", "file", "persisting", 1),
        CountRow(2, "t2", "default", "default/container/web", "file", "resolved", 1),
        CountRow(2, "t2", "default", "default/container/db", "undocumented", "stale", 3),
    ]
    out = trends.build(rows, {"default"}, {"default/container/web"}, [(1, "t1"), (2, "t2"), (3, "t3")])
    engine = out["engines"]["default"]
    assert [(p["run"], p["open"], p["new"], p["resolved"]) for p in engine] == [
        (1, 2, 2, 0),
        (2, 4, 0, 1),
        (3, 0, 0, 0),
    ]
    assert engine[1]["by_category"]["undocumented"] == 3 and engine[1]["by_category"]["file"] == 1
    assert [p["open"] for p in out["targets"]["default/container/web"]] == [2, 1, 0]
    assert list(out["targets"]) == ["default/container/web"]


def _doc() -> dict:
    t = docmod.TargetDoc("default", "container", "web", "abc", "app:1", "scanned", "its image app:1")
    outcomes = [
        Outcome(
            "f1",
            "new",
            {
                "category": "file",
                "manager": None,
                "name": "/etc/x",
                "expected": None,
                "actual": {"change": "added", "kind": "file", "mode": "0644"},
                "fingerprint": "f1",
            },
            "h",
            None,
        ),
        Outcome(
            "f2",
            "persisting",
            {
                "category": "undocumented",
                "manager": "apt",
                "name": "tree",
                "expected": None,
                "actual": "2.1",
                "fingerprint": "f2",
            },
            "h",
            None,
        ),
    ]
    targets = [t.to_json(docmod.target_counts(outcomes))]
    quiet = docmod.TargetDoc("default", "container", "db", "def", "pg:16", "scanned", "its image pg:16")
    targets.append(quiet.to_json(docmod.target_counts([])))
    findings = docmod.sort_findings([docmod.finding_json(t, o, now="N", run=2) for o in outcomes])
    return {
        "run": {"id": 2, "status": "complete", "first_run": False, "previous_run": 1},
        "engines": [{"name": "default", "endpoint": "unix:///x", "status": "up", "error": None}],
        "targets": targets,
        "findings": findings,
        "summary": docmod.summary(targets, findings),
    }


def test_summary_lists_changed_targets_then_new_findings() -> None:
    doc = _doc()
    assert doc["summary"]["by_state"]["new"] == 1 and doc["summary"]["by_category"]["undocumented"] == 1
    text = summary(doc)
    lines = text.splitlines()
    assert lines[0] == "drift report: run 2 (complete, previous run 1)"
    assert "  container web: scanned, 1 new" in lines
    assert not any("container db" in line for line in lines)  # nothing changed there
    assert any(line.strip().startswith("new") and "/etc/x" in line and "[f1]" in line for line in lines)
    assert "tree" not in text  # persisting findings are not repeated on every run


def test_summary_escapes_control_characters_from_file_names() -> None:
    doc = _doc()
    doc["findings"][0]["name"] = "/etc/\x1b[2Jevil\nname"
    text = summary(doc)
    assert "\x1b" not in text and "\\x1b[2Jevil\\x0aname" in text


def test_summary_says_a_target_error_once() -> None:
    doc = _doc()
    doc["targets"][0].update(status="error", error="cannot read it")
    assert "  container web: 1 new, error: cannot read it" in summary(doc).splitlines()
    doc["targets"][0].update(status="scanned", error=None, redeployed=True, id="abcdef0123456789")
    assert "  container web: scanned, 1 new, redeployed (abcdef012345)" in summary(doc).splitlines()


def test_summary_counts_the_replicas_of_a_workload_that_drifted() -> None:
    """Five pods of one Deployment, two with open findings: one line for the workload; a single
    Docker container is no workload of replicas."""
    doc = _doc()
    pods = [f"shop/web-7d9f8b6c4-{s}/app" for s in ("x2kz9", "bq5tw", "lm2np", "qrstv", "zzwx4")]
    template = doc["targets"][0]
    doc["targets"] = [{**template, "name": p, "status": "scanned", "redeployed": False} for p in pods]
    doc["targets"].append({**template, "name": "lonely", "status": "scanned"})
    finding = doc["findings"][0]
    doc["findings"] = [
        {**finding, "target": pods[0], "state": "new"},
        {**finding, "target": pods[3], "state": "persisting"},
        {**finding, "target": pods[4], "state": "resolved"},  # resolved: not drifted any more
        {**finding, "target": "lonely", "state": "new"},
    ]
    lines = summary(doc).splitlines()
    assert "  drift in 2 of 5 replicas of container shop/web/app" in lines
    assert not any("replicas of container lonely" in line for line in lines)
    doc["findings"] = [f for f in doc["findings"] if f["target"] == "lonely"]
    assert not any("replicas" in line for line in summary(doc).splitlines())  # none drifted: no line


def test_markdown_lists_workloads_with_replicas_and_the_pod_a_new_one_continues() -> None:
    from drift.render import report_markdown

    doc = _doc()
    template = doc["targets"][0]
    pods = ["shop/web-7d9f8b6c4-x2kz9/app", "shop/web-5c4b7d6f9-lm2np/app"]
    doc["targets"] = [{**template, "name": p, "status": "scanned", "redeployed": False} for p in pods]
    doc["targets"][1].update(status="new", redeployed=True, continues="shop/web-7d9f8b6c4-aaaaa/app")
    doc["findings"] = [{**doc["findings"][0], "target": pods[1], "state": "new"}]
    text = report_markdown.render(doc)
    assert "## Workloads with replicas" in text
    assert "| shop/web/app | container | 2 | 2 | 1 |" in text
    assert "(continues shop/web-7d9f8b6c4-aaaaa/app)" in text.replace("\\\\", "").replace("\\-", "-")
