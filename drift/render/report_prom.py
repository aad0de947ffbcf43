"""Prometheus text format for node_exporter's textfile collector, from a drift.report/v1 document.

Every series a dashboard or an alert needs is always there: a zero is written for every
category x severity (the severities drift's rule table can give that category) x state of
every target in the run, so `absent()` never confuses "no drift" with
"no data". Write the file atomically (drift does) into the collector's folder.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from drift.render.report_common import CATEGORIES, SEVERITY_LEVELS, STATES, severity_of
from drift.severity import category_severities

RUN_STATUSES = ("complete", "partial", "failed")
UP_STATUSES = frozenset({"scanned", "new"})


def _escape_label(value: Any) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(**labels: Any) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape_label(v)}"' for k, v in labels.items()) + "}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _timestamp(iso: Any) -> float:
    if not iso:
        return 0.0
    return datetime.fromisoformat(str(iso).replace("Z", "+00:00")).timestamp()


class _Out:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, help_text: str, samples: list[tuple[dict[str, Any], float]]) -> None:
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} gauge")
        self.lines.extend(f"{name}{_labels(**labels)} {_number(value)}" for labels, value in samples)


def _finding_samples(doc: dict[str, Any]) -> list[tuple[dict[str, Any], float]]:
    counts: dict[tuple[str, str, str, str, str], int] = {}
    for f in doc.get("findings") or []:
        key = (
            f.get("engine") or "",
            f.get("target") or "",
            f.get("category") or "",
            severity_of(f),
            f.get("state") or "",
        )
        counts[key] = counts.get(key, 0) + 1
    targets = sorted(
        {(t.get("engine") or "", t.get("kind") or "", t.get("name") or "") for t in doc.get("targets") or []}
    )
    # zeros for the severities a category can have (drift.severity's table), not for every pair
    pairs = category_severities()
    samples: list[tuple[dict[str, Any], float]] = []
    for engine, kind, name in targets:
        found = {(c, sev) for (e, t, c, sev, _) in counts if (e, t) == (engine, name)}
        for category in CATEGORIES:
            levels = [s for s in SEVERITY_LEVELS if s in pairs.get(category, ()) or (category, s) in found]
            for sev in levels:
                for state in STATES:
                    labels = {"engine": engine, "target": name, "kind": kind, "category": category,
                              "severity": sev, "state": state}  # fmt: skip
                    samples.append((labels, counts.get((engine, name, category, sev, state), 0)))
    return samples


def _last_success(run: dict[str, Any]) -> float:
    """A run that recorded its result (complete or partial) is a success; else the last one the store knows."""
    if run.get("status") in ("complete", "partial"):
        return _timestamp(run.get("finished"))
    return _timestamp(run.get("last_success"))


def render(doc: dict[str, Any]) -> str:
    run = doc.get("run") or {}
    out = _Out()
    out.family(
        "drift_findings",
        "Findings of the last drift report run per target, category, severity and state (new, ... resolved).",
        _finding_samples(doc),
    )
    out.family(
        "drift_target_up",
        "1 if the target was scanned in the last run, 0 if it could not be (its findings are stale).",
        [
            ({"engine": t.get("engine") or "", "target": t.get("name") or "", "kind": t.get("kind") or ""},
             1 if t.get("status") in UP_STATUSES else 0)
            for t in sorted(doc.get("targets") or [], key=lambda t: (t.get("engine") or "", t.get("name") or ""))
            if t.get("status") != "removed"
        ],
    )  # fmt: skip
    out.family(
        "drift_engine_up",
        "1 if the Docker engine answered in the last run.",
        [({"engine": e.get("name") or ""}, 1 if e.get("status") == "up" else 0) for e in doc.get("engines") or []],
    )
    out.family(
        "drift_run_status",
        "1 for the status of the last run (complete, partial: some targets not scanned, failed).",
        [({"status": s}, 1 if run.get("status") == s else 0) for s in RUN_STATUSES],
    )
    out.family(
        "drift_last_run_timestamp_seconds",
        "When the last drift report run finished (Unix time).",
        [({}, _timestamp(run.get("finished")))],
    )
    out.family(
        "drift_last_success_timestamp_seconds",
        "When the last drift report run that recorded its results finished (Unix time; 0 = not known).",
        [({}, _last_success(run))],
    )
    out.family(
        "drift_run_duration_seconds",
        "How long the last drift report run took.",
        [({}, float(run.get("duration_seconds") or 0.0))],
    )
    return "\n".join(out.lines) + "\n"
