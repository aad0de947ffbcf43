"""Markdown from a drift.report/v1 document: for a CI job summary ($GITHUB_STEP_SUMMARY) or an email.

What changed comes first (new, then updated, then resolved, per target), then every target
with its counts, then what is still open, folded. Values from images are escaped: a name
cannot open a link, a table cell or an HTML tag.
"""

from __future__ import annotations

import re
from typing import Any

from drift.render.report_common import (
    CHANGE_STATES,
    SEVERITY_LEVELS,
    describe,
    findings_by_target,
    incomplete_reasons,
    open_count,
    severity_of,
    sorted_targets,
    state_counts,
    target_key,
)
from drift.report import workload

MAX_ROWS = 200  # per table: a job summary is capped at 1 MiB, an email should stay readable
_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~>])")


def md(value: Any) -> str:
    """Text that stays text in GitHub-flavoured Markdown (tables included)."""
    text = str(value if value is not None else "").replace("\r", " ").replace("\n", " ")
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _SPECIAL.sub(r"\\\1", text)


def _summary_line(doc: dict[str, Any]) -> str:
    counts, summary = state_counts(doc), doc.get("summary") or {}
    parts = [f"**{open_count(doc)} open**"]
    by_severity = summary.get("by_severity") or {}
    rated = ", ".join(f"{by_severity[s]} {s}" for s in SEVERITY_LEVELS if by_severity.get(s))
    if rated:
        parts[0] += f" ({rated})"
    parts += [f"{counts[s]} {s}" for s in ("new", "updated", "resolved", "stale", "acknowledged") if counts[s]]
    targets = f"{summary.get('targets', 0)} targets: {summary.get('scanned', 0)} scanned"
    targets += "".join(
        f", {summary.get(k)} {label}"
        for k, label in (("errors", "with errors"), ("removed", "removed"))
        if summary.get(k)
    )
    return " · ".join(parts) + f" — {targets}"


def _table(findings: list[dict[str, Any]], *, with_state: bool = True) -> list[str]:
    head = ["state"] if with_state else []
    out = ["| " + " | ".join([*head, "severity", "finding", "fix", "first seen"]) + " |"]
    out.append("|" + "---|" * (len(head) + 4))
    for f in findings[:MAX_ROWS]:
        cells = [f"**{md(f.get('state'))}**"] if with_state else []
        cells += [md(severity_of(f)), md(describe(f)), md(f.get("fix") or "")]
        cells.append(md((f.get("first_seen") or "")[:16].replace("T", " ")))
        out.append("| " + " | ".join(cells) + " |")
    if len(findings) > MAX_ROWS:
        out.append(f"\n_... and {len(findings) - MAX_ROWS} more (see the JSON or HTML report)_")
    return out


def _changes(doc: dict[str, Any], by_target: dict[str, list[dict[str, Any]]]) -> list[str]:
    out = ["## Changes since the previous run", ""]
    any_change = False
    for t in sorted_targets(doc):
        key = target_key(t.get("engine") or "", t.get("kind") or "container", t.get("name") or "")
        changed = [f for f in by_target.get(key, []) if f.get("state") in CHANGE_STATES]
        note = " (redeployed)" if t.get("redeployed") else ""
        if t.get("continues"):
            note = f" (continues {md(t.get('continues'))})"
        if t.get("status") == "removed":
            out += [f"- {md(t.get('kind'))} `{md(t.get('name'))}` was **removed**; its findings are closed", ""]
            any_change = True
        if not changed:
            continue
        any_change = True
        counts = ", ".join(
            f"{sum(f['state'] == s for f in changed)} {s}"
            for s in CHANGE_STATES
            if any(f["state"] == s for f in changed)
        )
        out += [f"### {md(t.get('kind'))} {md(t.get('name'))}{note}: {counts}", "", *_table(changed), ""]
    if not any_change:
        out += ["_nothing new, updated or resolved_", ""]
    return out


def _replicas(doc: dict[str, Any]) -> list[str]:
    """Workloads with more than one target (a Deployment's pods): how many of them drifted."""
    rows = [(k, v) for k, v in workload.groups(doc).items() if v[0] > 1]
    if not rows:
        return []
    out = ["## Workloads with replicas", "", "| workload | kind | replicas | scanned | drifted |"]
    out.append("|---|---|---:|---:|---:|")
    for (_, kind, name), (total, up, drifted) in rows:
        out.append(f"| {md(name)} | {md(kind)} | {total} | {up} | {drifted} |")
    return [*out, ""]


def _targets(doc: dict[str, Any]) -> list[str]:
    out = ["## Targets", "", "| target | kind | status | open | new | updated | resolved | stale | compared with |"]
    out.append("|---|---|---|---:|---:|---:|---:|---:|---|")
    for t in sorted_targets(doc):
        c = t.get("counts") or {}
        status = md(t.get("status")) + (f": {md(t.get('error'))}" if t.get("error") else "")
        nums = " | ".join(str(c.get(k, 0)) for k in ("open", "new", "updated", "resolved", "stale"))
        out.append(
            f"| {md(t.get('name'))} | {md(t.get('kind'))} | {status} | {nums} | {md(t.get('compared_with') or '')} |"
        )
    return [*out, ""]


def _still_open(doc: dict[str, Any], by_target: dict[str, list[dict[str, Any]]]) -> list[str]:
    earlier = ("persisting", "stale", "acknowledged")
    kept_by_target = {key: [f for f in items if f.get("state") in earlier] for key, items in sorted(by_target.items())}
    total = sum(len(kept) for kept in kept_by_target.values())
    if not total:
        return []
    out = [f"<details><summary>Still open from earlier runs ({total})</summary>", ""]
    for key, kept in kept_by_target.items():
        if kept:
            out += [f"**{md(key)}**", "", *_table(kept), ""]
    return [*out, "</details>", ""]


def render(doc: dict[str, Any]) -> str:
    run = doc.get("run") or {}
    out = [f"# drift report: run {md(run.get('id'))} ({md(run.get('status'))})", ""]
    out += [f"{md(run.get('finished') or '')} · fails on: {md(', '.join(run.get('fail_on') or []))}", ""]
    reasons = incomplete_reasons(doc)
    if reasons:
        out += ["> **Incomplete run**: findings of targets that could not be scanned are kept as stale.", ">"]
        out += [f"> - {md(r)}" for r in reasons] + [""]
    if run.get("first_run") and run.get("status") != "failed":  # a failed run is no baseline
        out += ["> First run: everything found is recorded as the baseline.", ""]
    out += [_summary_line(doc), ""]
    by_target = findings_by_target(doc)
    out += _changes(doc, by_target) + _replicas(doc) + _targets(doc) + _still_open(doc, by_target)
    return "\n".join(out).rstrip("\n") + "\n"
