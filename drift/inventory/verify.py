"""Package files checked against what their package recorded.

dpkg keeps an md5 of every file a package installs (`/var/lib/dpkg/info/PKG[:ARCH].md5sums`;
conffiles are left out there and keep their own rule, `apt.py`'s conffile check), and pip's
`RECORD` holds a sha256 and a size per file. A file whose content is not the recorded one was
changed after the package put it there: by hand, or by something that should be said.

Checking every file of every package is what `debsums` does, and costs a read of every byte.
The default screen reads no content to choose what to hash:

- pip: the size `RECORD` gives differs from the file's size;
- the file's mtime is later than the package's installation (the mtime of its dpkg file list,
  or of its `RECORD`: both are written when the install ends, while dpkg gives its files the
  archive's mtimes and pip the time of its own writes, which come before);
- the file was written in a layer above the one holding the package's file list or RECORD.

What passes the screen is hashed, and only a hash that differs is a finding: the screen decides
the cost, never the verdict. A person who resets an edited file's mtime (`touch -r`) in the same
layer as the install passes the screen; `--verify-packages` (mode "full") hashes every file of
every package instead.

Not checked: diverted files (`dpkg-divert`: another package's content sits at the path),
files without a recorded digest (pip's bytecode rows, setuptools' `installed-files.txt`), and
anything but regular files (a package file replaced by a link is a kind change, which the file
delta sees).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import posixpath
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Literal

from drift.inventory.apt import INFO, aliases
from drift.model import PackageDigest, PipPackage
from drift.sources.fs import View
from drift.sources.layers import DirLayer

Mode = Literal["screen", "full"]
DIVERSIONS = "/var/lib/dpkg/diversions"
MAX_SUMS = 64 << 20  # one md5sums file or RECORD; a real one is a few hundred KB at most
MAX_LINE = 1 << 16
PIP_ALGORITHMS = frozenset({"sha256", "sha384", "sha512"})

_mode: list[Mode] = ["screen"]
_remember: list[bool] = [False]  # keep digests of image layers' files in the layer cache
_caches: dict[int, Any] = {}  # pid -> LayerCache (a forked report worker opens its own)


def configure(mode: Mode, *, cache: bool = False) -> None:
    """How package files are checked in this process ("screen", or "full" for --verify-packages),
    and whether the digests of image layers' files are kept in the layer cache (an image layer
    never changes under its digest: a fleet of one image's containers hashes its files once).
    Set once by the command line before a command reads anything; report workers inherit it."""
    _mode[0] = mode
    _remember[0] = cache


def _cache() -> Any:
    if not _remember[0]:
        return None
    pid = os.getpid()
    if pid not in _caches:
        from drift.cache import LayerCache

        _caches.clear()
        _caches[pid] = LayerCache()
    return _caches[pid]


def _layer_key(layer: Any) -> str | None:
    """The cache key of an image layer whose files' digests may be kept (None: a container's own
    layer, a root folder, an archive layer not hashed against its digest)."""
    from drift.cache import LayerCache, _trusted

    return LayerCache.key(layer) if _trusted(layer) else None


def mode() -> Mode:
    return _mode[0]


@dataclass(frozen=True, slots=True)
class Recorded:
    """What one package recorded for one path."""

    package: str  # "apt:NAME" or "pip:NAME"
    algorithm: str  # md5, sha256 ...
    digest: str  # hex
    size: int | None = None
    installed: str = ""  # the path of the file list or RECORD (its mtime and layer are the install's)


@dataclass(slots=True)
class Verified:
    """What a check found, and what it cost."""

    modified: dict[str, PackageDigest] = field(default_factory=dict)
    hashed: int = 0
    remembered: int = 0  # digests the layer cache kept for an image layer's files
    hashed_bytes: int = 0
    checked: int = 0


def _digest(
    view: View, path: str, algorithm: str, opener: Callable[[], BinaryIO] | None = None
) -> tuple[str | None, int]:
    try:
        h = hashlib.new(algorithm, usedforsecurity=False)
        size = 0
        with (opener or (lambda: view.open(path)))() as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
                size += len(chunk)
        return h.hexdigest(), size
    except (OSError, KeyError, ValueError):
        return None, 0


# -- dpkg ------------------------------------------------------------------------------------
def diverted(view: View) -> set[str]:
    """Paths whose content is not their package's: diverted ones and where they were moved to."""
    data = view.read(DIVERSIONS, MAX_SUMS) or b""
    lines = data.decode("utf-8", errors="surrogateescape").split("\n")
    out: set[str] = set()
    for i in range(0, len(lines) - 2, 3):
        out.update((lines[i], lines[i + 1]))
    return out


