"""Trend points from the stored per-run counts (they survive `drift history prune`)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from drift.model import FINDING_CATEGORIES
from drift.report.states import OPEN
from drift.store.records import CountRow


def _point(run: int, finished: str | None, rows: list[CountRow]) -> dict[str, Any]:
    by_cat = dict.fromkeys(FINDING_CATEGORIES, 0)
    point: dict[str, Any] = {"run": run, "finished": finished, "open": 0, "new": 0, "resolved": 0}
    for r in rows:
        if r.state in OPEN:
            point["open"] += r.count
            by_cat[r.category] = by_cat.get(r.category, 0) + r.count
        if r.state == "new":
            point["new"] += r.count
        if r.state in ("resolved", "removed"):
            point["resolved"] += r.count
    point["by_category"] = by_cat
    return point


def build(rows: list[CountRow], engines: set[str], targets: set[str], runs: list[tuple[int, str | None]]) -> dict:
    """Points for the given engines and target keys, oldest first. `runs` lists every run to
    show (a run where a target had no finding still gives a point with zeros)."""
    per_engine: dict[tuple[str, int], list[CountRow]] = defaultdict(list)
    per_target: dict[tuple[str, int], list[CountRow]] = defaultdict(list)
    for r in rows:
        if r.engine in engines:
            per_engine[(r.engine, r.run)].append(r)
        if r.target_key in targets:
            per_target[(r.target_key, r.run)].append(r)
    out: dict[str, Any] = {"engines": {}, "targets": {}}
    for name in sorted(engines):
        out["engines"][name] = [_point(run, fin, per_engine.get((name, run), [])) for run, fin in runs]
    for key in sorted(targets):
        out["targets"][key] = [_point(run, fin, per_target.get((key, run), [])) for run, fin in runs]
    return out
