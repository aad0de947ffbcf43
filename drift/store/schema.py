"""The store's schema, as an ordered list of migrations.

Each migration is a list of statements applied in one transaction and recorded in
`schema_migrations`. A store at an older version is backed up (a consistent copy beside it)
and then upgraded in place; a store from a newer drift is refused, never downgraded.
Statements are written for both SQLite and PostgreSQL: `{id}` is the dialect's
auto-incrementing key, `{blob}` its binary type.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[int, str, list[str]]] = [
    (
        1,
        "runs, engines, targets, findings, acks, trend counts",
        [
            """CREATE TABLE runs (
                id {id},
                started TEXT NOT NULL,
                finished TEXT,
                status TEXT NOT NULL,
                first_run INTEGER NOT NULL DEFAULT 0,
                exit_code INTEGER,
                drift_version TEXT NOT NULL,
                selection TEXT NOT NULL,
                options TEXT NOT NULL,
                host TEXT NOT NULL
            )""",
            "CREATE INDEX runs_selection ON runs (selection, id)",
            """CREATE TABLE engines (
                id {id},
                name TEXT NOT NULL UNIQUE,
                endpoint TEXT NOT NULL,
                engine_id TEXT,
                last_seen TEXT
            )""",
            """CREATE TABLE targets (
                id {id},
                engine INTEGER NOT NULL REFERENCES engines (id),
                kind TEXT NOT NULL,
                name TEXT NOT NULL,
                image TEXT,
                image_id TEXT,
                instance TEXT,
                labels TEXT NOT NULL DEFAULT '{{}}',
                baseline TEXT,
                first_run INTEGER,
                last_run INTEGER,
                last_ok_run INTEGER,
                last_status TEXT,
                UNIQUE (engine, kind, name)
            )""",
            """CREATE TABLE target_runs (
                run INTEGER NOT NULL REFERENCES runs (id),
                target INTEGER NOT NULL REFERENCES targets (id),
                status TEXT NOT NULL,
                image TEXT,
                image_id TEXT,
                instance TEXT,
                redeployed INTEGER NOT NULL DEFAULT 0,
                error TEXT,
                compared_with TEXT,
                PRIMARY KEY (run, target)
            )""",
            """CREATE TABLE findings (
                id {id},
                target INTEGER NOT NULL REFERENCES targets (id),
                fingerprint TEXT NOT NULL,
                category TEXT NOT NULL,
                first_seen TEXT NOT NULL,
                first_seen_run INTEGER NOT NULL,
                last_seen TEXT NOT NULL,
                last_seen_run INTEGER NOT NULL,
                resolved_run INTEGER,
                resolution TEXT,
                state_hash TEXT NOT NULL,
                data TEXT NOT NULL
            )""",
            "CREATE UNIQUE INDEX findings_open ON findings (target, fingerprint) WHERE resolved_run IS NULL",
            "CREATE INDEX findings_target ON findings (target, resolved_run)",
            """CREATE TABLE finding_states (
                run INTEGER NOT NULL REFERENCES runs (id),
                finding INTEGER NOT NULL REFERENCES findings (id),
                state TEXT NOT NULL,
                PRIMARY KEY (run, finding)
            )""",
            """CREATE TABLE acks (
                id {id},
                target INTEGER REFERENCES targets (id),
                fingerprint TEXT NOT NULL,
                reason TEXT NOT NULL,
                by_user TEXT,
                created TEXT NOT NULL,
                expires TEXT,
                expired_run INTEGER
            )""",
            "CREATE INDEX acks_fingerprint ON acks (fingerprint)",
            """CREATE TABLE run_counts (
                run INTEGER NOT NULL REFERENCES runs (id),
                target INTEGER NOT NULL REFERENCES targets (id),
                category TEXT NOT NULL,
                state TEXT NOT NULL,
                count INTEGER NOT NULL,
                PRIMARY KEY (run, target, category, state)
            )""",
        ],
    ),
    (
        2,
        "targets.scan_key: what a container's last full scan read, to skip an unchanged one",
        ["ALTER TABLE targets ADD COLUMN scan_key TEXT"],
    ),
]

LATEST = MIGRATIONS[-1][0]
