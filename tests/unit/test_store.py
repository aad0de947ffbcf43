"""The history store (drift/store): schema, migrations, backups, locking, damaged files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from drift.store import StoreBusy, StoreError, open_store, parse_url, schema
from drift.store.lock import exclusive


def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'h.sqlite'}"


def test_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_url("sqlite:////var/lib/drift/h.sqlite").path == "/var/lib/drift/h.sqlite"
    assert parse_url("sqlite:///rel/h.sqlite").path == str(Path.cwd() / "rel" / "h.sqlite")
    assert parse_url(str(tmp_path / "x.db")).path == str(tmp_path / "x.db")
    monkeypatch.setenv("DRIFT_STORE", str(tmp_path / "env.sqlite"))
    assert parse_url(None).path == str(tmp_path / "env.sqlite")
    monkeypatch.delenv("DRIFT_STORE")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert parse_url(None).path == str(tmp_path / "state" / "drift" / "history.sqlite")
    pg = parse_url("postgresql://drift:s3cret@db/drift?sslmode=require&password=other")
    assert pg.dialect.name == "postgresql" and "s3cret" not in pg.path and "other" not in pg.path
    with pytest.raises(StoreError, match="unknown scheme"):
        parse_url("mysql://x/y")


def test_new_store_has_schema_wal_and_version(tmp_path: Path) -> None:
    with open_store(url(tmp_path)) as store:
        run = store.begin_run(started="2026-01-01T00:00:00Z", version="t", selection="s", options={}, host="h")
        assert run == 1
    conn = sqlite3.connect(tmp_path / "h.sqlite")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] == schema.LATEST


def test_reading_a_missing_store_says_so(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no history store"), open_store(url(tmp_path), write=False):
        pass
    assert not (tmp_path / "h.sqlite").exists()


@pytest.mark.parametrize(
    "content",
    [b"this is not a database at all\n" * 100, b"SQLite format 3\x00" + b"\xff" * 5000],
)
def test_damaged_store_is_refused_and_left_as_it_was(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "h.sqlite"
    path.write_bytes(content)
    with pytest.raises(StoreError) as err, open_store(url(tmp_path)):
        pass
    assert "left as it is" in str(err.value) and "\n" not in str(err.value)
    assert path.read_bytes() == content
    assert not (tmp_path / "h.sqlite-wal").exists()


def test_foreign_sqlite_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE mine (x)")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="not a drift history store"), open_store(url(tmp_path)):
        pass
    assert path.read_bytes() == before


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    with open_store(url(tmp_path)):
        pass
    conn = sqlite3.connect(tmp_path / "h.sqlite")
    conn.execute("INSERT INTO schema_migrations VALUES (999, 'x')")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer than this drift"), open_store(url(tmp_path)):
        pass


def test_upgrade_in_place_backs_up_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with open_store(url(tmp_path)) as store:
        store.begin_run(started="2026-01-01T00:00:00Z", version="t", selection="s", options={}, host="h")
    extra = (schema.LATEST + 1, "test column", ["ALTER TABLE runs ADD COLUMN note TEXT"])
    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, extra])
    monkeypatch.setattr("drift.store.migrate.MIGRATIONS", schema.MIGRATIONS)
    monkeypatch.setattr("drift.store.migrate.LATEST", schema.LATEST + 1)
    with open_store(url(tmp_path)) as store:
        assert store.conn.execute("SELECT count(note) FROM runs").fetchone()[0] == 0
    backups = list(tmp_path.glob(f"h.sqlite.bak-v{schema.LATEST}-*"))
    assert len(backups) == 1
    old = sqlite3.connect(backups[0])
    assert old.execute("SELECT count(*) FROM runs").fetchone()[0] == 1
    assert "note" not in [r[1] for r in old.execute("PRAGMA table_info(runs)")]


def test_second_writer_waits_then_gives_up_with_one_line(tmp_path: Path) -> None:
    path = str(tmp_path / "h.sqlite")
    with (
        exclusive(path, timeout=1, what="the test store"),
        pytest.raises(StoreBusy) as err,
        open_store(url(tmp_path), lock_timeout=0.5),
    ):
        pass
    assert "in use by another drift process" in str(err.value) and "--lock-timeout" in str(err.value)
    with open_store(url(tmp_path), lock_timeout=0.5):
        pass  # free again once the holder is gone


def _seed(store, run_started: str) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    run = store.begin_run(started=run_started, version="t", selection="s", options={}, host="h")
    engine = store.engine("default", "unix:///x", "ID", run_started)
    target = store.target(engine, "container", "web")
    return run, target.id


def test_findings_lifecycle_and_prune_keeps_trend_counts(tmp_path: Path) -> None:
    with open_store(url(tmp_path)) as store:
        run1, tid = _seed(store, "2020-01-01T00:00:00Z")
        with store.transaction():
            fid = store.add_finding(run1, tid, "fp1", "file", "h1", {"name": "/etc/x"}, "2020-01-01T00:00:00Z")
            store.finding_state(run1, fid, "new")
            store.add_counts(run1, tid, {("file", "new"): 1})
        store.finish_run(run1, finished="2020-01-01T00:01:00Z", status="complete", first_run=True, exit_code=0)
        assert set(store.open_findings(tid)) == {"fp1"}
        run2 = store.begin_run(started="2020-01-02T00:00:00Z", version="t", selection="s", options={}, host="h")
        with store.transaction():
            store.close_finding(fid, run2, "resolved")
            store.finding_state(run2, fid, "resolved")
            store.add_counts(run2, tid, {("file", "resolved"): 1})
        store.finish_run(run2, finished="2020-01-02T00:01:00Z", status="complete", first_run=False, exit_code=0)
        assert store.open_findings(tid) == {}
        assert store.previous_run("s", run2 + 1).id == run2  # type: ignore[union-attr]
        dropped = store.prune("2021-01-01T00:00:00Z")
        assert dropped["findings"] == 1 and dropped["finding_states"] == 2
        counts = store.counts()
        assert [(c.run, c.state, c.count) for c in counts] == [(run1, "new", 1), (run2, "resolved", 1)]
        assert [r.id for r in store.runs()] == [run1, run2]


def test_one_open_row_per_target_and_fingerprint(tmp_path: Path) -> None:
    with open_store(url(tmp_path)) as store:
        run, tid = _seed(store, "2026-01-01T00:00:00Z")
        store.add_finding(run, tid, "fp", "file", "h", {}, "2026-01-01T00:00:00Z")
        with pytest.raises(sqlite3.IntegrityError):
            store.add_finding(run, tid, "fp", "file", "h", {}, "2026-01-01T00:00:00Z")


def test_a_version_1_store_is_upgraded_to_the_latest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as m:
        m.setattr("drift.store.migrate.MIGRATIONS", schema.MIGRATIONS[:1])
        m.setattr("drift.store.migrate.LATEST", 1)
        with open_store(url(tmp_path)) as store:  # a store as drift wrote it before migration 2
            engine = store.engine("default", "unix:///x", "ID", "2026-01-01T00:00:00Z")
            tid = store.conn.execute(
                "INSERT INTO targets (engine, kind, name) VALUES (?, 'container', 'web') RETURNING id", (engine,)
            ).fetchone()[0]
    with open_store(url(tmp_path)) as store:
        (row,) = store.targets()
        assert row.id == tid and row.scan_key is None
        assert store.conn.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] == schema.LATEST
    assert len(list(tmp_path.glob("h.sqlite.bak-v1-*"))) == 1


def test_ack_by_target_glob_covers_its_open_findings_only(tmp_path: Path) -> None:
    from drift.errors import DriftError
    from drift.report.acks import acknowledge

    with open_store(url(tmp_path)) as store:
        run, web = _seed(store, "2026-01-01T00:00:00Z")
        db = store.target(store.engine("default", "unix:///x", "ID", None), "container", "db").id
        with store.transaction():
            for tid, fp in ((web, "a"), (web, "b"), (db, "c")):
                store.add_finding(run, tid, fp, "file", "h", {}, "2026-01-01T00:00:00Z")
            closed = store.add_finding(run, web, "z", "file", "h", {}, "2026-01-01T00:00:00Z")
            store.close_finding(closed, run, "resolved")
    message = acknowledge(url(tmp_path), fingerprint=None, target="we*", reason="rebuilding", expires="7d")
    assert message.startswith("acknowledged 2 finding(s) on 1 target(s) until ")
    with open_store(url(tmp_path)) as store:
        assert sorted(a.fingerprint for a in store.acks(web)) == ["a", "b"]
        assert store.acks(db) == []
        assert all(a.expires and a.expires > "2026" and a.reason == "rebuilding" for a in store.acks(web))
    with pytest.raises(DriftError, match="no open finding with fingerprint z"):
        acknowledge(url(tmp_path), fingerprint="z", target=None, reason="x", expires=None)


def test_readers_do_not_wait_for_the_writer(tmp_path: Path) -> None:
    with open_store(url(tmp_path)) as store:
        store.begin_run(started="2026-01-01T00:00:00Z", version="t", selection="s", options={}, host="h")
    with exclusive(str(tmp_path / "h.sqlite"), timeout=1, what="a running report"):
        with open_store(url(tmp_path), write=False, lock_timeout=0.2) as store:
            assert [r.id for r in store.runs()] == [1]
        with pytest.raises(StoreBusy), open_store(url(tmp_path), create=False, lock_timeout=0.2):
            pass  # drift ack writes: it waits for its turn


def test_prune_keeps_which_targets_each_run_saw(tmp_path: Path) -> None:
    """`drift history` counts a run's targets (and a target's runs) after old detail is pruned,
    also for a target with no finding (it has no trend count row)."""
    from drift.report.history import collect

    with open_store(url(tmp_path)) as store:
        run, _ = _seed(store, "2020-01-01T00:00:00Z")
        row = store.target(store.engine("default", "unix:///x", "ID", None), "container", "web")
        with store.transaction():
            store.record_target(
                run,
                row,
                status="error",
                image="app:1",
                image_id="sha256:1",
                instance="c1",
                labels={},
                redeployed=False,
                error="cannot read",
                compared_with="its image",
                baseline=None,
            )
        store.finish_run(run, finished="2020-01-01T00:01:00Z", status="partial", first_run=True, exit_code=2)
        run2 = store.begin_run(started="2020-01-02T00:00:00Z", version="t", selection="s", options={}, host="h")
        with store.transaction():
            store.record_target(
                run2,
                row,
                status="scanned",
                image="app:1",
                image_id="sha256:1",
                instance="c1",
                labels={},
                redeployed=False,
                error=None,
                compared_with="its image",
                baseline=None,
            )
        store.finish_run(run2, finished="2020-01-02T00:01:00Z", status="complete", first_run=False, exit_code=0)
    before = collect(url(tmp_path), target=None, since=None)["runs"]
    with open_store(url(tmp_path)) as store:
        dropped = store.prune("2021-01-01T00:00:00Z")
        assert dropped["target_run_details"] == 1  # the old run's error text; the last run's stays whole
    after = collect(url(tmp_path), target=None, since=None)["runs"]
    assert [(r["run"], r["targets"], r["errors"]) for r in after] == [(run, 1, 1), (run2, 1, 0)]
    assert after == before
    assert [r["run"] for r in collect(url(tmp_path), target="web", since=None)["runs"]] == [run, run2]
