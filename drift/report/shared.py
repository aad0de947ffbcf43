"""What the engines of one report share while they are scanned at the same time.

- `LayerReader`: layer scans through the layer cache (keyed by the layer's digest), with one
  reader per digest at a time: when two engines hold the same image, the second waits for the
  first and takes its result, so an image present on ten engines is read once. It counts the
  image layers it really read (`reads`: not served by the cache or another engine) and the
  containers' own layers (`own_reads`, never shared), for the report and the bench.
  Each worker process (drift/report/worker.py) has its own; between them the layer cache's file
  lock does the waiting, and the parent adds up their counts.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

_MEMO = 32  # layer scans kept in memory: the layers of the last few images


@contextlib.contextmanager
def _file_lock(key: str) -> Iterator[None]:
    """An advisory lock on one layer key, between processes sharing the layer cache."""
    import fcntl
    import hashlib

    from drift.cache import cache_dir, usable_folder

    folder = os.path.join(cache_dir(), "locks")
    if not usable_folder():  # others can write it: no lock files there (the cache warned once)
        yield
        return
    try:
        os.makedirs(folder, exist_ok=True)
        fd = os.open(os.path.join(folder, hashlib.sha256(key.encode()).hexdigest()[:32]), os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:  # a cache folder we cannot write: no sharing between processes, still correct
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


class LayerReader:
    def __init__(self, no_cache: bool) -> None:
        self.off = no_cache or os.environ.get("DRIFT_NO_CACHE") == "1"
        self.reads = 0
        self.own_reads = 0
        self._local = threading.local()  # one cache connection per engine thread
        self._memo: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._inflight: dict[str, threading.Lock] = {}

    def _cache(self) -> Any:
        from drift.cache import LayerCache

        if self.off:
            return None
        if getattr(self._local, "cache", None) is None:
            self._local.cache = LayerCache()
        return self._local.cache

    def _key_lock(self, key: str) -> threading.Lock:
        with self._lock:
            return self._inflight.setdefault(key, threading.Lock())

    def _memo_get(self, key: str | None) -> Any:
        with self._lock:
            if key is None or key not in self._memo:
                return None
            self._memo.move_to_end(key)
            return self._memo[key]

    def _memo_put(self, key: str | None, scan: Any) -> None:
        if key is None:
            return
        with self._lock:
            self._memo[key] = scan
            while len(self._memo) > _MEMO:
                self._memo.popitem(last=False)

    def __call__(self, layers: list[Any]) -> list[Any]:
        from drift.cache import LayerCache

        keys = [LayerCache.key(layer) for layer in layers]
        out: list[Any] = [self._memo_get(k) for k in keys]
        missing = [i for i, k in enumerate(keys) if k is not None and out[i] is None]
        if missing:  # only image layers not yet read are locked: one reader per layer at a time
            with contextlib.ExitStack() as held:
                for lock_key in sorted({str(keys[i]) for i in missing}):  # one order: no deadlock
                    held.enter_context(self._key_lock(lock_key))
                    if not self.off:  # and between processes (one per engine) sharing the cache's file
                        held.enter_context(_file_lock(lock_key))
                for i in missing:
                    out[i] = self._memo_get(keys[i])
                self._read([i for i in missing if out[i] is None], layers, keys, out)
        self._read([i for i, k in enumerate(keys) if k is None], layers, keys, out)  # containers' own
        return out

    def add(self, reads: int, own_reads: int) -> None:
        """What a worker process's own reader read (drift/report/worker.py)."""
        with self._lock:
            self.reads += reads
            self.own_reads += own_reads

    def _read(self, todo: list[int], layers: list[Any], keys: list[str | None], out: list[Any]) -> None:
        from drift.cache import scan_all

        if not todo:
            return
        cache = self._cache()
        hits = cache.hits if cache else 0
        fresh = scan_all([layers[i] for i in todo], cache)
        own = sum(1 for i in todo if keys[i] is None)
        with self._lock:
            self.reads += len(todo) - own - ((cache.hits - hits) if cache else 0)
            self.own_reads += own
        for i, scan in zip(todo, fresh, strict=True):
            out[i] = scan
            self._memo_put(keys[i], scan)
