"""`drift history`: the recorded runs and how the counts moved; `prune` drops old detail."""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
from collections import defaultdict
from typing import Any

from tabulate import tabulate

from drift.report.config import duration
from drift.report.states import OPEN
from drift.store import open_store

_FMT = "%Y-%m-%dT%H:%M:%SZ"


def _ago(seconds: float) -> str:
    return (dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=seconds)).strftime(_FMT)


def collect(store_url: str | None, *, target: str | None, since: str | None) -> dict[str, Any]:
    cutoff = _ago(duration(since, "--since")) if since else ""
    with open_store(store_url, write=False) as store:
        runs = store.runs(since=cutoff)
        counts = store.counts(since=cutoff)
        scans = store.target_runs(since=cutoff)

    def wanted(key: str) -> bool:
        return target is None or fnmatch.fnmatchcase(key, target) or fnmatch.fnmatchcase(key.split("/", 2)[-1], target)

    per_run: dict[int, dict[str, Any]] = defaultdict(
        lambda: {
            "targets": 0,
            "errors": 0,
            "removed": 0,
            "redeployed": 0,
            "open": 0,
            "new": 0,
            "resolved": 0,
            "by_category": defaultdict(int),
        }
    )
    for run, key, status, _, redeployed in scans:
        if wanted(key):
            p = per_run[run]
            p["targets"] += 1
            p["errors"] += status == "error"
            p["removed"] += status == "removed"
            p["redeployed"] += redeployed
    for c in counts:
        if wanted(c.target_key):
            p = per_run[c.run]
            if c.state in OPEN:
                p["open"] += c.count
                p["by_category"][c.category] += c.count
            p["new"] += c.count if c.state == "new" else 0
            p["resolved"] += c.count if c.state in ("resolved", "removed") else 0
    out = []
    for r in runs:
        if target is not None and r.id not in per_run:
            continue
        p = per_run[r.id]
        out.append(
            {
                "run": r.id,
                "started": r.started,
                "finished": r.finished,
                "status": r.status,
                "first_run": r.first_run,
                "exit_code": r.exit_code,
                **p,
                "by_category": dict(p["by_category"]),
            }
        )
    return {"schema": "drift.history/v1", "target": target, "since": cutoff or None, "runs": out}


def show(store_url: str | None, *, target: str | None, since: str | None, fmt: str) -> str:
    data = collect(store_url, target=target, since=since)
    if fmt == "json":
        return json.dumps(data, indent=2) + "\n"
    rows = [
        [
            r["run"],
            r["started"],
            r["status"] + (" (baseline)" if r["first_run"] and r["status"] != "failed" else ""),
            r["targets"],
            r["errors"],
            r["open"],
            r["new"],
            r["resolved"],
            _delta(data["runs"], i),
        ]
        for i, r in enumerate(data["runs"])
    ]
    if not rows:
        return "no runs recorded" + (f" for {target}" if target else "") + "\n"
    head = ["run", "started", "status", "targets", "errors", "open", "new", "resolved", "change"]
    return tabulate(rows, headers=head, tablefmt="simple") + "\n"


def _delta(runs: list[dict[str, Any]], i: int) -> str:
    if i == 0:
        return ""
    d = runs[i]["open"] - runs[i - 1]["open"]
    return f"{d:+d}" if d else "="


def prune(store_url: str | None, keep: str) -> str:
    cutoff = _ago(duration(keep, "--keep"))
    with open_store(store_url, create=False) as store:
        dropped = store.prune(cutoff)
    parts = ", ".join(f"{n} {what.replace('_', ' ')}" for what, n in dropped.items())
    return f"pruned detail older than {cutoff} ({parts}); runs and trend counts kept"
