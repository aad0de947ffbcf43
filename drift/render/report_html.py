"""HTML report: one self-contained page (CSS, JS and SVG inline, no network) from a drift.report/v1 document.

Rendered with Jinja2, autoescape on: every value may come from an image (a package or file name),
so it is text, never markup. A Content-Security-Policy with the hashes of the page's own style and
script blocks keeps anything else from running even if it got in.
"""

from __future__ import annotations

import base64
import hashlib
import json
from functools import cache
from importlib import resources
from typing import Any

from drift.render.report_charts import chart
from drift.render.report_common import (
    CATEGORIES,
    CHANGE_STATES,
    OPEN_STATES,
    SEVERITY_LEVELS,
    STATES,
    findings_by_target,
    incomplete_reasons,
    open_count,
    severity_of,
    sort_findings,
    sorted_targets,
    state_counts,
    target_key,
    value_text,
)
from drift.report import workload


@cache
def _asset(name: str) -> str:
    return resources.files("drift.render").joinpath("templates", name).read_text(encoding="utf-8")


@cache
def _environment() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("drift.render", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["value"] = value_text
    env.filters["when"] = _when
    return env


def _when(iso: Any) -> str:
    """`2026-11-28T23:00:52Z` -> `2026-11-28 23:00:52Z` (UTC, as stored)."""
    return str(iso or "").replace("T", " ")


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def _cards(doc: dict[str, Any]) -> list[tuple[str, int, str]]:
    counts = state_counts(doc)
    summary = doc.get("summary") or {}
    cards = [("open findings", open_count(doc), "open")]
    cards += [(state, counts[state], state) for state in STATES if state != "removed"]
    cards.append(("targets", int(summary.get("targets") or 0), "targets"))
    cards.append(("target errors", int(summary.get("errors") or 0), "error" if summary.get("errors") else "ok"))
    return cards


def _open_by_severity(doc: dict[str, Any]) -> dict[str, int]:
    """Open findings per severity (acknowledged ones too, as the open count has them)."""
    counts = dict.fromkeys(SEVERITY_LEVELS, 0)
    for f in doc.get("findings") or []:
        if f.get("state") in OPEN_STATES:
            counts[severity_of(f)] += 1
    return counts


def _target_sections(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """One section per target; the replicas of one workload (a Deployment's pods: drift.report.workload)
    share one section, placed where its first replica would be."""
    by_target = findings_by_target(doc)
    trends = (doc.get("trends") or {}).get("targets") or {}
    replicated = {k for k, (total, _, _) in workload.groups(doc).items() if total > 1}
    sections: list[dict[str, Any]] = []
    members: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for t in sorted_targets(doc):
        wk = workload.key_of(t)
        if t.get("status") != "removed" and wk in replicated:
            if wk not in members:
                members[wk] = []
                sections.append({"workload": wk})  # filled in below, once all its replicas are known
            members[wk].append(t)
            continue
        key = target_key(t.get("engine") or "", t.get("kind") or "container", t.get("name") or "")
        points = trends.get(key) or []
        sections.append(
            {
                "key": key,
                "target": t,
                "counts": t.get("counts") or {},
                "findings": _rated(by_target.pop(key, [])),
                "chart": chart(points, width=180, height=40, compact=True) if len(points) > 1 else None,
                "context": _context(t),
                "replicas": None,
            }
        )
    sections = [
        _replica_section(s["workload"], members[s["workload"]], by_target) if "workload" in s else s for s in sections
    ]
    # Findings whose target is not listed (should not happen): still shown, never dropped.
    for key, findings in sorted(by_target.items()):
        name = key.split("/", 2)[-1]
        sections.append(
            {"key": key, "target": {"name": name, "kind": "", "status": "", "engine": ""}, "counts": {},
             "findings": _rated(findings), "chart": None, "context": {}, "replicas": None}
        )  # fmt: skip
    return sections


def _context(t: dict[str, Any]) -> dict[str, str]:
    return {k: value_text(v) for k, v in sorted((t.get("context") or {}).items()) if v}


def _replica_section(
    wk: tuple[str, str, str], targets: list[dict[str, Any]], by_target: dict[str, list[dict[str, Any]]]
) -> dict[str, Any]:
    """The replicas of one workload as one section: their counts summed, a finding the replicas
    share as one row naming them, each replica (status, counts) in a list."""
    engine, kind, name = wk
    merged: dict[str, dict[str, Any]] = {}
    counts: dict[str, int] = {}
    drifted = 0
    for t in targets:
        for state, n in (t.get("counts") or {}).items():
            counts[state] = counts.get(state, 0) + int(n or 0)
        findings = by_target.pop(target_key(engine, kind, t.get("name") or ""), [])
        drifted += any(f.get("state") in workload.OPEN_STATES for f in findings)
        for f in findings:
            row = merged.setdefault(_same_finding(f), {**f, "replicas": [], "fingerprints": []})
            row["replicas"].append(t.get("name") or "")
            row["fingerprints"].append(f.get("fingerprint") or "")
    contexts = [_context(t) for t in targets]
    status = "error" if any(t.get("status") == "error" for t in targets) else "scanned"
    return {
        "key": target_key(engine, kind, name),
        "target": {"engine": engine, "kind": kind, "name": name, "status": status},
        "counts": counts,
        "findings": _rated(sort_findings(list(merged.values()))),
        "chart": None,
        "context": contexts[0] if all(c == contexts[0] for c in contexts) else {},
        "replicas": sorted(targets, key=lambda t: t.get("name") or ""),
        "drifted": drifted,
    }


def _same_finding(f: dict[str, Any]) -> str:
    """What makes two replicas' findings the same finding (not the fingerprint, which names the target)."""
    keys = ("state", "category", "manager", "name", "location", "expected", "actual", "detail", "explained_by", "line")
    return json.dumps([f.get(k) for k in keys], sort_keys=True, default=str)


def _rated(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each finding with its severity, its rank (0 = critical: the filter's minimum compares
    ranks) and the rule's reason (the badge's tooltip)."""
    out = []
    for f in findings:
        sev = severity_of(f)
        out.append({**f, "severity": sev, "severity_rank": SEVERITY_LEVELS.index(sev), "severity_reason": _reason(f)})
    return out


def _reason(f: dict[str, Any]) -> str:
    from drift.model import Finding
    from drift.severity import reason

    return reason(
        Finding(f.get("category") or "unknown", f.get("manager"), str(f.get("name") or ""), f.get("expected"),
                f.get("actual"), detail=f.get("detail"))
    )  # fmt: skip


def render(doc: dict[str, Any]) -> str:
    css, js = _asset("report.css"), _asset("report.js")
    from markupsafe import Markup

    engine_trends = (doc.get("trends") or {}).get("engines") or {}
    context = {
        "doc": doc,
        "run": doc.get("run") or {},
        "engines": doc.get("engines") or [],
        "summary": doc.get("summary") or {},
        "cards": _cards(doc),
        "by_category": (doc.get("summary") or {}).get("by_category") or {},
        "by_severity": _open_by_severity(doc),
        "severities": SEVERITY_LEVELS,
        "reasons": incomplete_reasons(doc),
        "engine_charts": [(name, chart(points, width=720)) for name, points in sorted(engine_trends.items()) if points],
        "sections": _target_sections(doc),
        "states": STATES,
        "change_states": CHANGE_STATES,
        "categories": CATEGORIES,
        "css": Markup(css),
        "js": Markup(js),
        "csp": f"default-src 'none'; style-src {_csp_hash(css)}; script-src {_csp_hash(js)}; img-src data:",
    }
    return str(_environment().get_template("report.html.j2").render(**context))