def _lines(view: View, path: str) -> Iterator[bytes]:
    data = view.read(path, MAX_SUMS)
    if data is None:
        return
    for line in data.split(b"\n"):
        if 0 < len(line) <= MAX_LINE:
            yield line


def md5sums_files(view: View, packages: Iterable[str] | None) -> dict[str, list[str]]:
    """Package name -> its md5sums files (one per architecture); every package's with None."""
    wanted = set(packages) if packages is not None else None
    out: dict[str, list[str]] = {}
    for path in view.listdir(INFO):
        if not path.endswith(".md5sums"):
            continue
        name = posixpath.basename(path)[: -len(".md5sums")].split(":", 1)[0]
        if wanted is None or name in wanted:
            out.setdefault(name, []).append(path)
    return out


def _spellings(view: View) -> list[tuple[str, str]]:
    """(how dpkg may spell a folder, the real folder): /lib/x is /usr/lib/x when /lib -> usr/lib."""
    return [(alias, real) for real, alias in aliases(view)]


def _real(path: str, spellings: list[tuple[str, str]]) -> str:
    for alias, real in spellings:
        if path.startswith(alias + "/"):
            return real + path[len(alias) :]
    return path


def apt_records(view: View, packages: Iterable[str] | None, paths: set[str] | None) -> dict[str, list[Recorded]]:
    """Real path -> what dpkg recorded for it, for these packages (all with None), limited to
    PATHS when given (then a line is matched as bytes, through every spelling of the path, and
    only the matching ones are decoded)."""
    spellings = _spellings(view)
    wanted: dict[bytes, str] | None = None
    if paths is not None:
        wanted = {}
        for path in paths:
            wanted[path[1:].encode("utf-8", "surrogateescape")] = path
            for alias, real in spellings:
                if path.startswith(real + "/"):
                    wanted[(alias + path[len(real) :])[1:].encode("utf-8", "surrogateescape")] = path
    out: dict[str, list[Recorded]] = {}
    for name, sums in sorted(md5sums_files(view, packages).items()):
        for sums_path in sums:
            listfile = sums_path[: -len(".md5sums")] + ".list"
            for line in _lines(view, sums_path):
                digest, sep, rel = line.partition(b"  ")
                if not sep or len(digest) != 32:
                    continue
                if wanted is not None:
                    found = wanted.get(rel.lstrip(b"/"))
                    if found is None:
                        continue
                    path = found
                else:
                    path = _real("/" + rel.decode("utf-8", errors="surrogateescape").lstrip("/"), spellings)
                out.setdefault(path, []).append(
                    Recorded(f"apt:{name}", "md5", digest.decode("ascii", errors="replace"), None, listfile)
                )
    return out


def apt_suspects(view: View, owners: dict[str, str], paths: Iterable[str]) -> set[str]:
    """The screen for dpkg's files, before any md5sums is read: PATHS (owned per OWNERS) written
    after their package's file list (a later mtime, or a layer above it). dpkg records no size."""
    lists: dict[str, list[str]] = {}
    for listfile in view.listdir(INFO):
        if listfile.endswith(".list"):
            lists.setdefault(posixpath.basename(listfile)[: -len(".list")].split(":", 1)[0], []).append(listfile)
    out: set[str] = set()
    for path in paths:
        owner = owners.get(path)
        entry = view.entries.get(path)
        if owner is None or entry is None:
            continue
        layer = view.layer_of.get(path, -1)
        for listfile in lists.get(owner, ()) or [""]:
            installed = view.entries.get(listfile)
            if installed is None or entry.mtime > installed.mtime or layer > view.layer_of.get(listfile, -1):
                out.add(path)
                break
    return out


# -- pip -------------------------------------------------------------------------------------
def _record_digest(value: str) -> tuple[str, str] | None:
    algorithm, sep, b64 = value.partition("=")
    if not sep or algorithm not in PIP_ALGORITHMS:
        return None
    try:
        raw = base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4))
    except (ValueError, TypeError):
        return None
    return algorithm, raw.hex()


