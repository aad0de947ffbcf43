"""The states between runs, as a pure function (drift/report/states.py)."""

from __future__ import annotations

from typing import Any

from drift.report.states import fails, state_hash, transition
from drift.store.records import Ack, StoredFinding

NOW = "2026-01-10T00:00:00Z"


def finding(fp: str, actual: Any = "1.0") -> dict[str, Any]:
    return {"fingerprint": fp, "category": "undocumented", "name": fp, "expected": None, "actual": actual}


def stored(fp: str, actual: Any = "1.0", ident: int = 1) -> StoredFinding:
    data = finding(fp, actual)
    return StoredFinding(ident, fp, state_hash(data), data, "2026-01-01T00:00:00Z", 1, "2026-01-09T00:00:00Z")


def ack(fp: str, expires: str | None) -> Ack:
    return Ack(1, None, fp, "known", "ops", "2026-01-01T00:00:00Z", expires)


def states(outcomes: list[Any]) -> dict[str, str]:
    return {o.fingerprint: o.state for o in outcomes}


def test_new_persisting_updated_resolved() -> None:
    previous = {"a": stored("a"), "b": stored("b"), "c": stored("c", ident=3)}
    current = [finding("a"), finding("b", actual="2.0"), finding("d")]
    out = transition("scanned", previous, current, [], NOW)
    assert states(out) == {"a": "persisting", "b": "updated", "c": "resolved", "d": "new"}
    by = {o.fingerprint: o for o in out}
    assert by["d"].stored is None and by["c"].stored is previous["c"]
    assert by["b"].data["actual"] == "2.0"  # the new values travel with an update


def test_error_keeps_everything_stale_and_ignores_what_was_seen() -> None:
    previous = {"a": stored("a"), "b": stored("b")}
    out = transition("error", previous, [finding("z")], [], NOW)
    assert states(out) == {"a": "stale", "b": "stale"}
    assert all(o.stored is not None for o in out)


def test_removed_target_closes_its_findings_as_removed() -> None:
    out = transition("removed", {"a": stored("a")}, [], [], NOW)
    assert states(out) == {"a": "removed"}


def test_acknowledged_until_it_expires_then_new_again() -> None:
    previous = {"a": stored("a")}
    out = transition("scanned", previous, [finding("a")], [ack("a", "2026-02-01T00:00:00Z")], NOW)
    assert states(out) == {"a": "acknowledged"} and out[0].ack is not None
    out = transition("scanned", previous, [finding("a")], [ack("a", "2026-01-05T00:00:00Z")], NOW)
    assert states(out) == {"a": "new"} and out[0].expired_ack is not None
    out = transition("scanned", previous, [finding("a")], [ack("a", None)], NOW)
    assert states(out) == {"a": "acknowledged"}


def test_an_acknowledged_finding_that_goes_away_is_resolved() -> None:
    out = transition("scanned", {"a": stored("a")}, [], [ack("a", None)], NOW)
    assert states(out) == {"a": "resolved"}


def test_a_fingerprint_seen_twice_counts_once() -> None:
    out = transition("scanned", {}, [finding("a"), finding("a")], [], NOW)
    assert len(out) == 1


def test_state_hash_ignores_identity_fields() -> None:
    a = finding("a")
    b = dict(a, fingerprint="other", name="other")
    assert state_hash(a) == state_hash(b)
    assert state_hash(a) != state_hash(dict(a, actual="9"))


def test_fail_on() -> None:
    assert fails(["new"], ("new", "updated"))
    assert not fails(["persisting", "acknowledged", "resolved"], ("new", "updated"))
    assert fails(["persisting"], ("open",))
    assert fails(["stale"], ("open",))
    assert not fails(["acknowledged"], ("open",))
    assert not fails(["new", "updated"], ("none",))
