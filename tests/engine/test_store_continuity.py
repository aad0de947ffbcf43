"""A workload's replaced pod hands its open findings and acknowledgements to the new pod
(drift.report.run), in both store kinds: SQLite and a real PostgreSQL server."""

from __future__ import annotations

from drift.store import open_store


def test_open_findings_move_to_the_new_pod_closed_ones_stay(store_url: str) -> None:
    with open_store(store_url) as store:
        run = store.begin_run(started="2026-01-01T00:00:00Z", version="t", selection="s", options={}, host="h")
        engine = store.engine("node-1", "containerd:///x", "ID", "2026-01-01T00:00:00Z")
        old = store.target(engine, "container", "shop/web-7d9f8b6c4-x2kz9/app")
        new = store.target(engine, "container", "shop/web-5c4b7d6f9-lm2np/app")
        with store.transaction():
            kept = store.add_finding(run, old.id, "fp-open", "file", "h", {"name": "/etc/a"}, "2026-01-01T00:00:00Z")
            gone = store.add_finding(run, old.id, "fp-closed", "file", "h", {"name": "/etc/b"}, "2026-01-01T00:00:00Z")
            store.close_finding(gone, run, "resolved")
        with store.transaction():
            moved = store.move_open_findings(old.id, new.id)
        assert moved == 1
        assert store.open_findings(old.id) == {}
        found = store.open_findings(new.id)
        assert set(found) == {"fp-open"} and found["fp-open"].id == kept
        assert found["fp-open"].first_seen_run == run  # its first sighting goes with it
