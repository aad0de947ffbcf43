"""What every report output shares: state order, the changes of a run, why a run is incomplete.

Input is the `drift.report/v1` document (a plain dict, see drift/report); nothing here sees
the store or Docker.
"""

from __future__ import annotations

import json
from typing import Any

from drift.model import FINDING_CATEGORIES
from drift.severity import RANK, SEVERITIES, rate_json

# Most urgent first: this is the order findings are listed in every output.
STATES: tuple[str, ...] = ("new", "updated", "stale", "persisting", "acknowledged", "resolved", "removed")
# A run's changes: what a person was not told about before.
CHANGE_STATES: tuple[str, ...] = ("new", "updated", "resolved")
CATEGORIES: tuple[str, ...] = FINDING_CATEGORIES
SEVERITY_LEVELS: tuple[str, ...] = SEVERITIES  # most serious first
OPEN_STATES: frozenset[str] = frozenset({"new", "updated", "persisting", "stale", "acknowledged"})

_STATE_RANK = {s: i for i, s in enumerate(STATES)}
_CAT_RANK = {c: i for i, c in enumerate(CATEGORIES)}


def target_key(engine: str, kind: str, name: str) -> str:
    """The key of a target in `doc["trends"]["targets"]`."""
    return f"{engine}/{kind}/{name}"


def finding_target_key(f: dict[str, Any]) -> str:
    return target_key(f.get("engine") or "", f.get("target_kind") or "container", f.get("target") or "")


def severity_of(f: dict[str, Any]) -> str:
    """The finding's severity (a document written before drift rated findings has none: rated here)."""
    return str(f.get("severity") or rate_json(f))


def sort_findings(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The order a person reads them in: open ones before resolved and removed, the most
    serious first, then new before updated ..., then by category and name."""
    return sorted(
        findings,
        key=lambda f: (
            f.get("state") in ("resolved", "removed"),
            RANK.get(severity_of(f), len(RANK)),
            _STATE_RANK.get(f.get("state") or "", len(STATES)),
            _CAT_RANK.get(f.get("category") or "", len(CATEGORIES)),
            f.get("manager") or "",
            f.get("name") or "",
            f.get("location") or "",
        ),
    )


def findings_by_target(doc: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for f in doc.get("findings") or []:
        out.setdefault(finding_target_key(f), []).append(f)
    return {key: sort_findings(items) for key, items in out.items()}


def sorted_targets(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Targets with trouble or changes first, then by engine, kind and name."""

    def rank(t: dict[str, Any]) -> tuple[int, str, str, str]:
        counts = t.get("counts") or {}
        if t.get("status") == "error":
            first = 0
        elif any(counts.get(s) for s in CHANGE_STATES):
            first = 1
        else:
            first = 2
        return (first, t.get("engine") or "", t.get("kind") or "", t.get("name") or "")

    return sorted(doc.get("targets") or [], key=rank)


def value_text(value: Any) -> str:
    """A finding's expected/actual value as one short line."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items() if v is not None)
    return json.dumps(value, ensure_ascii=False)


def subject(f: dict[str, Any]) -> str:
    """`apt curl`, `pip requests`, or the name alone (a file, a config key)."""
    return f"{f['manager']} {f['name']}" if f.get("manager") else str(f.get("name") or "")


def describe(f: dict[str, Any]) -> str:
    """One line for a finding, without its fix: `version: apt openssl 3.0.15 -> 3.0.17`."""
    expected, actual = value_text(f.get("expected")), value_text(f.get("actual"))
    text = f"{f.get('category')}: {subject(f)}"
    if expected and actual:
        text += f" {expected} -> {actual}"
    elif actual:
        text += f" {actual}"
    elif expected:
        text += f" (expected {expected})"
    if f.get("explained_by"):
        text += f" (pulled in by {f['explained_by']})"
    return text


def changes(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The findings a run has news about (new, updated, resolved): new first, then by target."""
    news = sort_findings([f for f in doc.get("findings") or [] if f.get("state") in CHANGE_STATES])
    return sorted(news, key=lambda f: (_STATE_RANK.get(f.get("state") or "", 0), finding_target_key(f)))


def errors(doc: dict[str, Any]) -> list[dict[str, str]]:
    """Engines down and targets that could not be scanned, one line each."""
    out = [
        {"engine": e.get("name") or "", "target": "", "error": e.get("error") or "engine down"}
        for e in doc.get("engines") or []
        if e.get("status") == "down"
    ]
    out += [
        {"engine": t.get("engine") or "", "target": t.get("name") or "", "error": t.get("error") or "not scanned"}
        for t in doc.get("targets") or []
        if t.get("status") == "error"
    ]
    return out


def incomplete_reasons(doc: dict[str, Any]) -> list[str]:
    """Why this run does not tell the whole story (empty when it does)."""
    run = doc.get("run") or {}
    reasons = []
    if run.get("status") not in (None, "complete"):
        reasons.append(f"run {run.get('id')} is {run.get('status')}")
    for e in errors(doc):
        where = f"{e['engine']}/{e['target']}" if e["target"] else f"engine {e['engine']}"
        reasons.append(f"{where}: {e['error']}")
    return reasons


def state_counts(doc: dict[str, Any]) -> dict[str, int]:
    by_state = (doc.get("summary") or {}).get("by_state") or {}
    return {s: int(by_state.get(s) or 0) for s in STATES}


def open_count(doc: dict[str, Any]) -> int:
    counts = state_counts(doc)
    return sum(counts[s] for s in OPEN_STATES)
