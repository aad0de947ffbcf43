"""The queries the report needs: one method each, values in, frozen rows out.

Writes happen in short transactions (`transaction()`), one per target, so an interrupted
run keeps what it had recorded and never leaves a half-written target.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator
from typing import Any

from drift.store.dialect import Dialect
from drift.store.records import Ack, CountRow, RunRow, StoredFinding, TargetRow

OPEN_STATES = ("new", "updated", "persisting", "stale", "acknowledged")


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


class Store:
    def __init__(self, conn: Any, dialect: Dialect, where: str) -> None:
        self.conn = conn
        self.dialect = dialect
        self.where = where

    def _x(self, sql: str, params: Iterable[Any] = ()) -> Any:
        return self.conn.execute(self.dialect.sql(sql), tuple(params))

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        self.conn.execute(self.dialect.begin)
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # ---- runs -------------------------------------------------------------------------
    def begin_run(self, *, started: str, version: str, selection: str, options: dict[str, Any], host: str) -> int:
        with self.transaction():
            row = self._x(
                "INSERT INTO runs (started, status, drift_version, selection, options, host)"
                " VALUES (?, 'running', ?, ?, ?, ?) RETURNING id",
                (started, version, selection, _dumps(options), host),
            ).fetchone()
        return int(row[0])

    def finish_run(self, run: int, *, finished: str, status: str, first_run: bool, exit_code: int) -> None:
        with self.transaction():
            self._x(
                "UPDATE runs SET finished = ?, status = ?, first_run = ?, exit_code = ? WHERE id = ?",
                (finished, status, int(first_run), exit_code, run),
            )

    def previous_run(self, selection: str, before: int) -> RunRow | None:
        """The last run of this selection that scanned something (a failed run saw nothing)."""
        row = self._x(
            "SELECT id, started, finished, status, first_run, exit_code, selection FROM runs"
            " WHERE selection = ? AND id < ? AND status IN ('complete', 'partial') ORDER BY id DESC LIMIT 1",
            (selection, before),
        ).fetchone()
        return _run(row) if row else None

    def runs_of_selection(self, selection: str, *, limit: int = 200) -> list[tuple[int, str | None]]:
        rows = self._x(
            "SELECT id, finished FROM runs WHERE selection = ? ORDER BY id DESC LIMIT ?", (selection, limit)
        ).fetchall()
        return [(int(r[0]), r[1]) for r in reversed(rows)]

    def runs(self, *, since: str | None = None) -> list[RunRow]:
        rows = self._x(
            "SELECT id, started, finished, status, first_run, exit_code, selection FROM runs"
            " WHERE started >= ? ORDER BY id",
            (since or "",),
        ).fetchall()
        return [_run(r) for r in rows]

    # ---- engines and targets --------------------------------------------------------------
    def engine(self, name: str, endpoint: str, engine_id: str | None, seen: str | None) -> int:
        with self.transaction():
            row = self._x(
                "INSERT INTO engines (name, endpoint, engine_id, last_seen) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET endpoint = excluded.endpoint,"
                " engine_id = coalesce(excluded.engine_id, engines.engine_id),"
                " last_seen = coalesce(excluded.last_seen, engines.last_seen) RETURNING id",
                (name, endpoint, engine_id, seen),
            ).fetchone()
        return int(row[0])

    def engine_id(self, name: str) -> str | None:
        """The engine id last recorded under this name (None: never seen, or never answered)."""
        row = self._x("SELECT engine_id FROM engines WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def target(self, engine: int, kind: str, name: str) -> TargetRow:
        self._x(
            "INSERT INTO targets (engine, kind, name) VALUES (?, ?, ?) ON CONFLICT (engine, kind, name) DO NOTHING",
            (engine, kind, name),
        )
        row = self._x(_TARGET_SELECT + " WHERE t.engine = ? AND t.kind = ? AND t.name = ?", (engine, kind, name))
        return _target(row.fetchone())

    def targets(self) -> list[TargetRow]:
        return [_target(r) for r in self._x(_TARGET_SELECT + " ORDER BY e.name, t.kind, t.name").fetchall()]

    def targets_of_engine(self, engine: int) -> list[TargetRow]:
        """Every target of one engine, removed ones too (what a scan needs to know of them)."""
        return [_target(r) for r in self._x(_TARGET_SELECT + " WHERE t.engine = ?", (engine,)).fetchall()]

    def targets_of_selection(self, engine: int, selection: str) -> list[TargetRow]:
        """Targets an earlier run of this selection saw, and that were not reported removed since."""
        rows = self._x(
            _TARGET_SELECT + " WHERE t.engine = ? AND coalesce(t.last_status, '') != 'removed' AND EXISTS ("
            "SELECT 1 FROM target_runs tr JOIN runs r ON r.id = tr.run WHERE tr.target = t.id AND r.selection = ?)"
            " ORDER BY t.kind, t.name",
            (engine, selection),
        ).fetchall()
        return [_target(r) for r in rows]

    def record_target(
        self,
        run: int,
        target: TargetRow,
        *,
        status: str,
        image: str | None,
        image_id: str | None,
        instance: str | None,
        labels: dict[str, str] | None,
        redeployed: bool,
        error: str | None,
        compared_with: str | None,
        baseline: dict[str, Any] | None,
        scan_key: str | None = None,
    ) -> None:
        ok = status in ("scanned", "new")
        self._x(
            "INSERT INTO target_runs (run, target, status, image, image_id, instance, redeployed, error, compared_with)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (run, target.id, status, image, image_id, instance, int(redeployed), error, compared_with),
        )
        self._x(
            "UPDATE targets SET last_status = ?, last_run = ?,"
            " first_run = coalesce(first_run, ?),"
            " last_ok_run = CASE WHEN ? = 1 THEN ? ELSE last_ok_run END,"
            " image = coalesce(?, image), image_id = coalesce(?, image_id), instance = coalesce(?, instance),"
            " labels = coalesce(?, labels), baseline = coalesce(?, baseline),"
            " scan_key = CASE WHEN ? = 1 THEN ? ELSE scan_key END WHERE id = ?",
            (
                status,
                run,
                run,
                int(ok),
                run,
                image,
                image_id,
                instance,
                _dumps(labels) if labels is not None else None,
                _dumps(baseline) if baseline is not None else None,
                int(ok),
                scan_key,
                target.id,
            ),
        )

    # ---- findings -----------------------------------------------------------------------
    def open_findings(self, target: int) -> dict[str, StoredFinding]:
        rows = self._x(
            "SELECT id, fingerprint, state_hash, data, first_seen, first_seen_run, last_seen FROM findings"
            " WHERE target = ? AND resolved_run IS NULL",
            (target,),
        ).fetchall()
        return {r[1]: StoredFinding(r[0], r[1], r[2], json.loads(r[3]), r[4], int(r[5]), r[6]) for r in rows}

    def move_open_findings(self, source: int, dest: int) -> int:
        """The open findings (and acknowledgements) of SOURCE continue under DEST: a workload's pod
        replaced by a new one (drift.report.run). DEST has none of its own yet."""
        cur = self._x("UPDATE findings SET target = ? WHERE target = ? AND resolved_run IS NULL", (dest, source))
        self._x("UPDATE acks SET target = ? WHERE target = ?", (dest, source))
        return int(cur.rowcount or 0)

    def add_finding(self, run: int, target: int, fp: str, category: str, state_hash: str, data: Any, now: str) -> int:
        row = self._x(
            "INSERT INTO findings (target, fingerprint, category, first_seen, first_seen_run, last_seen,"
            " last_seen_run, state_hash, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (target, fp, category, now, run, now, run, state_hash, _dumps(data)),
        ).fetchone()
        return int(row[0])

    def seen_finding(self, finding: int, run: int, state_hash: str, data: Any, now: str) -> None:
        self._x(
            "UPDATE findings SET last_seen = ?, last_seen_run = ?, state_hash = ?, data = ? WHERE id = ?",
            (now, run, state_hash, _dumps(data), finding),
        )

    def close_finding(self, finding: int, run: int, resolution: str) -> None:
        self._x("UPDATE findings SET resolved_run = ?, resolution = ? WHERE id = ?", (run, resolution, finding))

    def finding_state(self, run: int, finding: int, state: str) -> None:
        self._x("INSERT INTO finding_states (run, finding, state) VALUES (?, ?, ?)", (run, finding, state))

    def add_counts(self, run: int, target: int, counts: dict[tuple[str, str], int]) -> None:
        for (category, state), count in sorted(counts.items()):
            self._x(
                "INSERT INTO run_counts (run, target, category, state, count) VALUES (?, ?, ?, ?, ?)",
                (run, target, category, state, count),
            )

    # ---- acknowledgements ------------------------------------------------------------------
    def acks(self, target: int) -> list[Ack]:
        rows = self._x(
            "SELECT id, target, fingerprint, reason, by_user, created, expires FROM acks"
            " WHERE expired_run IS NULL AND (target IS NULL OR target = ?) ORDER BY id",
            (target,),
        ).fetchall()
        return [Ack(*r) for r in rows]

    def add_ack(
        self, target: int | None, fp: str, reason: str, by: str | None, created: str, expires: str | None
    ) -> None:
        self._x(
            "INSERT INTO acks (target, fingerprint, reason, by_user, created, expires) VALUES (?, ?, ?, ?, ?, ?)",
            (target, fp, reason, by, created, expires),
        )

    def expire_ack(self, ack: int, run: int) -> None:
        self._x("UPDATE acks SET expired_run = ? WHERE id = ?", (run, ack))

    def open_fingerprints(self) -> list[tuple[TargetRow, str]]:
        rows = self._x(
            _TARGET_SELECT.replace("SELECT ", "SELECT f.fingerprint, ", 1)
            + " JOIN findings f ON f.target = t.id WHERE f.resolved_run IS NULL ORDER BY t.id, f.fingerprint"
        ).fetchall()
        return [(_target(r[1:]), r[0]) for r in rows]

    # ---- trends, history and pruning -------------------------------------------------------------
    def counts(self, *, since: str = "", first_run: int = 0) -> list[CountRow]:
        rows = self._x(
            "SELECT c.run, r.finished, e.name, e.name || '/' || t.kind || '/' || t.name, c.category, c.state, c.count"
            " FROM run_counts c JOIN runs r ON r.id = c.run JOIN targets t ON t.id = c.target"
            " JOIN engines e ON e.id = t.engine WHERE r.started >= ? AND c.run >= ? ORDER BY c.run",
            (since, first_run),
        ).fetchall()
        return [CountRow(*r) for r in rows]

    def target_runs(self, *, since: str = "") -> list[tuple[int, str, str, str | None, int]]:
        """(run, target key, status, error, redeployed) for every recorded target scan."""
        rows = self._x(
            "SELECT tr.run, e.name || '/' || t.kind || '/' || t.name, tr.status, tr.error, tr.redeployed"
            " FROM target_runs tr JOIN runs r ON r.id = tr.run JOIN targets t ON t.id = tr.target"
            " JOIN engines e ON e.id = t.engine WHERE r.started >= ? ORDER BY tr.run",
            (since,),
        ).fetchall()
        return [(int(r[0]), r[1], r[2], r[3], int(r[4])) for r in rows]

    def prune(self, before: str) -> dict[str, int]:
        """Drop per-finding detail of runs started before `before`; runs and trend counts stay."""
        old = "(SELECT id FROM runs WHERE started < ?)"
        out = {}
        with self.transaction():
            out["finding_states"] = self._x(f"DELETE FROM finding_states WHERE run IN {old}", (before,)).rowcount
            out["findings"] = self._x(
                "DELETE FROM findings WHERE resolved_run IS NOT NULL AND resolved_run IN "
                + old
                + " AND id NOT IN (SELECT finding FROM finding_states)",
                (before,),
            ).rowcount
            # a target's row per run stays (which targets a run saw, their status: `drift history`
            # counts them); only its text detail goes
            out["target_run_details"] = self._x(
                f"UPDATE target_runs SET error = NULL, compared_with = NULL WHERE run IN {old}"
                " AND run NOT IN (SELECT coalesce(last_run, 0) FROM targets)"
                " AND (error IS NOT NULL OR compared_with IS NOT NULL)",
                (before,),
            ).rowcount
            out["acks"] = self._x("DELETE FROM acks WHERE expired_run IN " + old, (before,)).rowcount
        return out


_TARGET_SELECT = (
    "SELECT t.id, e.name, t.kind, t.name, t.image, t.image_id, t.labels, t.baseline, t.last_status, t.last_ok_run,"
    " t.instance, t.scan_key"
    " FROM targets t JOIN engines e ON e.id = t.engine"
)


def _target(r: Any) -> TargetRow:
    return TargetRow(
        id=int(r[0]),
        engine=r[1],
        kind=r[2],
        name=r[3],
        image=r[4],
        image_id=r[5],
        labels=json.loads(r[6] or "{}"),
        baseline=json.loads(r[7]) if r[7] else None,
        last_status=r[8],
        last_ok_run=r[9],
        instance=r[10],
        scan_key=r[11],
    )


def _run(r: Any) -> RunRow:
    return RunRow(int(r[0]), r[1], r[2], r[3], bool(r[4]), r[5], r[6])