def pip_records(view: View, packages: Iterable[PipPackage], paths: set[str] | None) -> dict[str, list[Recorded]]:
    """Path -> what each distribution's RECORD holds for it (rows with a digest only)."""
    out: dict[str, list[Recorded]] = {}
    for pkg in packages:
        meta = pkg.metadata_path
        if not meta.endswith(".dist-info"):
            continue  # egg-info records no digests
        record = f"{meta}/RECORD"
        for line in _lines(view, record):
            parts = line.decode("utf-8", errors="surrogateescape").rsplit(",", 2)
            if len(parts) != 3:
                continue
            row, digest_field, size_field = parts
            row = row.strip().strip('"')
            found = _record_digest(digest_field.strip())
            if not row or found is None:
                continue
            path = posixpath.normpath(row if row.startswith("/") else posixpath.join(pkg.location, row))
            if paths is not None and path not in paths:
                continue
            size = int(size_field) if size_field.strip().isdigit() and len(size_field) <= 20 else None
            out.setdefault(path, []).append(Recorded(f"pip:{pkg.name}", found[0], found[1], size, record))
    return out


# -- the check -------------------------------------------------------------------------------
def suspect(view: View, path: str, records: list[Recorded]) -> bool:
    """Does anything that costs no read say this file may differ from its record?"""
    entry = view.entries.get(path)
    if entry is None:
        return False
    layer = view.layer_of.get(path, -1)
    for rec in records:
        if rec.size is not None and rec.size != entry.size:
            return True
        installed = view.entries.get(rec.installed)
        if installed is None:
            return True  # nothing says when it was installed: hash it
        if entry.mtime > installed.mtime or layer > view.layer_of.get(rec.installed, -1):
            return True
    return False


def check(view: View, records: dict[str, list[Recorded]], *, full: bool, skip: Iterable[str] = ()) -> Verified:
    """Hash what the screen (or FULL) picks; a file matching none of its records is modified.

    A path several packages record (a file pip reinstalled over another distribution's, a
    file shared by two architectures) is modified only when it matches none of them. Files are
    hashed by a few threads: opening, reading and hashing all release the GIL, so a full check
    keeps both cores of a small machine busy."""
    out = Verified()
    todo = _plan(view, records, full, set(skip), out)
    actual = _hash(view, todo, out)
    _verdict(records, actual, out)
    return out


def _plan(
    view: View, records: dict[str, list[Recorded]], full: bool, skipped: set[str], out: Verified
) -> list[tuple[str, str]]:
    """(path, algorithm) pairs to hash: every record's with FULL, else what the screen suspects."""
    todo: list[tuple[str, str]] = []
    for path in sorted(records):
        if path in skipped:
            continue
        found = view.file_of(path)
        if found is None or found[1].kind != "file":
            continue
        recs = records[path]
        out.checked += 1
        if full or suspect(view, path, recs):
            todo += [(path, algorithm) for algorithm in sorted({rec.algorithm for rec in recs})]
    return todo


def _hash(view: View, todo: list[tuple[str, str]], out: Verified) -> dict[str, dict[str, str | None]]:
    actual: dict[str, dict[str, str | None]] = {}
    digests, remembered = _hash_all(view, todo)
    for (path, algorithm), (digest, size) in zip(todo, digests, strict=True):
        out.hashed_bytes += size
        actual.setdefault(path, {})[algorithm] = digest
    out.hashed += len(todo) - remembered
    out.remembered += remembered
    return actual


def _verdict(records: dict[str, list[Recorded]], actual: dict[str, dict[str, str | None]], out: Verified) -> None:
    for path, sums in sorted(actual.items()):
        recs = records[path]
        first = recs[0]
        now = sums.get(first.algorithm)
        if now is None or any(sums.get(rec.algorithm) == rec.digest for rec in recs):
            continue  # unreadable (not a verdict), or as recorded
        out.modified[path] = PackageDigest(first.package, first.algorithm, first.digest, now)


# Hashing is CPU-bound once files are in the page cache: one thread per core the process may use
# (4 threads on this 2-core machine took 10% more CPU and more time than 2).
_WORKERS = max(2, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 2)


