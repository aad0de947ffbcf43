"""The `drift.report/v1` document: one plain dict every renderer reads (see
the README section on `drift report` and its JSON schema). Built here from the states of
one run; renderers never see the store or Docker."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from drift.model import FINDING_CATEGORIES
from drift.report.states import OPEN, STATES, Outcome
from drift.severity import SEVERITIES, rate_json

SCHEMA = "drift.report/v1"
_ORDER = {s: i for i, s in enumerate(("new", "updated", "stale", "acknowledged", "persisting", "resolved", "removed"))}


@dataclass(slots=True)
class TargetDoc:
    engine: str
    kind: str
    name: str
    id: str | None
    image: str | None
    status: str
    compared_with: str
    redeployed: bool = False
    error: str | None = None
    context: dict[str, Any] = field(default_factory=dict)
    reused: bool = False
    continues: str | None = None  # the replaced pod of the same workload whose history it goes on with

    def to_json(self, counts: dict[str, int]) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "kind": self.kind,
            "name": self.name,
            "id": self.id,
            "image": self.image,
            "status": self.status,
            "redeployed": self.redeployed,
            "error": self.error,
            "compared_with": self.compared_with,
            "context": self.context,
            "counts": counts,
            "reused": self.reused,
            "continues": self.continues,
        }


def target_counts(outcomes: list[Outcome]) -> dict[str, int]:
    by: Counter[str] = Counter(o.state for o in outcomes)
    counts = {"open": sum(by[s] for s in OPEN)}
    counts.update({s: by[s] for s in ("new", "updated", "persisting", "resolved", "stale", "acknowledged", "removed")})
    return counts


def finding_json(t: TargetDoc, o: Outcome, *, now: str, run: int) -> dict[str, Any]:
    seen_now = o.state in ("new", "updated", "persisting", "acknowledged")
    out = dict(o.data)
    out.update(
        {
            "engine": t.engine,
            "target": t.name,
            "target_kind": t.kind,
            "state": o.state,
            "first_seen": o.stored.first_seen if o.stored and o.state != "new" else now,
            "first_seen_run": o.stored.first_seen_run if o.stored and o.state != "new" else run,
            "last_seen": now if seen_now or not o.stored else o.stored.last_seen,
            "ack": o.ack.to_json() if o.ack else None,
            # rated now, by today's table, for a stored finding too (older rows have none)
            "severity": rate_json(out),
        }
    )
    return out


def sort_findings(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    cat = {c: i for i, c in enumerate(FINDING_CATEGORIES)}
    return sorted(
        findings,
        key=lambda f: (
            _ORDER.get(f["state"], 99),
            f["engine"],
            f["target_kind"],
            f["target"],
            cat.get(f["category"], 99),
            f.get("name") or "",
            f.get("location") or "",
        ),
    )


def summary(targets: list[dict[str, Any]], findings: list[dict[str, Any]]) -> dict[str, Any]:
    by_state = Counter(f["state"] for f in findings)
    by_cat = Counter(f["category"] for f in findings if f["state"] in OPEN)
    by_sev = Counter(f["severity"] for f in findings if f["state"] in OPEN)
    statuses = Counter(t["status"] for t in targets)
    return {
        "targets": len(targets),
        "scanned": statuses["scanned"] + statuses["new"],
        "errors": statuses["error"],
        "removed": statuses["removed"],
        "by_state": {s: by_state[s] for s in STATES},
        "by_category": {c: by_cat[c] for c in FINDING_CATEGORIES},
        "by_severity": {s: by_sev[s] for s in SEVERITIES},
    }
