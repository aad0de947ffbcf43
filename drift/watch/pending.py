"""The containers waiting for a rescan: one entry per container, whatever the flood.

    note(key, trigger, now)   an event: the container is scanned `settle` seconds after the last one
    hold(key, now)            an exec starting: a pending scan waits for it (never starts one)
    due(now) -> [Due]         the entries whose moment has come, taken out
    wait(timeout)             until something may be due (or `wake()`)

Events for one container coalesce into one entry: its deadline moves to `settle` after the last
event (ten execs in a row make one scan), but never past `max_wait` after the first, so a container
exec'd into every second (a health check) is still scanned. The memory is one entry per container
with news, whatever the number of events; the set is bounded by `limit` containers, past which
the oldest entries are folded into one `catch-up` of their engine (a full pass of its selection,
the quick signature keeping unchanged containers cheap).

Thread-safe: event threads note, the main loop takes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

CATCH_UP = "*"  # the key's container part for a whole engine's selection


@dataclass(slots=True)
class Due:
    engine: str
    container: str  # an ID, or CATCH_UP
    name: str  # the container's name as the event gave it ("" for a catch-up)
    triggers: dict[str, int] = field(default_factory=dict)  # event kind -> how many
    first: float = 0.0  # monotonic time of the first event
    deadline: float = 0.0
    attempts: int = 0  # scans that could not be made (the store busy): retried later

    @property
    def events(self) -> int:
        return sum(self.triggers.values())

    def trigger(self) -> str:
        """The kinds of event behind this scan, most frequent first (exec, copy, start ...)."""
        return "+".join(k for k, _ in sorted(self.triggers.items(), key=lambda kv: (-kv[1], kv[0])))


class Pending:
    def __init__(self, *, settle: float, max_wait: float, limit: int = 10000) -> None:
        self.settle = settle
        self.max_wait = max(max_wait, settle)
        self.limit = limit
        self._items: dict[tuple[str, str], Due] = {}
        self._cond = threading.Condition()
        self._woken = False
        self.received = 0  # events noted, all containers
        self.folded = 0  # entries folded into a catch-up because of `limit`

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)

    def note(
        self, engine: str, container: str, name: str, trigger: str, now: float, *, delay: float | None = None
    ) -> None:
        wait = self.settle if delay is None else delay
        with self._cond:
            self.received += 1
            key = (engine, container)
            item = self._items.get(key)
            if item is None and len(self._items) >= self.limit and container != CATCH_UP:
                self._fold(engine, now)
                key = (engine, CATCH_UP)
                item = self._items.get(key)
            if item is None:
                item = Due(engine, key[1], name if key[1] != CATCH_UP else "", first=now, deadline=now + wait)
                self._items[key] = item
            else:
                item.deadline = min(max(item.deadline, now + wait), item.first + self.max_wait)
                item.name = item.name or name
            item.triggers[trigger] = item.triggers.get(trigger, 0) + 1
            self._cond.notify_all()

    def _fold(self, engine: str, now: float) -> None:
        """Too many containers waiting: this engine's are replaced by one pass over its selection."""
        mine = [k for k in self._items if k[0] == engine and k[1] != CATCH_UP]
        if not mine:  # the other engines fill the set: fold the oldest engine's
            oldest = min(self._items.values(), key=lambda d: d.first)
            engine = oldest.engine
            mine = [k for k in self._items if k[0] == engine and k[1] != CATCH_UP]
        catch = self._items.setdefault(
            (engine, CATCH_UP), Due(engine, CATCH_UP, "", first=now, deadline=now + self.settle)
        )
        for k in mine:
            item = self._items.pop(k)
            for t, n in item.triggers.items():
                catch.triggers[t] = catch.triggers.get(t, 0) + n
            catch.first = min(catch.first, item.first)
            self.folded += 1

    def hold(self, engine: str, container: str, now: float) -> None:
        """An exec session starts: a scan already waiting for this container waits for it to end."""
        with self._cond:
            self.received += 1
            item = self._items.get((engine, container))
            if item is not None:
                item.deadline = min(max(item.deadline, now + self.settle), item.first + self.max_wait)

    def forget(self, engine: str, container: str) -> None:
        """The container is gone (destroyed): nothing left to scan."""
        with self._cond:
            self.received += 1
            self._items.pop((engine, container), None)

    def again(self, item: Due, now: float, delay: float) -> None:
        """A scan that could not be made now (the store busy): back in the set, merged with
        whatever came for the same container meanwhile."""
        with self._cond:
            item.attempts += 1
            key = (item.engine, item.container)
            other = self._items.get(key)
            if other is not None:
                for t, n in item.triggers.items():
                    other.triggers[t] = other.triggers.get(t, 0) + n
                other.first = min(other.first, item.first)
                other.attempts = max(other.attempts, item.attempts)
                other.deadline = min(other.deadline, now + delay)
            else:
                item.deadline = now + delay
                self._items[key] = item
            self._cond.notify_all()

    def due(self, now: float) -> list[Due]:
        with self._cond:
            ready = [k for k, d in self._items.items() if d.deadline <= now]
            out = [self._items.pop(k) for k in ready]
        # a catch-up first (it covers its engine's containers), then in the order they came
        return sorted(out, key=lambda d: (d.container != CATCH_UP, d.first))

    def next_deadline(self) -> float | None:
        with self._cond:
            return min((d.deadline for d in self._items.values()), default=None)

    def drop_engine(self, engine: str) -> None:
        """The engine left the watch (drift.toml reread): its entries go too."""
        with self._cond:
            for k in [k for k in self._items if k[0] == engine]:
                del self._items[k]

    def wait(self, timeout: float) -> None:
        """Until a note, a wake() or the timeout: the caller then asks due() again."""
        with self._cond:
            if not self._woken:
                self._cond.wait(max(timeout, 0.0))
            self._woken = False

    def wake(self) -> None:
        with self._cond:
            self._woken = True
            self._cond.notify_all()