class FullCheck:
    """--verify-packages started early: every dpkg file of VIEW hashed in the background (a
    daemon thread driving the hashing threads) from the moment the merged view exists, while
    the rest of the inspection (the base, the package databases) goes on; the two share this
    machine's cores instead of taking turns. `result(pip_packages)` waits for it, then hashes
    the pip distributions' files (known only once the environments are read; a small share of
    the bytes) and gives the verdict on both records together."""

    def __init__(self, view: View) -> None:
        self._view = view
        self._value: tuple[dict[str, list[Recorded]], set[str], dict[str, dict[str, str | None]], Verified] | None
        self._value = None
        self._error: BaseException | None = None
        self._done: Verified | None = None
        self._thread = threading.Thread(target=self._run, name="drift-verify", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            view = self._view
            records = apt_records(view, None, None)
            skipped = diverted(view)
            out = Verified()
            actual = _hash(view, _plan(view, records, True, skipped, out), out)
            self._value = (records, skipped, actual, out)
        except BaseException as exc:  # handed to the caller of result()
            self._error = exc

    def result(self, pip_packages: Iterable[PipPackage]) -> Verified:
        if self._done is not None:
            return self._done
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._value is not None
        records, skipped, actual, out = self._value
        view = self._view
        pip = pip_records(view, list(pip_packages), None)
        planned = _plan(view, pip, True, skipped, Verified())
        out.checked += len({path for path, _ in planned} - set(records))  # a path dpkg records too counts once
        for path, recs in pip.items():
            records.setdefault(path, []).extend(recs)
        todo = [(path, alg) for path, alg in planned if alg not in actual.get(path, {})]
        for path, sums in _hash(view, todo, out).items():
            actual.setdefault(path, {}).update(sums)
        _verdict(records, actual, out)
        self._done = out
        return out


def _hash_all(view: View, todo: list[tuple[str, str]]) -> tuple[list[tuple[str | None, int]], int]:
    """The digests of TODO, in its order, and how many of them the layer cache kept. Files are
    grouped by the layer folder that holds them, so a folder is reached once (component by
    component, no link followed) for all its files."""
    groups: dict[tuple[int, str], list[int]] = {}
    reals: list[str] = []
    for i, (path, _) in enumerate(todo):
        found = view.file_of(path)
        real = found[0] if found is not None else path
        reals.append(real)
        groups.setdefault((view.layer_of.get(real, -1), posixpath.dirname(real)), []).append(i)
    out: list[tuple[str | None, int]] = [(None, 0)] * len(todo)
    known, keys = _remembered(view, todo, groups)
    for i, value in known.items():
        out[i] = value

    local = threading.local()

    def run(key: tuple[int, str]) -> None:
        layer, folder = key
        handle = view.handles[layer] if view.handles is not None and layer >= 0 else None
        fd = -1
        if isinstance(handle, DirLayer):
            with contextlib.suppress(OSError):
                fd = handle.open_folder(folder)
        buf = getattr(local, "buf", None)
        if buf is None:
            buf = local.buf = bytearray(1 << 18)
        try:
            for i in groups[key]:
                if i in known:
                    continue
                path, algorithm = todo[i]
                if fd < 0:
                    out[i] = _digest(view, path, algorithm)
                    continue
                try:
                    out[i] = handle.digest_in(fd, posixpath.basename(reals[i]), algorithm, buf)  # type: ignore[union-attr]
                except (OSError, ValueError):
                    out[i] = (None, 0)
        finally:
            if fd >= 0:
                os.close(fd)

    if len(todo) - len(known) < 64:
        for key in groups:
            run(key)
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
            list(pool.map(run, groups))
    _remember_new(view, todo, out, known, keys)
    return out, len(known)


def _remembered(
    view: View, todo: list[tuple[str, str]], groups: dict[tuple[int, str], list[int]]
) -> tuple[dict[int, tuple[str | None, int]], dict[int, str]]:
    """Digests the layer cache kept for TODO's files (same size and mtime), and the cache key of
    each image layer involved."""
    cache = _cache()
    if cache is None or view.handles is None:
        return {}, {}
    keys: dict[int, str] = {}
    for layer in {layer for layer, _ in groups if layer >= 0}:
        key = _layer_key(view.handles[layer])
        if key is not None:
            keys[layer] = key
    known: dict[int, tuple[str | None, int]] = {}
    for layer, key in keys.items():
        rows = cache.digests(key)
        for (layer_, _), items in groups.items():
            if layer_ != layer:
                continue
            for i in items:
                path, algorithm = todo[i]
                found = view.file_of(path)
                if found is None:
                    continue
                row = rows.get((found[0], algorithm))
                if row is not None and row[:2] == (found[1].size, found[1].mtime):
                    known[i] = (row[2], row[0])
    return known, keys


def _remember_new(
    view: View,
    todo: list[tuple[str, str]],
    out: list[tuple[str | None, int]],
    known: dict[int, tuple[str | None, int]],
    keys: dict[int, str],
) -> None:
    cache = _cache()
    if cache is None or not keys:
        return
    rows: dict[str, list[tuple[str, str, int, int, str]]] = {}
    for i, (path, algorithm) in enumerate(todo):
        digest = out[i][0]
        found = view.file_of(path)
        if i in known or digest is None or found is None:
            continue
        key = keys.get(view.layer_of.get(found[0], -1))
        if key is not None:
            rows.setdefault(key, []).append((found[0], algorithm, found[1].size, found[1].mtime, digest))
    for key, batch in rows.items():
        cache.put_digests(key, batch)
