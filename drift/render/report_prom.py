"""Prometheus text format for node_exporter's textfile collector, from a drift.report/v1 document.

Series are per workload, not per container (drift.report.workload: a Kubernetes pod's
containers are counted under their Deployment, StatefulSet or DaemonSet, so a rollout does not
make new series; a Docker container is a workload of its own), and only findings that exist
are written: a count that would be 0 is left out. `drift_workload_targets` is always written
for every workload of the run, so `absent()` and a missing count still tell "no data" from
"no drift". A node of N pods in W workloads writes 3 series per workload, 7 for the run and the
engine, and one per (workload, category, severity, state) that has findings: 3W + 7 when nothing
drifted. Write the file atomically (drift does) into the collector's folder.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from drift.render.report_common import SEVERITY_LEVELS, STATES, severity_of
from drift.report import workload as workloads_mod

RUN_STATUSES = ("complete", "partial", "failed")


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
    """Non-zero counts per workload, category, severity and state, summed over its targets."""
    workloads = {
        (t.get("engine") or "", t.get("name") or ""): workloads_mod.key_of(t) for t in doc.get("targets") or []
    }
    counts: dict[tuple[str, str, str, str, str, str], int] = {}
    for f in doc.get("findings") or []:
        engine, target = f.get("engine") or "", f.get("target") or ""
        _, kind, workload = workloads.get((engine, target), (engine, f.get("kind") or "", target))
        key = (engine, workload, kind, f.get("category") or "", severity_of(f), f.get("state") or "")
        counts[key] = counts.get(key, 0) + 1
    order = {s: i for i, s in enumerate(SEVERITY_LEVELS)}
    states = {s: i for i, s in enumerate(STATES)}
    out: list[tuple[dict[str, Any], float]] = []
    for (engine, workload, kind, category, sev, state), n in sorted(
        counts.items(), key=lambda kv: (kv[0][:3], kv[0][3], order.get(kv[0][4], 99), states.get(kv[0][5], 99))
    ):
        labels = {"engine": engine, "workload": workload, "kind": kind, "category": category,
                  "severity": sev, "state": state}  # fmt: skip
        out.append((labels, n))
    return out


def _workload_samples(doc: dict[str, Any]) -> dict[str, list[tuple[dict[str, Any], float]]]:
    """Per workload: its targets in the run, those scanned, those with open findings."""
    out: dict[str, list[tuple[dict[str, Any], float]]] = {"targets": [], "up": [], "drifted": []}
    for (engine, kind, workload), (n, up, bad) in workloads_mod.groups(doc).items():
        labels = {"engine": engine, "workload": workload, "kind": kind}
        out["targets"].append((labels, n))
        out["up"].append((labels, up))
        out["drifted"].append((labels, bad))
    return out


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
        "Findings of the last drift report run per workload, category, severity and state; zeros are left out.",
        _finding_samples(doc),
    )
    per_workload = _workload_samples(doc)
    out.family(
        "drift_workload_targets",
        "Targets (containers, replicas; images) of the workload in the last run.",
        per_workload["targets"],
    )
    out.family(
        "drift_workload_up",
        "Targets of the workload scanned in the last run; the others could not be (their findings are stale).",
        per_workload["up"],
    )
    out.family(
        "drift_workload_drifted",
        "Targets of the workload with open findings (new, updated, persisting or stale) in the last run.",
        per_workload["drifted"],
    )
    out.family(
        "drift_engine_up",
        "1 if the engine answered in the last run.",
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
