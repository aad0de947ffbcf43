"""What a person sees on a terminal: a progress bar on stderr, then a short summary.

One line for the run, one per target with changes (new, updated, resolved, errors,
removed, redeployed), then the new and updated findings. `--quiet` shows nothing but errors.
"""

from __future__ import annotations

import sys
from typing import Any

from drift.model import short_id

_MAX_FINDINGS = 50
# Names come from inside containers and images (untrusted): no control character reaches the terminal.
_CONTROL = {c: f"\\x{c:02x}" for c in [*range(0x20), 0x7F]}


class Bar:
    """A rich progress bar over targets, on stderr, only when stderr is a terminal."""

    def __init__(self) -> None:
        self._progress: Any = None
        self._task: Any = None

    def start(self, total: int) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            TextColumn("drift report"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.description}"),
            console=Console(file=sys.stderr),
            transient=True,
        )
        self._progress.start()
        self._task = self._progress.add_task("", total=total)

    def step(self, label: str) -> None:
        if self._progress is not None:
            task = self._progress.tasks[0]
            if task.description:
                self._progress.advance(self._task)
            self._progress.update(self._task, description=label)

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def safe(text: str) -> str:
    return text.translate(_CONTROL)


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
    if isinstance(v, dict):
        return " ".join(f"{k}={v[k]}" for k in ("change", "kind", "mode") if k in v)
    return "-" if v is None else str(v)


def summary(doc: dict[str, Any]) -> str:
    run, s = doc["run"], doc["summary"]
    st = s["by_state"]
    head = f"drift report: run {run['id']} ({run['status']}"
    head += ", first run: baseline recorded)" if run["first_run"] else f", previous run {run['previous_run']})"
    lines = [
        head,
        f"  {s['targets']} target(s): {s['scanned']} scanned, {s['errors']} error(s), {s['removed']} removed; "
        f"findings: {st['new']} new, {st['updated']} updated, {st['persisting']} persisting, "
        f"{st['resolved']} resolved, {st['stale']} stale, {st['acknowledged']} acknowledged",
    ]
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
    for t in doc["targets"]:
        if not _changed(t):
            continue
        extra = []
        if t["redeployed"]:
            extra.append(f"redeployed ({short_id(t['id'])})")
        if t["error"]:
            extra.append(f"error: {t['error']}")
        counts = _counts(t)
        label = f"  {t['kind']} {t['name']}: {t['status']}"
        lines.append(label + "".join(f", {x}" for x in [counts, *extra] if x))
    shown = [f for f in doc["findings"] if f["state"] in ("new", "updated")]
    if shown:
        lines.append("")
        for f in shown[:_MAX_FINDINGS]:
            what = f"{f['category']} {f['manager'] + ' ' if f['manager'] else ''}{f['name']}"
            lines.append(
                f"  {f['state']:<8} {f['target']}: {what} ({_value(f['expected'])} -> {_value(f['actual'])})"
                f"  [{f['fingerprint']}]"
            )
        if len(shown) > _MAX_FINDINGS:
            lines.append(f"  ... and {len(shown) - _MAX_FINDINGS} more (see -o json:PATH)")
    return "\n".join(line.translate(_CONTROL) for line in lines) + "\n"
