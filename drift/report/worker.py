"""The scan side of a report: one engine's targets read, nothing written.

    events(engine, job, reader) -> Result / Down / Trouble, target by target (a generator)
    Workers(jobs).run(...)      -> the same events from many engines at once, one process each

What a run needs from the store to decide how to read a target (its baseline, the signature of
its last full scan, whether it was seen before) comes in `Job` as a snapshot taken before the
scan; what the scan finds goes back as events, and only the parent records them. So engines are
read in parallel processes (the inventory is CPU work: threads would share one core under the
GIL) while one connection, in one process, writes the store.

A worker is a forked child: it never touches the parent's store connection or engine clients,
makes its own client for its engine, ignores Ctrl-C (the parent stops it) and always ends
with `Finished` (the layers it read, or the reason it failed), so that a worker that dies is
told apart from one that ends.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

from drift import ignore as ignore_mod
from drift.errors import DriftError, EngineUnreachable
from drift.report import quick
from drift.report.engines import EngineSpec
from drift.report.options import Options
from drift.report.scan import Scanned, container_meta, dockerfile_for, scan
from drift.report.targets import Selected, exists, missing_names, select
from drift.store.records import TargetRow


@dataclass(frozen=True, slots=True)
class Job:
    """One engine's scan, with what the store knew of its targets before the run."""

    spec: EngineSpec
    opts: Options
    rules: list[ignore_mod.Rule]
    rows: dict[tuple[str, str], TargetRow]  # every target of this engine the store has
    known: list[TargetRow]  # the ones earlier runs of this selection saw (removed ones left out)


@dataclass(slots=True)
class Result:
    """One target's outcome. `current` None: the findings open now are still there."""

    kind: str
    name: str
    status: str  # new | scanned | error | removed
    scanned: Scanned | None = None
    current: list[dict[str, Any]] | None = field(default_factory=list)
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Count:
    total: int  # targets selected: sent before the first Result


@dataclass(frozen=True, slots=True)
class Down:
    reason: str  # the engine stopped answering during the scan


@dataclass(frozen=True, slots=True)
class Trouble:
    reason: str  # the engine refused the selection (a bad --filter, ...)


@dataclass(frozen=True, slots=True)
class Finished:
    reads: int = 0
    own_reads: int = 0
    crash: str | None = None


Event = Count | Result | Down | Trouble


def _blank(spec: EngineSpec, kind: str, name: str) -> TargetRow:
    return TargetRow(0, spec.name, kind, name, None, None, {}, None, None, None)


def status(row: TargetRow) -> str:
    return "new" if row.last_ok_run is None or row.last_status == "removed" else "scanned"


class _Scan:
    def __init__(self, engine: Any, job: Job, reader: Any) -> None:
        self.engine, self.job, self.reader = engine, job, reader
        self.rules_key = repr([(r.pattern, r.negate) for r in job.rules])
        self.images_seen: dict[str, bool] = {}
        self.done: set[tuple[str, str]] = set()
        self.pending_key: str | None = None

    def row(self, kind: str, name: str) -> TargetRow:
        return self.job.rows.get((kind, name)) or _blank(self.job.spec, kind, name)

    def all(self) -> Iterator[Event]:
        try:
            yield from self._all()
        except EngineUnreachable as exc:
            yield Down(str(exc))
        except DriftError as exc:
            yield Trouble(str(exc))

    def _all(self) -> Iterator[Event]:
        opts = self.job.opts
        selected = select(self.engine, opts.selection)
        seen = {(s.kind, s.name) for s in selected}
        yield Count(len(selected))
        for target in sorted(selected, key=lambda t: (t.kind, t.image_id or "", t.name)):  # image by image
            result = self.one(target)
            if result is not None:
                self.done.add((result.kind, result.name))
                yield result
        for name in missing_names(opts.selection, selected):
            if not any(row.name == name for row in self.job.known):
                why = f"no container or image named {name!r} on the engine"
                self.done.add(("container", name))
                yield Result("container", name, "error", error=why)
        for row in self.job.known:
            key = (row.kind, row.name)
            if key not in self.done and key not in seen and not exists(self.engine, row.kind, row.name):
                self.done.add(key)
                yield Result(row.kind, row.name, "removed")

    def one(self, target: Selected) -> Result | None:
        row = self.row(target.kind, target.name)
        try:
            reused = self._unchanged(target, row)
            if reused is not None:
                return reused
            scanned = self._scan_live(target, row)
        except EngineUnreachable:
            raise
        except Exception as exc:  # one target's trouble never stops the run; it is recorded as its error
            if not exists(self.engine, target.kind, target.id):
                return Result(target.kind, target.name, "removed")  # it went away while it was being read
            return Result(target.kind, target.name, "error", error=reason(exc))
        scanned.scan_key = self.pending_key
        kept, _ = ignore_mod.split(scanned.findings, self.job.rules)
        scanned.findings = []  # sent as JSON below: the Finding objects stay here
        return Result(target.kind, target.name, status(row), scanned, [f.to_json() for f in kept])

    def _scan_live(self, target: Selected, row: TargetRow) -> Scanned:
        """A running container can change while it is read (a file gone between listing and
        reading it): read it once more before calling it an error."""
        for attempt in (1, 2):
            try:
                opts = self.job.opts
                return scan(
                    self.engine,
                    target,
                    scanner=self.reader,
                    dockerfiles=list(opts.dockerfiles),
                    baseline=row.baseline,
                    project=opts.project,
                    sbom=opts.sbom,
                )
            except OSError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _unchanged(self, target: Selected, row: TargetRow) -> Result | None:
        """A container identical to its last full scan: its findings carried over without reading it."""
        self.pending_key = None
        if target.kind == "image":
            return self._image_unchanged(target, row)
        attrs = self.engine.find_container(target.id)
        if attrs is None:
            raise DriftError(f"container {target.name} is gone")
        self.pending_key = quick.signature(attrs, self.rules_key)
        if self.pending_key is None or self.pending_key != row.scan_key or status(row) != "scanned":
            return None
        if self.job.opts.sbom:  # a BOM is written from what is read: every target is read
            return None
        image_id = str(attrs.get("Image") or "")
        if image_id not in self.images_seen:  # a full scan would need the image: so does a shortcut
            self.images_seen[image_id] = self.engine.find_image(image_id) is not None
        if not self.images_seen[image_id]:
            return None
        scanned = container_meta(attrs, target, [])
        scanned.scan_key, scanned.reused = self.pending_key, True
        return Result(target.kind, target.name, "scanned", scanned, None)

    def _image_unchanged(self, target: Selected, row: TargetRow) -> Result | None:
        """An image compared with its baseline is immutable by id: the same id gives the same findings.
        (An image audited against a Dockerfile is always read: its build context may have changed.)"""
        opts = self.job.opts
        if dockerfile_for(self.engine, target, list(opts.dockerfiles), opts.project) is not None:
            return None
        self.pending_key = quick.image_signature(target.id, self.rules_key)
        if row.baseline is None or self.pending_key != row.scan_key or status(row) != "scanned":
            return None
        if self.job.opts.sbom:
            return None
        if row.image_id != target.id:
            return None
        scanned = Scanned([], f"its baseline inventory of {row.baseline.get('recorded')}", target.name, target.id)
        scanned.scan_key, scanned.reused = self.pending_key, True
        return Result(target.kind, target.name, "scanned", scanned, None)


