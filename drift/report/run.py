"""One `drift report` run: select, scan target by target, record, build the document.

    select targets -> for each (streamed): scan -> states -> store (one transaction) -> doc parts
                   -> targets gone since the last run of this selection -> removed
                   -> trends from the stored counts -> drift.report/v1

Targets are streamed: one target's inspection is dropped before the next is read, so the
memory of a run does not grow with the fleet. The run is recorded whatever happens.
"""

from __future__ import annotations

import datetime as dt
import json
import platform
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, cast

from drift import __version__
from drift import ignore as ignore_mod
from drift.errors import DriftError, EngineUnreachable
from drift.progress import NoProgress, Progress
from drift.report import doc as docmod
from drift.report import engines as engines_mod
from drift.report import quick, trends
from drift.report.engines import EngineSpec
from drift.report.options import Options, now_iso
from drift.report.scan import Scanned, container_meta, dockerfile_for, scan
from drift.report.shared import LayerReader, LockedStore
from drift.report.states import Outcome, fails, transition
from drift.report.targets import Selected, exists, missing_names, select
from drift.store import Store, open_store
from drift.store.records import TargetRow


@dataclass(slots=True)
class _Run:
    store: Store
    id: int
    now: str
    engine_row: int
    engine_name: str
    opts: Options
    scanner: Any
    rules: list[ignore_mod.Rule]
    targets: list[dict[str, Any]] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)
    states: list[str] = field(default_factory=list)
    recorded: set[int] = field(default_factory=set)  # target rows already written in this run
    rules_key: str = ""
    pending_key: str | None = None
    images_seen: dict[str, bool] = field(default_factory=dict)
    key: str = ""  # the selection's key (with the engines when there are others)


def _selection_key(opts: Options, names: list[str]) -> str:
    """The selection, and the engines when they are not just the one of the current context:
    runs over other engines are another series (previous run, removed targets, trends)."""
    key = opts.selection.key()
    if names == [opts.engine_name]:
        return key
    return json.dumps({**json.loads(key), "engines": sorted(names)}, sort_keys=True)


def run_report(opts: Options, *, progress: Progress | None = None, engine: Any = None) -> dict[str, Any]:
    from drift.sources.docker import Engine

    progress = progress or NoProgress()
    started, t0 = now_iso(), time.monotonic()
    rules = ignore_mod.load(list(opts.ignore_folders), list(opts.ignore))
    if engine is not None:
        pairs = [(EngineSpec(opts.engine_name, engine.endpoint), engine)]
    else:
        specs = list(opts.engines) or engines_mod.specs([], False, [], None)
        pairs = [(s, Engine(s.endpoint, timeout=opts.engine_timeout)) for s in specs]
    key = _selection_key(opts, [s.name for s, _ in pairs])
    reader = LayerReader(opts.no_cache)
    with open_store(opts.store, lock_timeout=opts.lock_timeout) as raw:
        store = cast(Store, LockedStore(raw))  # engines' threads share it, one call at a time
        run_id = store.begin_run(
            started=started, version=__version__, selection=key, options=opts.to_json(), host=platform.node()
        )
        previous = store.previous_run(key, run_id)
        shared = (store, run_id, started, key, reader, rules)
        try:
            results = _engines(pairs, shared, opts, progress)
        except BaseException:
            store.finish_run(run_id, finished=now_iso(), status="failed", first_run=previous is None, exit_code=2)
            raise
        engines = [eng for eng, _, _ in results]
        runs = [r for _, r, _ in results]
        trouble = next((t for _, _, t in results if t), None)
        targets = [t for r in runs for t in r.targets]
        states = [s for r in runs for s in r.states]
        first_run = previous is None
        errors = sum(1 for t in targets if t["status"] == "error")
        down = [e for e in engines if e["status"] != "up"]
        failing = fails(states, opts.fail_on) and (not first_run or opts.fail_on_first_run)
        code = 2 if errors or trouble or down else (1 if failing else 0)
        everything_down = len(down) == len(engines)
        status = "failed" if trouble or everything_down else ("partial" if errors or down else "complete")
        finished = now_iso()
        store.finish_run(run_id, finished=finished, status=status, first_run=first_run, exit_code=code)
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
            "first_run": first_run,
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
    """Every engine at once (up to --jobs), one client each; one engine's trouble stays its own."""
    if len(pairs) == 1:
        return [_one_engine(*pairs[0], shared, opts, progress)]
    progress.start(len(pairs))
    try:
        with ThreadPoolExecutor(max_workers=max(1, opts.jobs), thread_name_prefix="drift-engine") as pool:
            futures = [pool.submit(_one_engine, spec, eng, shared, opts, NoProgress()) for spec, eng in pairs]
            out = []
            for spec, future in zip(pairs, futures, strict=True):
                out.append(future.result())
                progress.step(f"engine {spec[0].name}")
            return out
    finally:
        progress.stop()


