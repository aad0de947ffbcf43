"""`drift watch`: a report run of the selection, then a rescan of each container its engine
says was changed (an exec session ended, a copy into it, a commit, a start).

    Watch(settings).run() -> exit code (0 on SIGTERM, 130 on SIGINT)

    baseline run (run_report)  ->  followers (threads, one per engine)  ->  Pending (one entry
    per container, debounced)  ->  this loop: rescan = run_report over that one container,
    recorded in the store like `drift report NAME` -> one line on stdout, the news to the webhook

Only this thread writes the store, opening it for each rescan (so a `drift report` between two
rescans gets it): a store held by another run is retried later, the container staying pending.
Signals are handled here, between scans: SIGTERM and SIGINT let the scan in progress finish
(`grace` seconds at most, then it is dropped: run_report records it failed and the store
context releases the lock), SIGHUP rereads drift.toml (options, selection, engines).
"""

from __future__ import annotations

import dataclasses
import json
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

from drift import say
from drift.errors import DriftError
from drift.report.options import Options, now_iso
from drift.report.targets import Selection
from drift.watch.follow import Follower
from drift.watch.pending import CATCH_UP, Due, Pending

SCHEMA = "drift.watch/v1"


class Dropped(BaseException):
    """The scan in progress did not finish within the grace after SIGTERM/SIGINT."""


@dataclass(frozen=True, slots=True)
class Settings:
    build: Callable[[], tuple[Options, str | None]]  # (options, webhook URL) from the command line and drift.toml
    notify_on: tuple[str, ...] | None = None  # None: --fail-on's
    settle: float = 2.0
    max_wait: float = 30.0
    fmt: str = "text"
    grace: float = 10.0
    out: TextIO | None = None


def notable(doc: dict[str, Any], notify_on: tuple[str, ...]) -> dict[str, Any]:
    """The run's document with only the findings worth a message: a change (new, updated,
    resolved) that `notify_on` names (states and/or a severity floor, as --fail-on), of a target
    seen before (a container scanned for the first time is its own baseline, as a first run)."""
    from drift.render.report_common import CHANGE_STATES, severity_of
    from drift.report.states import fails

    first = {(t["engine"], t["name"]) for t in doc.get("targets") or [] if t.get("status") == "new"}
    kept = [
        f
        for f in doc.get("findings") or []
        if f.get("state") in CHANGE_STATES
        and (f.get("engine"), f.get("target")) not in first
        and fails([str(f.get("state"))], notify_on, [severity_of(f)])
    ]
    return {**doc, "findings": kept}


def counts(doc: dict[str, Any]) -> dict[str, int]:
    out = {"new": 0, "updated": 0, "resolved": 0, "open": 0}
    for t in doc.get("targets") or []:
        c = t.get("counts") or {}
        for k in ("new", "updated", "resolved"):
            out[k] += int(c.get(k) or 0)
        out["resolved"] += int(c.get("removed") or 0)
        out["open"] += int(c.get("open") or 0)
    return out


