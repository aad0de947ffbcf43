"""The report renderers (HTML, Prometheus, SARIF, Markdown) on the fixture document."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any

import pytest

from drift.render import report_html, report_markdown, report_prom, report_sarif
from tests.unit.report_fixture import HOSTILE, quiet_doc, report_doc

# ---------------------------------------------------------------- HTML


def test_html_escapes_values_from_images() -> None:
    page = report_html.render(report_doc())
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert" not in page
    assert len(re.findall(r"<script\b", page)) == 1  # the page's own filter script, nothing else


def test_html_is_self_contained_with_csp_hashes_of_its_own_blocks() -> None:
    page = report_html.render(report_doc())
    assert not re.search(r"\b(src|href)\s*=", page), "no external resource, no link out"
    assert "@import" not in page and "url(" not in page
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    assert csp is not None
    policy = csp.group(1).replace("&#39;", "'")
    for tag in ("style", "script"):
        block = re.search(rf"<{tag}>(.*?)</{tag}>", page, re.S)
        assert block is not None
        digest = base64.b64encode(hashlib.sha256(block.group(1).encode()).digest()).decode()
        assert f"{tag}-src 'sha256-{digest}'" in policy
    assert "default-src 'none'" in policy


def test_html_banner_only_when_incomplete() -> None:
    page = report_html.render(report_doc())
    banner = re.search(r'<section class="banner" role="alert" id="incomplete">(.*?)</section>', page, re.S)
    assert banner is not None
    assert "local/worker: cannot read the container" in banner.group(1)
    assert 'id="incomplete"' not in report_html.render(quiet_doc())
    down = quiet_doc()
    down["engines"][0].update(status="down", error="cannot connect to unix:///var/run/docker.sock")
    assert "engine local: cannot connect" in report_html.render(down)


def test_html_sections_list_new_first_with_fix_lines() -> None:
    page = report_html.render(report_doc())
    section = re.search(
        r'<section class="target t-scanned" data-target="local/container/shop-web-1">(.*?)</section>', page, re.S
    )
    assert section is not None
    states = re.findall(r'<tr class="finding st-(\w+)"', section.group(1))
    assert states == ["new", "new", "persisting", "acknowledged"]
    assert "RUN apt-get install -y curl" in section.group(1)
    assert "hotfix CVE-2024-35195" in section.group(1)
    # every finding is a row carrying what the filters need
    rows = re.findall(r'<tr class="finding[^>]*data-state="(\w+)" data-category="(\w+)" data-target="([^"]+)"', page)
    assert len(rows) == len(report_doc()["findings"])


def test_html_trend_charts_per_engine_and_target() -> None:
    page = report_html.render(report_doc())
    assert 'aria-label="findings per run on engine local"' in page
    for key in ("local/container/shop-web-1", "local/image/shop:latest"):
        assert f'aria-label="findings per run on {key}"' in page
    # the engine's open series goes 7, 8, 7, 10 over the 4 runs: 10 is the top of the chart
    chart = re.search(r'aria-label="findings per run on engine local">(.*?)</svg>', page, re.S)
    assert chart is not None
    ys = [
        float(y)
        for y in re.findall(r'<polyline class="line s-open" points="([^"]+)"', chart.group(1))[0]
        .split()[3]
        .split(",")[1:]
    ]
    assert ys == [10.0]  # top margin of the plot: the maximum


def test_html_first_run_note_and_empty_report() -> None:
    doc = report_doc()
    doc.update(findings=[], targets=[], trends={"engines": {}, "targets": {}})
    doc["run"].update(first_run=True, status="complete")
    page = report_html.render(doc)
    assert 'id="baseline"' in page and "no targets matched" in page


def test_a_failed_first_run_is_no_baseline_in_any_output() -> None:
    """A run that saw nothing (engine down) records no baseline: the next run is a first run again."""
    from drift.report.terminal import summary

    doc = report_doc()
    doc.update(findings=[], targets=[], trends={"engines": {}, "targets": {}})
    doc["run"].update(first_run=True, status="failed", error="cannot reach the Docker engine")
    assert 'id="baseline"' not in report_html.render(doc)
    assert "baseline" not in report_markdown.render(doc)
    assert "no baseline recorded" in summary(doc).splitlines()[0]
    doc["run"].update(status="complete", error=None)
    assert "recorded as the baseline" in report_markdown.render(doc)
    assert summary(doc).splitlines()[0].endswith("(complete, first run: baseline recorded)")


# ---------------------------------------------------------------- Prometheus


def _families(text: str) -> dict[str, Any]:
    from prometheus_client.parser import text_string_to_metric_families

    return {f.name: f for f in text_string_to_metric_families(text)}


def test_prom_parses_and_writes_only_counts_that_exist() -> None:
    doc = report_doc()
    text = report_prom.render(doc)
    families = _families(text)
    findings = families["drift_findings"]
    values: dict[tuple[str, str, str], float] = {}
    for s in findings.samples:
        key = (s.labels["workload"], s.labels["category"], s.labels["state"])
        values[key] = values.get(key, 0) + s.value
    assert values[("shop-web-1", "undocumented", "new")] == 2
    assert ("shop-web-1", "undocumented", "persisting") not in values  # a zero is left out
    assert values[("worker", "mark", "stale")] == 1
    assert values[("billing-db", "config", "removed")] == 1
    assert all(s.value > 0 for s in findings.samples)
    assert sum(values.values()) == len(doc["findings"])
    for name in ("drift_findings", "drift_workload_targets", "drift_engine_up", "drift_run_duration_seconds"):
        assert f"# HELP {name} " in text and f"# TYPE {name} gauge" in text
        assert families[name].type == "gauge"
    # the workload families are always there for every workload of the run: 3 series each
    workloads = {s.labels["workload"] for s in families["drift_workload_targets"].samples}
    assert workloads == {"cache", "shop-web-1", "shop-web-2", "shop:latest", "worker"}
    series = sum(len(f.samples) for f in families.values())
    assert series == 3 * len(workloads) + 7 + len(findings.samples)


def test_prom_groups_the_replicas_of_a_kubernetes_workload() -> None:
    """Pods of a Deployment, a StatefulSet and a DaemonSet count under their workload, so a
    rollout (new pod names) makes no new series; `drifted` says how many replicas drifted."""
    doc = report_doc()
    pods = ["shop/web-7d9f8b6c4-x2kz9", "shop/web-7d9f8b6c4-bq5tw", "shop/web-5c4b7d6f9-lm2np", "shop/db-0",
            "shop/db-1", "kube-system/agent-4xk7z"]  # fmt: skip
    doc["targets"] = [{"engine": "node-1", "kind": "container", "name": f"{p}/app", "status": "scanned"} for p in pods]
    doc["findings"] = [
        {**doc["findings"][0], "engine": "node-1", "target": "shop/web-7d9f8b6c4-x2kz9/app", "state": "new"},
        {**doc["findings"][0], "engine": "node-1", "target": "shop/web-5c4b7d6f9-lm2np/app", "state": "new"},
        {**doc["findings"][0], "engine": "node-1", "target": "shop/db-1/app", "state": "persisting"},
    ]
    families = _families(report_prom.render(doc))
    targets = {s.labels["workload"]: s.value for s in families["drift_workload_targets"].samples}
    assert targets == {"shop/web/app": 3, "shop/db/app": 2, "kube-system/agent/app": 1}
    drifted = {s.labels["workload"]: s.value for s in families["drift_workload_drifted"].samples}
    assert drifted == {"shop/web/app": 2, "shop/db/app": 1, "kube-system/agent/app": 0}
    [web] = [s for s in families["drift_findings"].samples if s.labels["workload"] == "shop/web/app"]
    assert web.value == 2 and "target" not in web.labels and "pod" not in web.labels


def test_prom_workload_up_and_engine_up_timestamps() -> None:
    families = _families(report_prom.render(report_doc()))
    up = {s.labels["workload"]: s.value for s in families["drift_workload_up"].samples}
    assert up == {"cache": 1, "shop-web-1": 1, "shop-web-2": 1, "shop:latest": 1, "worker": 0}  # removed: no series
    assert [s.value for s in families["drift_engine_up"].samples] == [1]
    assert families["drift_last_success_timestamp_seconds"].samples[0].value == 1795906852  # 2026-11-28T23:00:52Z
    assert families["drift_run_duration_seconds"].samples[0].value == pytest.approx(48.3)


def test_prom_failed_run_keeps_the_last_success_it_is_told() -> None:
    doc = report_doc()
    doc["run"].update(status="failed")
    assert _families(report_prom.render(doc))["drift_last_success_timestamp_seconds"].samples[0].value == 0
    doc["run"]["last_success"] = "2026-11-28T22:00:44Z"
    assert _families(report_prom.render(doc))["drift_last_success_timestamp_seconds"].samples[0].value == 1795903244


def test_prom_escapes_label_values() -> None:
    doc = report_doc()
    odd = 'we"ird\\name\nline2'
    doc["targets"][0]["name"] = odd
    for f in doc["findings"]:
        if f["target"] == "shop-web-1":
            f["target"] = odd
    families = _families(report_prom.render(doc))
    targets = {s.labels["workload"] for s in families["drift_workload_up"].samples}
    assert odd in targets
    new = [s for s in families["drift_findings"].samples if s.labels["workload"] == odd and s.labels["state"] == "new"]
    assert sum(s.value for s in new) == 2


# ---------------------------------------------------------------- SARIF


def _check_sarif_essentials(log: dict[str, Any]) -> None:
    assert log["version"] == "2.1.0"
    assert log["$schema"].endswith("sarif-2.1.0.json")
    for run in log["runs"]:
        rules = {r["id"] for r in run["tool"]["driver"]["rules"]}
        assert run["tool"]["driver"]["name"] == "drift"
        for result in run["results"]:
            assert result["ruleId"] in rules
            assert result["level"] in ("none", "note", "warning", "error")
            assert isinstance(result["message"]["text"], str) and result["message"]["text"]
            assert result["partialFingerprints"] and all(
                isinstance(v, str) for v in result["partialFingerprints"].values()
            )
            assert result["baselineState"] in ("new", "unchanged", "updated", "absent")
            if result.get("kind", "fail") != "fail":
                assert result["level"] == "none"
            for s in result.get("suppressions", []):
                assert s["kind"] in ("inSource", "external")


def test_sarif_states_suppressions_and_provenance() -> None:
    doc = report_doc()
    log = json.loads(report_sarif.render(doc))
    _check_sarif_essentials(log)
    results = log["runs"][0]["results"]
    assert len(results) == len(doc["findings"])
    expect = {"new": "new", "updated": "updated", "persisting": "unchanged", "acknowledged": "unchanged",
              "stale": "unchanged", "resolved": "absent", "removed": "absent"}  # fmt: skip
    for r in results:
        assert r["baselineState"] == expect[r["properties"]["state"]]
        assert r["provenance"]["firstDetectionTimeUtc"] == r["properties"]["first_seen"]
    acked = [r for r in results if "suppressions" in r]
    assert [r["properties"]["name"] for r in acked] == ["requests"]
    assert acked[0]["suppressions"][0] == {
        "kind": "external",
        "status": "accepted",
        "justification": "hotfix CVE-2024-35195, rebuild planned",
        "properties": {"by": "ops@example.com", "expires": "2026-12-28T23:00:00Z"},
    }
    new = [r for r in results if r["baselineState"] == "new"]
    # the level is the finding's severity's (medium: warning), whatever --fail-on says
    assert {(r["properties"]["severity"], r["level"]) for r in new} == {("medium", "warning")}
    assert {r["properties"]["security-severity"] for r in new} == {"5.5"}
    notes = log["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert [n["message"]["text"][:12] for n in notes] == ["local/worker"]


def test_sarif_same_package_on_two_targets_are_two_results() -> None:
    doc = report_doc()
    twin = {**doc["findings"][0], "target": "shop-web-2"}
    doc["findings"].append(twin)
    results = json.loads(report_sarif.render(doc))["runs"][0]["results"]
    prints = {json.dumps(r["partialFingerprints"], sort_keys=True) for r in results}
    assert len(prints) == len(results)


# ---------------------------------------------------------------- Markdown


def test_markdown_changes_first_then_targets() -> None:
    text = report_markdown.render(report_doc())
    assert text.index("## Changes since the previous run") < text.index("## Targets")
    web2 = text[text.index("### container shop-web-2") :]
    web2 = web2[: web2.index("###", 3)]
    assert "(redeployed): 1 new, 1 updated, 1 resolved" in web2
    rows = [line.split("|")[1].strip() for line in web2.splitlines() if line.startswith("| **")]
    assert rows == ["**new**", "**updated**", "**resolved**"]
    assert "container `billing-db` was **removed**" in text
    assert "> **Incomplete run**" in text and "local/worker: cannot read" in text
    assert "**10 open** · 4 new · 1 updated · 2 resolved · 2 stale · 1 acknowledged" in text


def test_markdown_escapes_values() -> None:
    text = report_markdown.render(report_doc())
    assert HOSTILE not in text and "<script>" not in text
    assert "&lt;script&gt;alert\\(1\\)&lt;/script&gt;" in text
    doc = report_doc()
    doc["findings"][0]["name"] = "a|b [x](http://evil) `c`"
    line = next(row for row in report_markdown.render(doc).splitlines() if "evil" in row)
    assert line.count("|") - line.count("\\|") == 6  # five cells: the pipe in the name does not add one
    assert "\\[x\\]\\(http://evil\\)" in line


def test_markdown_nothing_changed() -> None:
    text = report_markdown.render(quiet_doc())
    assert "_nothing new, updated or resolved_" in text
    assert "Incomplete" not in text
    assert "<details><summary>Still open from earlier runs (8)</summary>" in text


def test_html_marks_targets_carried_over_unread() -> None:
    doc = report_doc()
    page = report_html.render(doc)
    assert "unchanged since last scan" not in page
    next(t for t in doc["targets"] if t["name"] == "shop:latest")["reused"] = True
    page = report_html.render(doc)
    section = re.search(r'data-target="local/image/shop:latest">(.*?)</h2>', page, re.S)
    assert section is not None and "unchanged since last scan" in section.group(1)


@pytest.mark.parametrize(
    ("name", "workload"),
    [
        ("shop/web-7d9f8b6c4-x2kz9/app", "shop/web/app"),  # Deployment
        ("shop/web-59b8f6c7d9-x2kz9/app", "shop/web/app"),  # 10-character pod-template-hash
        ("shop/db-0/postgres", "shop/db/postgres"),  # StatefulSet
        ("kube-system/kube-proxy-4xk7z/kube-proxy", "kube-system/kube-proxy/kube-proxy"),  # DaemonSet
        ("shop/static-pod-node1/app", "shop/static-pod-node1/app"),  # a name Kubernetes did not generate
        ("shop/web-aeiou/app", "shop/web-aeiou/app"),  # vowels: not Kubernetes' alphabet
        ("web-1", "web-1"),  # a Docker container: its own workload
    ],
)
def test_workload_of_a_target(name: str, workload: str) -> None:
    from drift.report.workload import workload_of

    assert workload_of("container", name) == workload


# ---------------------------------------------------------------- HTML: replicas of a workload


def _replica_doc() -> dict[str, Any]:
    doc = report_doc()
    pods = ["shop/web-7d9f8b6c4-x2kz9", "shop/web-7d9f8b6c4-bq5tw", "shop/web-5c4b7d6f9-lm2np", "shop/db-0"]
    doc["targets"] = [
        {"engine": "node-1", "kind": "container", "name": f"{p}/app", "status": "scanned", "counts": {}} for p in pods
    ]
    first = doc["findings"][0]
    doc["findings"] = [
        {**first, "engine": "node-1", "target": "shop/web-7d9f8b6c4-x2kz9/app", "state": "new", "fingerprint": "a1"},
        {**first, "engine": "node-1", "target": "shop/web-5c4b7d6f9-lm2np/app", "state": "new", "fingerprint": "a2"},
        {**first, "engine": "node-1", "target": "shop/web-5c4b7d6f9-lm2np/app", "state": "new", "fingerprint": "a3",
         "name": "wget"},
    ]  # fmt: skip
    return doc


def test_html_shows_the_replicas_of_a_workload_as_one_section() -> None:
    """The three pods of shop/web are one section naming them (in a <details>); the finding two of
    them share is one row saying on which; the lone StatefulSet pod keeps a section of its own."""
    from html.parser import HTMLParser

    page = report_html.render(_replica_doc())
    sections = re.findall(r'<section class="target[^"]*" data-target="([^"]+)"', page)
    assert sorted(sections) == ["node-1/container/shop/db-0/app", "node-1/container/shop/web/app"]
    web = page[page.index('data-target="node-1/container/shop/web/app"') :]
    web = web[: web.index("</section>")]
    assert 'data-replicas="3"' in web and "3 replicas" in web and "drift in 2 of 3" in web
    details = web[web.index("<details") : web.index("</details>")]
    assert re.findall(r'data-name="([^"]+)"', details) == [
        "shop/web-5c4b7d6f9-lm2np/app",
        "shop/web-7d9f8b6c4-bq5tw/app",
        "shop/web-7d9f8b6c4-x2kz9/app",
    ]
    rows = re.findall(r'<tr class="finding[^>]*data-count="(\d+)"[^>]*data-fingerprint="([^"]+)"', web)
    assert sorted(rows) == [("1", "a3"), ("2", "a2 a1")]
    assert "on 2 of 3 replicas: shop/web-5c4b7d6f9-lm2np/app, shop/web-7d9f8b6c4-x2kz9/app" in web
    # the target filter offers the workload once
    assert page.count('<option value="node-1/container/shop/web/app">') == 1
    HTMLParser().feed(page)  # parses


def test_html_without_replicas_is_one_section_per_target() -> None:
    doc = report_doc()
    page = report_html.render(doc)
    sections = re.findall(r'<section class="target[^"]*" data-target="([^"]+)"', page)
    assert len(sections) == len(doc["targets"]) and "workload" not in page.split("<main>")[1].split("<script>")[0]
