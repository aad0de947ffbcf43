"""One process per engine: the engines of a report scanned at the same time on every core.

Reading a container's inventory is CPU work, which threads cannot spread over cores in
Python. With more than one engine (and `--jobs` above 1), each engine is scanned in a forked
worker process with its own engine client, its own store connection (the parent process holds
the store's lock for the whole run; the workers write their short per-target transactions
under it) and its own layer reader. The layer cache, keyed by digest, is shared through its
file, with a lock file per layer, so an image present on several engines is read once.
A worker sends back its engine's part of the report document.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from drift.report.engines import EngineSpec
from drift.report.options import NoProgress, Options, Progress


@dataclass(frozen=True, slots=True)
class EnginePart:
    """One engine's part of a run, as its worker sends it back."""

    engine: dict[str, Any]
    targets: list[dict[str, Any]]
    findings: list[dict[str, Any]]
    states: list[str]
    trouble: str | None
    reads: int
    own_reads: int


def available() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def scan_engines(
    specs: list[EngineSpec], opts: Options, run: tuple[int, str, str, Any], progress: Progress
) -> list[EnginePart]:
    context = multiprocessing.get_context("fork")
    progress.start(len(specs))
    try:
        with ProcessPoolExecutor(max_workers=min(opts.jobs, len(specs)), mp_context=context) as pool:
            futures = [pool.submit(_worker, spec, opts, run) for spec in specs]
            out = []
            for spec, future in zip(specs, futures, strict=True):
                out.append(future.result())
                progress.step(f"engine {spec.name}")
            return out
    finally:
        progress.stop()


def _worker(spec: EngineSpec, opts: Options, run: tuple[int, str, str, Any]) -> EnginePart:
    from drift.report.run import one_engine
    from drift.report.shared import LayerReader, LockedStore
    from drift.sources.docker import Engine
    from drift.store import open_store

    run_id, started, key, rules = run
    reader = LayerReader(opts.no_cache)
    with open_store(opts.store, lock_timeout=opts.lock_timeout, locked=False) as raw:
        store = LockedStore(raw)
        engine = Engine(spec.endpoint, timeout=opts.engine_timeout)
        part = one_engine(spec, engine, (store, run_id, started, key, reader, rules), opts, NoProgress())
    return EnginePart(*part, reader.reads, reader.own_reads)
