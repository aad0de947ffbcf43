"""What a person sees on a terminal after a run (its progress bar: drift/progress.py): a short summary.

One line for the run, one per target with changes (new, updated, resolved, errors,
removed, redeployed), one per workload with replicas that drifted ("drift in 2 of 5 replicas of
container shop/web/app": drift.report.workload), then the new and updated findings. `--quiet` shows nothing but errors.
"""

from __future__ import annotations

from typing import Any

from drift.model import short_id
from drift.progress import safe
from drift.render.report_common import severity_of, sort_findings
from drift.report import workload

_MAX_FINDINGS = 50


def _counts(t: dict[str, Any]) -> str:
    c = t["counts"]
    parts = [f"{c[s]} {s}" for s in ("new", "updated", "resolved", "stale", "removed") if c.get(s)]
    return ", ".join(parts)


def _changed(t: dict[str, Any]) -> bool:
    c = t["counts"]
    return (
        t["status"] in ("error", "removed", "new")
        or t["redeployed"]
        or any(c.get(s) for s in ("new", "updated", "resolved", "removed"))
    )


def _value(v: Any) -> str:
    if isinstance(v, dict):  # a file's state, or an account's (never a password, only its state)
        keys = ("change", "kind", "mode") if "kind" in v else ("uid", "gid", "shell", "home", "password", "members")
        return " ".join(f"{k}={v[k]}" for k in keys if k in v)
    return "-" if v is None else str(v)


def summary(doc: dict[str, Any]) -> str:
    run, s = doc["run"], doc["summary"]
    st = s["by_state"]
    head = f"drift report: run {run['id']} ({run['status']}"
    if run["first_run"]:  # a failed run saw nothing: it is no baseline (the next run is a first run again)
        head += ", first run: no baseline recorded)" if run["status"] == "failed" else ", first run: baseline recorded)"
    else:
        head += f", previous run {run['previous_run']})"
    lines = [
        head,
        f"  {s['targets']} target(s): {s['scanned']} scanned, {s['errors']} error(s), {s['removed']} removed; "
        f"findings: {st['new']} new, {st['updated']} updated, {st['persisting']} persisting, "
        f"{st['resolved']} resolved, {st['stale']} stale, {st['acknowledged']} acknowledged",
    ]
    rated = s.get("by_severity") or {}
    if any(rated.values()):
        lines.append("  open by severity: " + ", ".join(f"{n} {sev}" for sev, n in rated.items() if n))
    if doc["run"].get("error"):
        lines.append(f"  run failed: {doc['run']['error']}")
    for e in doc["engines"]:
        if e.get("previous_id"):
            lines.append(
                f"  engine {e['name']} ({e['endpoint']}) is another engine than last time "
                f"(id {e['id']}, was {e['previous_id']}): its targets are compared with the other engine's history"
            )
        if e["status"] != "up":
            lines.append(f"  engine {e['name']} ({e['endpoint']}) is down: {e['error']}")
    many = len(doc["engines"]) > 1  # then every target and finding says its engine
    for t in doc["targets"]:
        if not _changed(t):
            continue
        extra = []
        if t.get("continues"):  # a new pod of a workload, going on with a replaced pod's history
            extra.append(f"continues {t['continues']}")
        elif t["redeployed"]:
            extra.append(f"redeployed ({short_id(t['id'])})")
        status = t["status"]
        if t["error"]:  # "error: why", the word once; an engine down was said once above
            extra.append("engine down" if t["error"].startswith("engine down:") else f"error: {t['error']}")
            status = "" if status == "error" else status
        parts = [x for x in [status, _counts(t), *extra] if x]
        lines.append(f"  {t['engine'] + ': ' if many else ''}{t['kind']} {t['name']}: " + ", ".join(parts))
    for (engine, kind, name), (total, _, drifted) in workload.groups(doc).items():
        if total > 1 and drifted:  # the replicas of one workload (a Deployment's pods): how many drifted
            where = f"{engine}: " if many else ""
            lines.append(f"  {where}drift in {drifted} of {total} replicas of {kind} {name}")
    shown = sort_findings([f for f in doc["findings"] if f["state"] in ("new", "updated")])
    if shown:
        lines.append("")
        for f in shown[:_MAX_FINDINGS]:
            what = f"{f['category']} {f['manager'] + ' ' if f['manager'] else ''}{f['name']}"
            where = f"{f['engine']}/{f['target']}" if many else f["target"]
            lines.append(
                f"  {f['state']:<8} {severity_of(f):<8} {where}: {what}"
                f" ({_value(f['expected'])} -> {_value(f['actual'])})"
                f"  [{f['fingerprint']}]"
            )
        if len(shown) > _MAX_FINDINGS:
            lines.append(f"  ... and {len(shown) - _MAX_FINDINGS} more (see -o json:PATH)")
    return "\n".join(safe(line) for line in lines) + "\n"
