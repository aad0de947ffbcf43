"""Rows as frozen values: what the store hands back to the report (never cursors)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class TargetRow:
    id: int
    engine: str
    kind: str
    name: str
    image: str | None
    image_id: str | None
    labels: dict[str, str]
    baseline: dict[str, Any] | None
    last_status: str | None
    last_ok_run: int | None
    instance: str | None = None  # a container's id: recorded, never a key
    scan_key: str | None = None  # signature of what the last full scan read

    @property
    def key(self) -> str:
        return f"{self.engine}/{self.kind}/{self.name}"


@dataclass(frozen=True, slots=True)
class StoredFinding:
    id: int
    fingerprint: str
    state_hash: str
    data: dict[str, Any]
    first_seen: str
    first_seen_run: int
    last_seen: str


@dataclass(frozen=True, slots=True)
class Ack:
    id: int
    target: int | None
    fingerprint: str
    reason: str
    by: str | None
    created: str
    expires: str | None

    def to_json(self) -> dict[str, Any]:
        return {"reason": self.reason, "expires": self.expires, "by": self.by}


@dataclass(frozen=True, slots=True)
class RunRow:
    id: int
    started: str
    finished: str | None
    status: str
    first_run: bool
    exit_code: int | None
    selection: str


@dataclass(frozen=True, slots=True)
class CountRow:
    run: int
    finished: str | None
    engine: str
    target_key: str
    category: str
    state: str
    count: int