def events(engine: Any, job: Job, reader: Any) -> Iterator[Event]:
    """One engine's targets, read one at a time (each inspection dropped before the next)."""
    return _Scan(engine, job, reader).all()


def reason(exc: BaseException) -> str:
    if isinstance(exc, DriftError):
        text = str(exc)
    elif isinstance(exc, OSError):
        where = f" {exc.filename}" if exc.filename else ""
        text = f"its files changed or could not be read while drift read them ({exc.strerror or exc}{where})"
    else:
        text = f"unexpected {type(exc).__name__}: {exc}"
    return text.splitlines()[0] if text.strip() else type(exc).__name__


def _child(conn: Connection, job: Job) -> None:
    """A worker process: its engine's events down the pipe, then Finished. Never raises."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's: it stops the workers
    # forked with SIGINT blocked (Workers.run): one that came meanwhile is dropped, now ignored
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    # Writers of its own on the terminal: the parent's (a progress bar's redirection, a buffer
    # whose lock another thread of the parent held when it forked) are not the child's to use.
    sys.stdout = open(1, "w", closefd=False, buffering=1, errors="backslashreplace")  # noqa: SIM115
    sys.stderr = open(2, "w", closefd=False, buffering=1, errors="backslashreplace")  # noqa: SIM115
    from drift.report.shared import LayerReader
    from drift.sources import make_engine

    reader = LayerReader(job.opts.no_cache)
    end = Finished()
    engine = make_engine(job.spec.endpoint, timeout=job.opts.engine_timeout)
    try:
        for event in events(engine, job, reader):
            conn.send(event)
        end = Finished(reader.reads, reader.own_reads)
    except BaseException as exc:  # a worker reports everything, the parent decides
        end = Finished(reader.reads, reader.own_reads, crash=reason(exc))
    finally:
        engine.close()  # a forked child ends with os._exit: no atexit
    with contextlib.suppress(OSError):  # the parent is gone (killed): nobody to tell, nothing to print
        conn.send(end)
    conn.close()


class Workers:
    """Engines scanned by up to `jobs` forked processes at once; events handed to the caller
    in the order they arrive, tagged with the job's index."""

    def __init__(self, jobs: int) -> None:
        self.jobs = max(1, jobs)
        self._ctx = multiprocessing.get_context("fork")

    def run(
        self,
        todo: list[tuple[int, Job]],
        on_event: Callable[[int, Event], None],
        on_end: Callable[[int, Finished], None],
    ) -> None:
        pending = list(reversed(todo))
        running: dict[Connection, tuple[int, Any]] = {}
        try:
            while pending or running:
                while pending and len(running) < self.jobs:
                    index, job = pending.pop()
                    parent, child = self._ctx.Pipe(duplex=False)
                    proc = self._ctx.Process(target=_child, args=(child, job), name=f"drift-engine-{index}")
                    # Ctrl-C goes to the whole process group: one that reaches the child before it
                    # ignores SIGINT would print a traceback from its start-up. Blocked across the
                    # fork, it waits in the parent (raised here once unblocked) and the child drops it.
                    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
                    try:
                        proc.start()
                        child.close()
                        running[parent] = (index, proc)  # known before an interrupt can stop it
                    finally:
                        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
                for conn in wait(list(running)):
                    assert isinstance(conn, Connection)
                    index, proc = running[conn]
                    try:
                        event = conn.recv()
                    except (EOFError, OSError):
                        event = None
                    if isinstance(event, Finished) or event is None:
                        del running[conn]
                        conn.close()
                        proc.join()
                        if event is None:
                            code = proc.exitcode
                            why = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
                            event = Finished(crash=f"its scan process ended without a result ({why})")
                        on_end(index, event)
                    else:
                        on_event(index, event)
        finally:
            for conn, (_, proc) in running.items():
                proc.terminate()
                proc.join(5)
                if proc.is_alive():
                    os.kill(proc.pid, signal.SIGKILL)
                    proc.join()
                conn.close()
