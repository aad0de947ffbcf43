"""Following one engine's events, in a thread of its own, into `Pending`.

    Follower(spec, selection, pending).start()   connect, follow, reconnect; never raises

A Docker engine announces what drift rescans for: an exec session ending (`exec_die`), a copy
into a container (`extract-to-dir`, what `docker cp` makes), a commit and a start; an exec
starting (`exec_start`) makes a waiting scan wait for it to end, and `destroy` drops one. The
events are asked with the selection's label filters, so an engine's other containers cost
nothing; `name=`/`ancestor=` filters are applied when the container is scanned.

When the stream ends (the engine restarts, the socket goes away) the follower reconnects with a
growing pause (0.5 s doubling up to 15 s), asking the events since the last one it saw, then
notes one catch-up of its engine: a pass over the whole selection, which finds what changed
while nobody listened (the quick signature keeps unchanged containers cheap).

containerd is followed the same way through its own events API (Events/Subscribe, this
namespace's task topics): an exec's exit, an exec starting, a task starting, a container deleted.
Nothing there tells a copy into a container (`kubectl cp` is an exec of tar: its exit is seen).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from typing import Any

from drift.report.engines import EngineSpec
from drift.report.targets import Selection
from drift.watch.pending import CATCH_UP, Pending

# the engine's event -> the trigger drift names it by
TRIGGERS = {"exec_die": "exec", "extract-to-dir": "copy", "commit": "commit", "start": "start"}
HOLDS = ("exec_start", "exec_create")
# containerd's topics (its tasks: an exec's exit, an exec starting, a start; a container deleted)
CONTAINERD_TOPICS = {"/tasks/exit": "exec", "/tasks/exec-started": "hold", "/tasks/start": "start",
                     "/containers/delete": "forget"}  # fmt: skip
FORGETS = ("destroy",)
EVENTS = (*TRIGGERS, *HOLDS, *FORGETS)
BACKOFF = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0)
# An engine is asked to answer this often while its stream is open (DRIFT_WATCH_PING: the tests')
PING = float(os.environ.get("DRIFT_WATCH_PING", "30"))
SLOW = 5.0  # seconds: an engine this slow to answer a connection is caught up with as after a restart


def event_filters(selection: Selection) -> dict[str, list[str]]:
    """What the engine is asked to send: container events of these kinds, with the selection's labels."""
    out: dict[str, list[str]] = {"type": ["container"], "event": list(EVENTS)}
    labels = selection.filter_dict().get("label")
    if labels:
        out["label"] = labels
    return out