def _one_engine(
    spec: EngineSpec, engine: Any, shared: tuple[Any, ...], opts: Options, progress: Progress
) -> tuple[dict[str, Any], _Run, str | None]:
    store, run_id, started, key, reader, rules = shared
    eng = engines_mod.identify(engine, spec, store.engine_id(spec.name))
    changed = eng.pop("changed", False)  # reported down, its ID not recorded: never merged
    engine_row = store.engine(
        eng["name"], eng["endpoint"], None if changed else eng["id"], started if eng["status"] == "up" else None
    )
    run = _Run(store, run_id, started, engine_row, eng["name"], opts, reader, rules, key=key)
    run.rules_key = repr([(r.pattern, r.negate) for r in rules])
    trouble = None
    if eng["status"] == "up":
        try:
            _scan_all(run, engine, progress)
        except EngineUnreachable as exc:
            eng.update(status="down", error=str(exc))
        except DriftError as exc:  # the engine refused the selection (a bad --filter, ...)
            trouble = str(exc)
    if eng["status"] == "down":
        _engine_down(run, eng["error"])
    return eng, run, trouble


def _trends(store: Store, key: str, engines: set[str], targets: list[dict[str, Any]]) -> dict[str, Any]:
    runs = store.runs_of_selection(key)
    rows = store.counts(first_run=runs[0][0]) if runs else []
    keys = {f"{t['engine']}/{t['kind']}/{t['name']}" for t in targets}
    return trends.build(rows, engines, keys, runs)


def _scan_all(run: _Run, engine: Any, progress: Progress) -> None:
    selected = select(engine, run.opts.selection)
    seen = {(s.kind, s.name) for s in selected}
    progress.start(len(selected))
    try:
        for target in sorted(selected, key=lambda t: (t.kind, t.image_id or "", t.name)):  # image by image
            progress.step(f"{target.kind} {target.name}")
            _one(run, engine, target)
    finally:
        progress.stop()
    known = run.store.targets_of_selection(run.engine_row, run.key)
    for name in missing_names(run.opts.selection, selected):
        if not any(row.name == name for row in known):
            row = run.store.target(run.engine_row, "container", name)
            _record(run, row, None, "error", [], error=f"no container or image named {name!r} on the engine")
    for row in known:
        if row.id not in run.recorded and (row.kind, row.name) not in seen and not exists(engine, row.kind, row.name):
            _gone(run, row)


def _one(run: _Run, engine: Any, target: Selected) -> None:
    row = run.store.target(run.engine_row, target.kind, target.name)
    try:
        if _unchanged(run, engine, target, row):
            return
        scanned = _scan_live(run, engine, target, row)
    except EngineUnreachable:
        raise
    except Exception as exc:  # one target's trouble never stops the run; it is recorded as its error
        if not exists(engine, target.kind, target.id):
            _gone(run, row)  # it went away while it was being read
            return
        _record(run, row, None, "error", [], error=_reason(exc))
        return
    scanned.scan_key = run.pending_key
    kept, _ = ignore_mod.split(scanned.findings, run.rules)
    _record(run, row, scanned, _status(row), [f.to_json() for f in kept])


