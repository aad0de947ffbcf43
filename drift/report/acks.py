"""`drift ack`: an acknowledged finding never fails a run; an expired one comes back as new."""

from __future__ import annotations

import datetime as dt
import fnmatch
import getpass

from drift.errors import DriftError
from drift.report.config import duration
from drift.store import open_store

_FMT = "%Y-%m-%dT%H:%M:%SZ"


def _user() -> str | None:
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment
        return None


def acknowledge(
    store_url: str | None, *, fingerprint: str | None, target: str | None, reason: str, expires: str | None
) -> str:
    now = dt.datetime.now(dt.timezone.utc)
    until = (now + dt.timedelta(seconds=duration(expires, "--expires"))).strftime(_FMT) if expires else None
    with open_store(store_url, create=False) as store:
        open_items = store.open_fingerprints()
        matched = [
            (row, fp)
            for row, fp in open_items
            if (fingerprint is None or fp == fingerprint)
            and (target is None or fnmatch.fnmatchcase(row.name, target) or fnmatch.fnmatchcase(row.key, target))
        ]
        if not matched:
            what = f" with fingerprint {fingerprint}" if fingerprint else ""
            where = f" on a target matching {target!r}" if target else ""
            raise DriftError(
                f"no open finding{what}{where}: see the last report (fingerprints are in [brackets], "
                "target names in its first lines)"
            )
        with store.transaction():
            for row, fp in matched:
                store.add_ack(row.id, fp, reason, _user(), now.strftime(_FMT), until)
    targets = len({row.id for row, _ in matched})
    end = f" until {until}" if until else ""
    return f"acknowledged {len(matched)} finding(s) on {targets} target(s){end}: {reason}"
