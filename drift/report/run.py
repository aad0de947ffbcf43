"""One `drift report` run: select, scan target by target, record, build the document.

    select targets -> for each (streamed): scan -> states -> store (one transaction) -> doc parts
                   -> targets gone since the last run of this selection -> removed
                   -> trends from the stored counts -> drift.report/v1

Targets are streamed: one target's inspection is dropped before the next is read, so the
memory of a run does not grow with the fleet. The run is recorded whatever happens.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import json
import platform
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from drift import __version__
from drift import ignore as ignore_mod
from drift.progress import NoProgress, Progress
from drift.report import doc as docmod
from drift.report import engines as engines_mod
from drift.report import trends, worker
from drift.report.engines import EngineSpec
from drift.report.options import Options, now_iso
from drift.report.scan import Scanned
from drift.report.shared import LayerReader
from drift.report.states import Outcome, fails, transition
from drift.report.workload import workload_of
from drift.store import Store, open_store
from drift.store.records import TargetRow


@dataclass(slots=True)
class _Run:
    store: Store
    id: int
    now: str
    engine_row: int
    engine_name: str
    targets: list[dict[str, Any]] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)
    states: list[str] = field(default_factory=list)
    severities: list[str] = field(default_factory=list)  # of the finding of each state, in order
    recorded: set[int] = field(default_factory=set)  # target rows already written in this run
    key: str = ""  # the selection's key (with the engines when there are others)
    boms: dict[str, str] | None = None  # ENGINE/KIND/NAME -> its CycloneDX BOM (Options.sbom)


def _selection_key(opts: Options, names: list[str]) -> str:
    """The selection, and the engines when they are not just the one of the current context:
    runs over other engines are another series (previous run, removed targets, trends)."""
    key = opts.selection.key()
    if names == [opts.engine_name]:
        return key
    return json.dumps({**json.loads(key), "engines": sorted(names)}, sort_keys=True)


def run_report(
    opts: Options,
    *,
    progress: Progress | None = None,
    engine: Any = None,
    boms: dict[str, str] | None = None,
    first_run: bool | None = None,
) -> dict[str, Any]:
    """The run's drift.report/v1 document; with Options.sbom, BOMS gets each target's CycloneDX BOM.
    `first_run`: whether this run is a baseline (default: when its selection has no earlier
    run). `drift watch` records each rescan as a run over one container, after its own first run
    of the whole selection: those are never baselines."""
    from drift.sources import make_engine

    progress = progress or NoProgress()
    started, t0 = now_iso(), time.monotonic()
    rules = ignore_mod.load(list(opts.ignore_folders), list(opts.ignore))
    if engine is not None:
        pairs = [(EngineSpec(opts.engine_name, engine.endpoint), engine)]
    else:
        specs = list(opts.engines) or engines_mod.specs([], False, [], None)
        pairs = [(s, make_engine(s.endpoint, timeout=opts.engine_timeout)) for s in specs]
    key = _selection_key(opts, [s.name for s, _ in pairs])
    reader = LayerReader(opts.no_cache)
    with contextlib.ExitStack() as clients, open_store(opts.store, lock_timeout=opts.lock_timeout) as store:
        # the store is written by this process only; the clients made here drop their saves at the end
        for _, made in pairs if engine is None else ():
            clients.callback(made.close)
        run_id = store.begin_run(
            started=started, version=__version__, selection=key, options=opts.to_json(), host=platform.node()
        )
        previous = store.previous_run(key, run_id)
        is_first = previous is None if first_run is None else first_run
        shared = (store, run_id, started, key, reader, rules, boms)
        try:
            results = _engines(pairs, shared, opts, progress)
        except BaseException:
            store.finish_run(run_id, finished=now_iso(), status="failed", first_run=is_first, exit_code=2)
            raise
        engines = [eng for eng, _, _ in results]
        runs = [r for _, r, _ in results]
        trouble = next((t for _, _, t in results if t), None)
        targets = [t for r in runs for t in r.targets]
        states = [s for r in runs for s in r.states]
        severities = [s for r in runs for s in r.severities]
        errors = sum(1 for t in targets if t["status"] == "error")
        down = [e for e in engines if e["status"] != "up"]
        failing = fails(states, opts.fail_on, severities) and (not is_first or opts.fail_on_first_run)
        code = 2 if errors or trouble or down else (1 if failing else 0)
        everything_down = len(down) == len(engines)
        status = "failed" if trouble or everything_down else ("partial" if errors or down else "complete")
        finished = now_iso()
        store.finish_run(run_id, finished=finished, status=status, first_run=is_first, exit_code=code)
        trend = _trends(store, key, {e["name"] for e in engines}, targets)
        if opts.keep is not None:
            cutoff = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=opts.keep)
            store.prune(cutoff.strftime("%Y-%m-%dT%H:%M:%SZ"))
    targets.sort(key=lambda t: (t["engine"], t["kind"], t["name"]))
    findings = [f for r in runs for f in r.findings]
    return {
        "schema": docmod.SCHEMA,
        "run": {
            "id": run_id,
            "started": started,
            "finished": finished,
            "status": status,
            "first_run": is_first,
            "previous_run": previous.id if previous else None,
            "drift_version": __version__,
            "duration_seconds": round(time.monotonic() - t0, 3),
            "fail_on": list(opts.fail_on),
            "exit_code": code,
            "error": trouble,
            "layer_reads": {"image": reader.reads, "container": reader.own_reads},
        },
        "engines": engines,
        "targets": targets,
        "findings": docmod.sort_findings(findings),
        "summary": docmod.summary(targets, findings),
        "trends": trend,
    }


def _engines(pairs: list[tuple[EngineSpec, Any]], shared: tuple[Any, ...], opts: Options, progress: Progress) -> Any:
    """Every engine at once (up to --jobs), one client each; one engine's trouble stays its own.

    Engines are asked who they are at the same time (threads: that is waiting, not work), then
    each one that answers is read in a process of its own (drift/report/worker.py) while this
    process records what they send, target by target, in the store. One engine, or --jobs 1,
    is read here, by the same code."""
    store, run_id, started, key, reader, rules, boms = shared
    states: list[_Engine] = []
    for (spec, engine), eng in zip(pairs, _identify(pairs, store, opts.jobs), strict=True):
        changed = eng.pop("changed", False)  # reported down, its ID not recorded: never merged
        engine_row = store.engine(
            eng["name"], eng["endpoint"], None if changed else eng["id"], started if eng["status"] == "up" else None
        )
        run = _Run(store, run_id, started, engine_row, eng["name"], key=key, boms=boms)
        job = None
        if eng["status"] == "up":
            rows = {(r.kind, r.name): r for r in store.targets_of_engine(engine_row)}
            job = worker.Job(spec, opts, rules, rows, store.targets_of_selection(engine_row, key))
        states.append(_Engine(eng, run, engine, job))
    todo = [(i, s.job) for i, s in enumerate(states) if s.job is not None]
    if len(todo) == 1 or opts.jobs <= 1:
        _read_here(states, todo, reader, progress)
    elif todo:
        _read_in_workers(states, todo, reader, opts.jobs, progress)
    for s in states:
        if s.eng["status"] == "down":
            _engine_down(s.run, s.eng["error"])
    return [(s.eng, s.run, s.trouble) for s in states]


def _identify(pairs: list[tuple[EngineSpec, Any]], store: Store, jobs: int) -> list[dict[str, Any]]:
    known = [store.engine_id(spec.name) for spec, _ in pairs]
    if len(pairs) == 1:
        return [engines_mod.identify(pairs[0][1], pairs[0][0], known[0])]
    with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(pairs))), thread_name_prefix="drift-id") as pool:
        return list(pool.map(lambda p, k: engines_mod.identify(p[1], p[0], k), pairs, known))


def _read_here(states: list[_Engine], todo: list[tuple[int, worker.Job]], reader: Any, progress: Progress) -> None:
    one = len(todo) == 1  # its targets are the progress; else the engines
    if not one:
        progress.start(len(todo))
    try:
        for i, job in todo:
            for event in worker.events(states[i].engine, job, reader):
                if one and isinstance(event, worker.Count):
                    progress.start(event.total)
                elif one and isinstance(event, worker.Result):
                    progress.step(f"{event.kind} {event.name}")
                states[i].take(event)
            states[i].finish()
            if not one:
                progress.step(f"engine {job.spec.name}")
    finally:
        progress.stop()


def _read_in_workers(
    states: list[_Engine], todo: list[tuple[int, worker.Job]], reader: Any, jobs: int, progress: Progress
) -> None:
    # imported once here, before the workers fork (each would import them again)
    import drift.diff.modes
    import drift.inventory.inspection
    import drift.report.baseline  # noqa: F401

    def end(i: int, finished: worker.Finished) -> None:
        reader.add(finished.reads, finished.own_reads)
        states[i].finish()
        if finished.crash:
            states[i].take(worker.Down(finished.crash))
        progress.step(f"engine {states[i].eng['name']}")

    progress.start(len(todo))
    gc.freeze()  # what exists now is never scanned by the workers' collector: no copy-on-write of it
    try:
        worker.Workers(jobs).run(todo, lambda i, e: states[i].take(e), end)
    finally:
        gc.unfreeze()
        progress.stop()


@dataclass(slots=True)
class _Engine:
    """One engine of the run, on the recording side: what its scan sends is recorded here."""

    eng: dict[str, Any]
    run: _Run
    engine: Any
    job: worker.Job | None
    trouble: str | None = None

    held: list[worker.Result] = field(default_factory=list)  # a workload's new pods and gone pods, till the end

    def take(self, event: worker.Event) -> None:
        if isinstance(event, worker.Result):
            if _replica(event):
                self.held.append(event)  # recorded by finish(), when the engine's list is complete
                return
            row = self.run.store.target(self.run.engine_row, event.kind, event.name)
            _record(self.run, row, event.scanned, event.status, event.current, error=event.error)
        elif isinstance(event, worker.Down):
            self.eng.update(status="down", error=event.reason)
        elif isinstance(event, worker.Trouble):
            self.trouble = event.reason
        # Count: the number of targets, for the progress only

    def finish(self) -> None:
        """A pod of a workload (a Deployment's, a StatefulSet's, a DaemonSet's) that went away
        while a new pod of the same workload came: the new pod goes on with the old one's history
        (its open findings, acknowledgements and first-seen times), as a redeployed container
        does. Pairs are made in name order; a new pod without a gone one starts its own."""
        held, self.held = self.held, []
        gone: dict[str, list[worker.Result]] = {}
        for e in sorted(held, key=lambda e: e.name):
            if e.status == "removed":
                gone.setdefault(workload_of(e.kind, e.name), []).append(e)
        store = self.run.store
        for e in sorted(held, key=lambda e: e.name):
            if e.status == "removed":
                continue
            row = store.target(self.run.engine_row, e.kind, e.name)
            before = gone.get(workload_of(e.kind, e.name))
            continues = None
            if e.status == "new" and e.scanned is not None and row.last_ok_run is None and before:
                old = before.pop(0)
                old_row = store.target(self.run.engine_row, old.kind, old.name)
                with store.transaction():
                    store.move_open_findings(old_row.id, row.id)
                continues = old.name
            _record(self.run, row, e.scanned, e.status, e.current, error=e.error, continues=continues)
        for e in sorted(held, key=lambda e: e.name):
            if e.status == "removed":
                row = store.target(self.run.engine_row, e.kind, e.name)
                _record(self.run, row, e.scanned, e.status, e.current, error=e.error)


def _replica(event: worker.Result) -> bool:
    """A Kubernetes pod's container (named NAMESPACE/POD/CONTAINER, its pod generated by a
    controller), new or gone: its history may pass to or from another pod of its workload."""
    return (
        event.kind == "container"
        and event.status in ("new", "removed")
        and workload_of(event.kind, event.name) != event.name
    )


def _trends(store: Store, key: str, engines: set[str], targets: list[dict[str, Any]]) -> dict[str, Any]:
    runs = store.runs_of_selection(key)
    rows = store.counts(first_run=runs[0][0]) if runs else []
    keys = {f"{t['engine']}/{t['kind']}/{t['name']}" for t in targets}
    return trends.build(rows, engines, keys, runs)


def _engine_down(run: _Run, reason: str | None) -> None:
    """The engine did not answer: every target this selection knew is `error`, its findings stale."""
    for row in run.store.targets_of_selection(run.engine_row, run.key):
        if row.id not in run.recorded:
            _record(run, row, None, "error", [], error=f"engine down: {reason}")


def _redeployed(row: TargetRow, scanned: Scanned | None) -> bool:
    if scanned is None or row.last_ok_run is None:
        return False
    if row.image_id and scanned.image_id and row.image_id != scanned.image_id:
        return True
    return bool(row.instance and scanned.instance and row.instance != scanned.instance)


def _record(
    run: _Run,
    row: TargetRow,
    scanned: Scanned | None,
    status: str,
    current: list[dict[str, Any]] | None,
    error: str | None = None,
    continues: str | None = None,
) -> None:
    """Record one target's outcome; `current` None means: the findings open now are still there."""
    store = run.store
    run.recorded.add(row.id)
    scan_state = "scanned" if scanned is not None else ("removed" if status == "removed" else "error")
    with store.transaction():
        previous = store.open_findings(row.id)
        seen = current if current is not None else [s.data for s in previous.values()]
        outcomes = transition(scan_state, previous, seen, store.acks(row.id), run.now)  # type: ignore[arg-type]
        redeployed = _redeployed(row, scanned) or continues is not None
        store.record_target(
            run.id,
            row,
            status=status,
            image=scanned.image if scanned else None,
            image_id=scanned.image_id if scanned else None,
            instance=scanned.instance if scanned else None,
            labels=scanned.labels if scanned else None,
            redeployed=redeployed,
            error=error,
            compared_with=scanned.compared_with if scanned else None,
            baseline=scanned.baseline if scanned else None,
            scan_key=scanned.scan_key if scanned else None,
        )
        _apply(store, run.id, row.id, outcomes, run.now)
        counts: Counter[tuple[str, str]] = Counter((str(o.data.get("category", "unknown")), o.state) for o in outcomes)
        store.add_counts(run.id, row.id, dict(counts))
    t = docmod.TargetDoc(
        engine=run.engine_name,
        kind=row.kind,
        name=row.name,
        id=(scanned.instance or scanned.image_id) if scanned else None,
        image=scanned.image if scanned else row.image,
        status=status,
        compared_with=scanned.compared_with if scanned else "",
        redeployed=redeployed,
        error=error,
        context=scanned.context if scanned else {},
        reused=scanned.reused if scanned else False,
        continues=continues,
    )
    run.targets.append(t.to_json(docmod.target_counts(outcomes)))
    found = [docmod.finding_json(t, o, now=run.now, run=run.id) for o in outcomes]
    run.findings += found
    if scanned is not None and scanned.sbom is not None and run.boms is not None:
        import dataclasses

        from drift.render import cyclonedx

        inv, prov = scanned.sbom
        scanned.sbom = None  # the inventory is dropped once its BOM is made
        inv = dataclasses.replace(inv, target=dataclasses.replace(inv.target, name=row.name))  # read by its ID
        open_now = [f for f in found if f["state"] not in ("resolved", "removed")]
        run.boms[f"{run.engine_name}/{row.kind}/{row.name}"] = cyclonedx.render(inv, prov, open_now)
    run.states += [o.state for o in outcomes]
    run.severities += [f["severity"] for f in found]


def _apply(store: Store, run: int, target: int, outcomes: list[Outcome], now: str) -> None:
    for o in outcomes:
        category = str(o.data.get("category", "unknown"))
        if o.stored is None:
            fid = store.add_finding(run, target, o.fingerprint, category, o.state_hash, o.data, now)
        else:
            fid = o.stored.id
            if o.state in ("new", "updated", "persisting", "acknowledged"):
                store.seen_finding(fid, run, o.state_hash, o.data, now)
            elif o.state in ("resolved", "removed"):
                store.close_finding(fid, run, o.state)
        store.finding_state(run, fid, o.state)
        if o.expired_ack is not None:
            store.expire_ack(o.expired_ack.id, run)