def _scan_live(run: _Run, engine: Any, target: Selected, row: TargetRow) -> Scanned:
    """A running container can change while it is read (a file gone between listing and
    reading it): read it once more before calling it an error."""
    for attempt in (1, 2):
        try:
            return scan(
                engine,
                target,
                scanner=run.scanner,
                dockerfiles=list(run.opts.dockerfiles),
                baseline=row.baseline,
                project=run.opts.project,
            )
        except OSError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, DriftError):
        text = str(exc)
    elif isinstance(exc, OSError):
        where = f" {exc.filename}" if exc.filename else ""
        text = f"its files changed or could not be read while drift read them ({exc.strerror or exc}{where})"
    else:
        text = f"unexpected {type(exc).__name__}: {exc}"
    return text.splitlines()[0] if text.strip() else type(exc).__name__


def _status(row: TargetRow) -> str:
    return "new" if row.last_ok_run is None or row.last_status == "removed" else "scanned"


def _unchanged(run: _Run, engine: Any, target: Selected, row: TargetRow) -> bool:
    """A container identical to its last full scan: carry its findings over without reading it."""
    run.pending_key = None
    if target.kind == "image":
        return _image_unchanged(run, engine, target, row)
    attrs = engine.find_container(target.id)
    if attrs is None:
        raise DriftError(f"container {target.name} is gone")
    run.pending_key = quick.signature(attrs, run.rules_key)
    if run.pending_key is None or run.pending_key != row.scan_key or _status(row) != "scanned":
        return False
    image_id = str(attrs.get("Image") or "")
    if image_id not in run.images_seen:  # a full scan would need the image: so does a shortcut
        run.images_seen[image_id] = engine.find_image(image_id) is not None
    if not run.images_seen[image_id]:
        return False
    scanned = container_meta(attrs, target, [])
    scanned.scan_key, scanned.reused = run.pending_key, True
    _record(run, row, scanned, "scanned", None)
    return True


def _image_unchanged(run: _Run, engine: Any, target: Selected, row: TargetRow) -> bool:
    """An image compared with its baseline is immutable by id: the same id gives the same findings.
    (An image audited against a Dockerfile is always read: its build context may have changed.)"""
    if dockerfile_for(engine, target, list(run.opts.dockerfiles), run.opts.project) is not None:
        return False
    run.pending_key = quick.image_signature(target.id, run.rules_key)
    if row.baseline is None or run.pending_key != row.scan_key or _status(row) != "scanned":
        return False
    if row.image_id != target.id:
        return False
    scanned = Scanned([], f"its baseline inventory of {row.baseline.get('recorded')}", target.name, target.id)
    scanned.scan_key, scanned.reused = run.pending_key, True
    _record(run, row, scanned, "scanned", None)
    return True


def _gone(run: _Run, row: TargetRow) -> None:
    _record(run, row, None, "removed", [])


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
) -> None:
    """Record one target's outcome; `current` None means: the findings open now are still there."""
    store = run.store
    run.recorded.add(row.id)
    scan_state = "scanned" if scanned is not None else ("removed" if status == "removed" else "error")
    with store.transaction():
        previous = store.open_findings(row.id)
        seen = current if current is not None else [s.data for s in previous.values()]
        outcomes = transition(scan_state, previous, seen, store.acks(row.id), run.now)  # type: ignore[arg-type]
        redeployed = _redeployed(row, scanned)
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
    )
    run.targets.append(t.to_json(docmod.target_counts(outcomes)))
    run.findings += [docmod.finding_json(t, o, now=run.now, run=run.id) for o in outcomes]
    run.states += [o.state for o in outcomes]


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