class Watch:
    def __init__(self, settings: Settings) -> None:
        self.s = settings
        self.out = settings.out or sys.stdout
        self.opts, self.url = settings.build()
        self.pending = Pending(settle=settings.settle, max_wait=settings.max_wait)
        self.followers: dict[str, Follower] = {}
        self.stop_code: int | None = None
        self.scanning = False
        self.reload = False
        self.rescans = 0
        self._listed: dict[str, tuple[float, dict[str, str]]] = {}  # engine -> (when, {container ID: name})

    # ---- signals ------------------------------------------------------------------------
    def _on_stop(self, signum: int, _frame: Any) -> None:
        again = self.stop_code is not None
        self.stop_code = 130 if signum == signal.SIGINT else 0
        if self.scanning:
            if again:
                raise Dropped()
            signal.alarm(max(1, int(self.s.grace)))  # then _on_alarm drops the scan
        self.pending.wake()

    def _on_alarm(self, _signum: int, _frame: Any) -> None:
        if self.scanning:
            raise Dropped()

    def _on_hup(self, _signum: int, _frame: Any) -> None:
        self.reload = True
        self.pending.wake()

    def _signals(self) -> None:
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGALRM, self._on_alarm)
        if hasattr(signal, "SIGHUP"):
            signal.signal(signal.SIGHUP, self._on_hup)

    # ---- the loop -----------------------------------------------------------------------
    def run(self) -> int:
        self._signals()
        started = time.time()
        try:
            # the events from now on (those during the first run queue up), then the selection
            # once: a baseline when the store has none
            self._follow(since=started)
            self._scan_guarded(None)
            while self.stop_code is None:
                if self.reload:
                    self._reload()
                now = time.monotonic()
                for item in self.pending.due(now):
                    if self.stop_code is not None:
                        break
                    self._scan_guarded(item)
                nxt = self.pending.next_deadline()
                self.pending.wait(0.5 if nxt is None else min(0.5, nxt - time.monotonic()))
        except (Dropped, KeyboardInterrupt):
            say.warning("watch: the scan in progress was dropped (not recorded as complete)")
            self.stop_code = 130 if self.stop_code is None else self.stop_code
        finally:
            for f in self.followers.values():
                f.stop()
            signal.alarm(0)
        print(
            f"drift watch: stopped after {self.rescans} rescan(s) of {self.pending.received} event(s)",
            file=sys.stderr,
        )
        return self.stop_code if self.stop_code is not None else 0

    def _follow(self, since: float, announce: str | None = None) -> None:
        engines = self._specs()
        for f in self.followers.values():
            f.stop()
        self.followers = {}
        for spec in engines:
            f = Follower(spec, self.opts.selection, self.pending, since=since, announce=announce)
            self.followers[spec.name] = f
            f.start()

    def _specs(self) -> list[Any]:
        from drift.report import engines as engines_mod

        return list(self.opts.engines) or engines_mod.specs([], False, [], None)

    def _reload(self) -> None:
        """SIGHUP: drift.toml again. A file that cannot be used leaves the watch as it was."""
        self.reload = False
        try:
            opts, url = self.s.build()
            opts.selection.filter_dict()
        except DriftError as exc:
            say.error(f"watch: drift.toml not reloaded: {exc}")
            return
        self.opts, self.url = opts, url
        self._listed.clear()
        print("drift watch: configuration reloaded", file=sys.stderr)
        for name in self.followers:
            self.pending.drop_engine(name)
        # the selection may have changed: one pass over it on each engine, once it answers
        self._follow(since=time.time(), announce="reload")

    # ---- one scan -----------------------------------------------------------------------
    def _scan_guarded(self, item: Due | None) -> None:
        from drift.store import StoreBusy

        t0 = time.monotonic()
        self.scanning = True
        try:
            self._scan(item, t0)
        except StoreBusy as exc:
            if item is None:
                raise
            delay = min(2.0 ** min(item.attempts, 5), 30.0)
            say.warning(f"watch: {exc}; trying again in {delay:g} s")
            self.pending.again(item, time.monotonic(), delay)
        except DriftError as exc:
            if item is None:
                raise
            self._line(item, None, time.monotonic() - t0, error=str(exc))
        finally:
            self.scanning = False
            if self.stop_code is None:
                signal.alarm(0)

    def _scan(self, item: Due | None, t0: float) -> None:
        from drift.report.run import run_report

        if item is None:
            self._done(None, run_report(self.opts), t0)
            return
        follower = self.followers.get(item.engine)
        if follower is None:
            return  # an engine no longer watched (drift.toml reread)
        if not follower.connected.is_set():
            return  # the catch-up after the reconnection covers it
        spec = follower.spec
        lock = min(self.opts.lock_timeout, 5.0)
        if item.container == CATCH_UP:
            opts = dataclasses.replace(self.opts, engines=(spec,), lock_timeout=lock)
        else:
            name = self._selected(spec, item)
            if name is None:
                return  # not a container of the selection (a name= or ancestor= filter), or gone
            sel = self.opts.selection
            opts = dataclasses.replace(
                self.opts,
                selection=Selection(names=(name,), all=True, filters=sel.filters),
                engines=(spec,),
                lock_timeout=lock,
                keep=None,
            )
        doc = run_report(opts, first_run=False)
        self._done(item, doc, t0)

    def _selected(self, spec: Any, item: Due) -> str | None:
        """The container's name when it is one of the selection's, else None. One listing of the
        selection answers the containers due together (a second of reuse); a container not in it
        (just started) is looked for in a new listing."""
        now = time.monotonic()
        listed = self._listed.get(spec.name)
        if listed is None or now - listed[0] > 1.0 or item.container not in listed[1]:
            listed = (now, self._list(spec))
            self._listed[spec.name] = listed
        return listed[1].get(item.container)

    def _list(self, spec: Any) -> dict[str, str]:
        from drift.report.targets import select
        from drift.sources import make_engine

        sel = self.opts.selection
        engine = make_engine(spec.endpoint, timeout=self.opts.engine_timeout)
        try:
            found = select(engine, Selection(names=sel.names, all=True, filters=sel.filters))
        finally:
            engine.close()
        return {t.id: t.name for t in found if t.kind == "container"}

    def _done(self, item: Due | None, doc: dict[str, Any], t0: float) -> None:
        self.rescans += item is not None
        problem = None
        notified = False
        if self.url:
            from drift.report.notify import payload, send

            notify_on = self.s.notify_on or self.opts.fail_on
            news = doc if item is None else notable(doc, notify_on)
            if payload(news) is not None:
                what = self._what(item, doc)
                where = what["target"] if what["target"] != "*" else f"engine {what['engine']}"
                heading = (
                    None if item is None else f"drift watch, {where} after {what['trigger']} (run {doc['run']['id']})"
                )
                problem = send(self.url, news, timeout=5.0, extra={"watch": what}, heading=heading)
                notified = problem is None
        self._line(item, doc, time.monotonic() - t0, notified=notified)
        if problem:
            say.warning(f"--notify: {problem}")

    def _what(self, item: Due | None, doc: dict[str, Any]) -> dict[str, Any]:
        targets = doc.get("targets") or []
        if item is None:
            target, engine, trigger, events = "*", "*", "watch start", 0
        elif item.container == CATCH_UP:
            target, engine, trigger, events = "*", item.engine, item.trigger(), item.events
        else:
            target = targets[0]["name"] if len(targets) == 1 else item.name
            engine, trigger, events = item.engine, item.trigger(), item.events
        return {"engine": engine, "target": target, "trigger": trigger, "events": events}

    def _line(
        self,
        item: Due | None,
        doc: dict[str, Any] | None,
        seconds: float,
        *,
        notified: bool = False,
        error: str | None = None,
    ) -> None:
        what = self._what(item, doc or {})
        if item is not None and what["target"] == "*" and item.container != CATCH_UP:
            what["target"] = item.name
        run = (doc or {}).get("run") or {}
        c = counts(doc or {})
        errors = [t.get("error") for t in (doc or {}).get("targets") or [] if t.get("status") == "error"]
        error = error or run.get("error") or (errors[0] if errors else None)
        rec = {
            "schema": SCHEMA,
            "time": now_iso(),
            **what,
            **c,
            "targets": len((doc or {}).get("targets") or []),
            "seconds": round(seconds, 3),
            "run": run.get("id"),
            "first_run": bool(run.get("first_run")),
            "exit_code": run.get("exit_code", 2),
            "notified": notified,
            "error": error,
        }
        if self.s.fmt == "json":
            text = json.dumps(rec, sort_keys=True)
        else:
            where = what["target"] if len(self.followers) <= 1 else f"{what['engine']}/{what['target']}"
            trig = what["trigger"] + (f" x{what['events']}" if what["events"] > 1 else "")
            if error and doc is None:
                body = f"error: {say.printable(error)}"
            else:
                body = f"{c['new']} new, {c['updated']} updated, {c['resolved']} resolved, {c['open']} open"
                body += " (baseline)" if rec["first_run"] else ""
                body += f"; error: {say.printable(error)}" if error else ""
            sent = ", notified" if notified else ""
            text = f"{rec['time']} {where} [{trig}] {body} ({seconds:.1f} s{sent})"
        self.out.write(text + "\n")
        self.out.flush()