class Follower:
    def __init__(
        self,
        spec: EngineSpec,
        selection: Selection,
        pending: Pending,
        *,
        since: float,
        announce: str | None = None,
    ) -> None:
        self.spec = spec
        self.announce = announce  # a catch-up to note once connected the first time (a reload's)
        self.selection = selection
        self.pending = pending
        self.since = since  # unix time: events from here on
        self.connected = threading.Event()  # the stream is open now
        self.reconnects = 0
        self.last_error = ""
        self._stop = threading.Event()
        self._stream: Any = None
        self._thread = threading.Thread(target=self._run, name=f"drift-watch-{spec.name}", daemon=True)
        self._pinger = threading.Thread(target=self._ping, name=f"drift-ping-{spec.name}", daemon=True)
        self.containerd = spec.endpoint.host.startswith("containerd:")

    def start(self) -> None:
        self._thread.start()
        self._pinger.start()

    def stop(self) -> None:
        self._stop.set()
        stream = self._stream
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.close()  # unblocks the thread's read

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        failures = 0
        first = True
        while not self._stop.is_set():
            try:
                if self.containerd:
                    self._follow_containerd(first)
                else:
                    self._follow(first)
            except Exception as exc:  # anything the client raises: the engine is gone for now
                self.last_error = " ".join(str(exc).split())[:300] or type(exc).__name__
            was = self.connected.is_set()
            self.connected.clear()
            if self._stop.is_set():
                break
            if was:
                failures = 0
            first = False
            pause = BACKOFF[min(failures, len(BACKOFF) - 1)]
            failures += 1
            self.reconnects += 1
            self._stop.wait(pause)

    def _ping(self) -> None:
        """An engine whose connection stays open without answering (a tcp:// path cut, a frozen
        engine) never ends its stream: while the stream is open, the engine is asked to answer
        every PING seconds; when it does not, the stream is closed and the follower reconnects
        as after a restart (then a catch-up)."""
        while not self._stop.wait(PING):
            stream = self._stream
            if stream is not None and self.connected.is_set() and not self._answers():
                self.last_error = f"the engine did not answer within {min(PING, 10.0):g} s"
                with contextlib.suppress(Exception):
                    stream.close()

    def _answers(self) -> bool:
        from drift.sources import make_engine

        engine = make_engine(self.spec.endpoint, timeout=min(PING, 10.0))
        try:
            engine.api.info()  # Docker's client pings when it connects; containerd's Introspection
            return True
        except Exception:
            return False
        finally:
            engine.close()

    def _follow(self, first: bool) -> None:
        from drift.sources import make_engine

        asked = time.monotonic()
        engine = make_engine(self.spec.endpoint, timeout=30)
        try:
            stream = engine.events(event_filters(self.selection), self.since)  # connects and pings first
            if time.monotonic() - asked > SLOW:
                first = False  # it was not answering (frozen, restarting): what happened meanwhile counts
            self._stream = stream
            self._connected(first)
            for event in stream:
                if self._stop.is_set():
                    break
                self._take(event)
        finally:
            self._stream = None
            with contextlib.suppress(Exception):
                engine.close()

    def _connected(self, first: bool) -> None:
        self.connected.set()
        trigger = "reconnect" if not first else self.announce
        if trigger:
            # what happened while nobody listened (an engine restart forgets its events)
            self.pending.note(self.spec.name, CATCH_UP, "", trigger, time.monotonic(), delay=0.0)

    def _take(self, event: dict[str, Any]) -> None:
        if not isinstance(event, dict):
            return
        when = event.get("timeNano")
        if isinstance(when, int):
            self.since = max(self.since, when / 1e9)
        action = str(event.get("Action") or event.get("status") or "").split(":", 1)[0].strip()
        actor = event.get("Actor") or {}
        cid = str(actor.get("ID") or event.get("id") or "")
        if not cid:
            return
        name = str((actor.get("Attributes") or {}).get("name") or "")
        now = time.monotonic()
        if action in TRIGGERS:
            self.pending.note(self.spec.name, cid, name, TRIGGERS[action], now)
        elif action in HOLDS:
            self.pending.hold(self.spec.name, cid, now)
        elif action in FORGETS:
            self.pending.forget(self.spec.name, cid)

    def _follow_containerd(self, first: bool) -> None:
        from drift.sources import make_engine

        asked = time.monotonic()
        engine = make_engine(self.spec.endpoint, timeout=30)
        try:
            engine.api.info()
            if time.monotonic() - asked > SLOW:
                first = False
            stream = engine.events(tuple(CONTAINERD_TOPICS))
            self._stream = _Cancel(stream)
            self._connected(first)
            for envelope in stream:
                if self._stop.is_set():
                    break
                topic, cid, exec_id = engine.event_of(envelope)
                if not cid:
                    continue
                now = time.monotonic()
                kind = CONTAINERD_TOPICS[topic]
                if kind == "exec" and not exec_id:
                    continue  # the container's main process ended: nothing changed in its files
                if kind in ("exec", "start"):
                    self.pending.note(self.spec.name, cid, "", kind, now)
                elif kind == "hold":
                    self.pending.hold(self.spec.name, cid, now)
                else:
                    self.pending.forget(self.spec.name, cid)
        finally:
            self._stream = None
            engine.close()


class _Cancel:
    """A gRPC call, closed as docker-py's stream is (`close()`)."""

    def __init__(self, call: Any) -> None:
        self.call = call

    def close(self) -> None:
        self.call.cancel()
