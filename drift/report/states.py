"""The states of findings between runs: a pure function of what was open and what is seen.

Per (target, fingerprint), against the target's last successful scan:

    new           seen now, not open before (or its acknowledgement expired)
    updated       open before, seen now with another expected/actual
    persisting    open before, seen now unchanged
    resolved      open before, the target was scanned fine and the finding is gone
    stale         open before, the target could not be scanned: carried forward, never resolved
    acknowledged  seen now, and someone acknowledged it (the acknowledgement has not expired)
    removed       open before, the target itself is gone from the engine
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal

from drift.store.records import Ack, StoredFinding

State = Literal["new", "updated", "persisting", "resolved", "stale", "acknowledged", "removed"]
STATES: tuple[str, ...] = ("new", "updated", "persisting", "resolved", "stale", "acknowledged", "removed")
OPEN: tuple[str, ...] = ("new", "updated", "persisting", "stale", "acknowledged")
Scan = Literal["scanned", "error", "removed"]


@dataclass(frozen=True, slots=True)
class Outcome:
    fingerprint: str
    state: State
    data: dict[str, Any]  # the finding's JSON (as seen now, or as last stored)
    state_hash: str
    stored: StoredFinding | None  # the open row it continues, if any
    ack: Ack | None = None  # the acknowledgement in force
    expired_ack: Ack | None = None  # an acknowledgement that expired at this run


def state_hash(data: dict[str, Any]) -> str:
    """What an `updated` compares: the finding's values, not its identity."""
    keep = {k: data.get(k) for k in ("expected", "actual", "explained_by", "detail", "line")}
    return hashlib.sha256(json.dumps(keep, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _acks_by_fingerprint(acks: list[Ack], now: str) -> tuple[dict[str, Ack], dict[str, Ack]]:
    active: dict[str, Ack] = {}
    expired: dict[str, Ack] = {}
    for ack in acks:
        if ack.expires is not None and ack.expires <= now:
            expired[ack.fingerprint] = ack
        else:
            active[ack.fingerprint] = ack
    return active, expired


def transition(
    scan: Scan,
    previous: dict[str, StoredFinding],
    current: list[dict[str, Any]],
    acks: list[Ack],
    now: str,
) -> list[Outcome]:
    """Outcomes for one target. `current` holds the findings seen now (JSON, each with a
    `fingerprint`); it is ignored unless the target was scanned."""
    if scan == "error":
        return [Outcome(fp, "stale", s.data, s.state_hash, s) for fp, s in sorted(previous.items())]
    if scan == "removed":
        return [Outcome(fp, "removed", s.data, s.state_hash, s) for fp, s in sorted(previous.items())]
    active, expired = _acks_by_fingerprint(acks, now)
    out: list[Outcome] = []
    seen: set[str] = set()
    for data in current:
        fp = data["fingerprint"]
        if fp in seen:
            continue
        seen.add(fp)
        digest = state_hash(data)
        old = previous.get(fp)
        if fp in active:
            out.append(Outcome(fp, "acknowledged", data, digest, old, ack=active[fp]))
        elif fp in expired:
            out.append(Outcome(fp, "new", data, digest, old, expired_ack=expired[fp]))
        elif old is None:
            out.append(Outcome(fp, "new", data, digest, None))
        elif old.state_hash != digest:
            out.append(Outcome(fp, "updated", data, digest, old))
        else:
            out.append(Outcome(fp, "persisting", data, digest, old))
    for fp, old in sorted(previous.items()):
        if fp not in seen:
            out.append(Outcome(fp, "resolved", old.data, old.state_hash, old))
    return out


def fails(outcomes_states: list[str], fail_on: tuple[str, ...], severities: list[str] | None = None) -> bool:
    """Whether findings in these states fail the run (`open` = any open state but acknowledged).

    With `severity:LEVEL` in FAIL_ON, only findings that serious or more count (SEVERITIES: each
    state's finding's severity, in the same order); the states are then the other values, or
    new,updated when none is given."""
    from drift.severity import at_least, split_fail_on

    listed, floor = split_fail_on(fail_on)
    if "none" in listed:
        return False
    wanted = set(listed or ("new", "updated"))
    if "open" in wanted:
        wanted |= {"new", "updated", "persisting", "stale"}
    if floor is None:
        return any(s in wanted for s in outcomes_states)
    if severities is None or len(severities) != len(outcomes_states):
        raise ValueError("fails: severity:LEVEL needs the severity of every finding")
    return any(s in wanted and at_least(sev, floor) for s, sev in zip(outcomes_states, severities, strict=True))
