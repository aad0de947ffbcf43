"""The read interface every source provides: layers of entries, merged into one view.

A source (container, image, archive, OCI layout, root folder) is a stack of layers. Each
layer is scanned once into a `LayerScan`: every path with its metadata, the whiteouts and
opaque folders it applies, and the content of the few files drift needs (package
databases, Python metadata), captured while streaming. The collectors in
`drift.inventory` see only a `View` of merged scans; they never see Docker.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import BinaryIO, NamedTuple, Protocol

# Files whose content is captured while a layer is scanned. Everything else is read on
# demand from the layer (random access) and only when a command needs it (snapshot).
_CAPTURE_EXACT = {
    "/var/lib/dpkg/status",
    "/var/lib/apt/extended_states",
}
_CAPTURE_PREFIX = ("/var/lib/dpkg/status.d/", "/var/lib/dpkg/alternatives/")
_DPKG_INFO = (".list", ".postinst", ".preinst", ".config")
_DIST_INFO_FILES = {"METADATA", "REQUESTED", "INSTALLER", "direct_url.json", "RECORD"}
_EGG_INFO_FILES = {"PKG-INFO", "requires.txt", "installed-files.txt", "INSTALLER", "REQUESTED"}
_MD5_PREFIX = "/etc/"
MAX_CAPTURE = 16 * 1024 * 1024  # per file; larger files are read on demand, streamed
LAYER_BUDGET = 96 * 1024 * 1024  # captured content per layer; beyond it, on demand too
MAX_MD5 = 4 * 1024 * 1024
MAX_READ = 64 * 1024 * 1024  # View.read: a larger file is not read whole (None); stream it with open()

_PY_MANAGED = re.compile(r"^/usr/lib/python3(\.\d+)?/EXTERNALLY-MANAGED$")


def wants_content(path: str) -> bool:
    """Is this file's content captured when its layer is scanned?"""
    if path in _CAPTURE_EXACT or path.startswith(_CAPTURE_PREFIX):
        return True
    base = path.rsplit("/", 1)[-1]
    if base == "pyvenv.cfg":
        return True
    if path.startswith("/var/lib/dpkg/info/") and base.endswith(_DPKG_INFO):
        return True
    parent = path[: -len(base) - 1]
    parent_base = parent.rsplit("/", 1)[-1]
    if parent_base.endswith(".dist-info"):
        return base in _DIST_INFO_FILES
    if parent_base.endswith(".egg-info"):
        return base in _EGG_INFO_FILES
    if base.endswith(".egg-info") and ("-packages/" in path):
        return True  # a single-file egg-info is the PKG-INFO itself
    return bool(_PY_MANAGED.match(path))


def wants_md5(path: str) -> bool:
    return path.startswith(_MD5_PREFIX)


class Entry(NamedTuple):
    """One path of a layer. A tuple: tens of thousands per image, stored as JSON rows in the cache."""

    kind: str  # file, dir, symlink, hardlink, char, block, fifo, socket
    mode: int
    uid: int
    gid: int
    size: int
    mtime: int
    linkname: str = ""


@dataclass(slots=True)
class LayerScan:
    """What one layer holds: paths, deletions, captured content. Picklable (cached)."""

    digest: str | None
    entries: dict[str, Entry] = field(default_factory=dict)
    whiteouts: list[str] = field(default_factory=list)
    opaque: list[str] = field(default_factory=list)
    blobs: dict[str, bytes] = field(default_factory=dict)
    md5: dict[str, str] = field(default_factory=dict)
    captured: int = 0  # bytes held in blobs (bounded by LAYER_BUDGET)


class Layer(Protocol):
    """A layer handle: scan it once; open a file of it when its content is needed."""

    digest: str | None
    description: str

    def scan(self) -> LayerScan: ...

    def open(self, path: str) -> BinaryIO: ...


def normalize(name: str) -> str | None:
    """A member name as an absolute path inside the root, or None if it escapes it."""
    stripped = name.lstrip("/")
    if stripped in ("", ".", "./"):
        return "/"
    norm = posixpath.normpath("/" + stripped)
    parts = stripped.split("/")
    if ".." in parts:
        # Resolve lexically: any '..' that climbs above the root escapes it.
        depth = 0
        for part in parts:
            if part == "..":
                depth -= 1
                if depth < 0:
                    return None
            elif part not in ("", "."):
                depth += 1
    return norm


def capture(path: str, size: int, read: Callable[[], bytes], scan: LayerScan) -> None:
    """Record what a scan keeps of a regular file: its content and/or its md5."""
    want_blob = size <= MAX_CAPTURE and scan.captured + size <= LAYER_BUDGET and wants_content(path)
    want_md5 = size <= MAX_MD5 and wants_md5(path)
    if not (want_blob or want_md5):
        return
    data = read()
    if want_blob:
        scan.blobs[path] = data
        scan.captured += len(data)
    if want_md5:
        scan.md5[path] = hashlib.md5(data, usedforsecurity=False).hexdigest()


class View:
    """Layers merged in order, whiteouts and opaque folders applied."""

    def __init__(self, scans: list[LayerScan], handles: list[Layer] | None = None) -> None:
        self.scans = scans
        self.handles = handles
        self.entries: dict[str, Entry] = {}
        self.layer_of: dict[str, int] = {}
        self._children: dict[str, set[str]] | None = None
        for index, scan in enumerate(scans):
            self._apply(index, scan)
        self._resolved: dict[str, str] = {}

    @classmethod
    def stacked(cls, base: View, scans: list[LayerScan], handles: list[Layer] | None = None) -> View:
        """The view of SCANS, whose first layers are BASE's very scans: BASE's merge copied and
        only the layers above it applied (a report's containers of one image share its base)."""
        if len(scans) < len(base.scans) or any(a is not b for a, b in zip(base.scans, scans, strict=False)):
            return cls(scans, handles)
        view = cls.__new__(cls)
        view.scans = scans
        view.handles = handles
        view.entries = dict(base.entries)
        view.layer_of = dict(base.layer_of)
        view._children = {k: set(v) for k, v in base._children.items()} if base._children is not None else None
        for index in range(len(base.scans), len(scans)):
            view._apply(index, scans[index])
        view._resolved = {}
        return view

    @property
    def children(self) -> dict[str, set[str]]:
        """Folder -> the paths directly in it; built on first use, then kept up to date."""
        if self._children is None:
            kids: dict[str, set[str]] = {}
            for path in self.entries:
                if path != "/":
                    kids.setdefault(path.rpartition("/")[0] or "/", set()).add(path)
            self._children = kids
        return self._children

    # -- merging -------------------------------------------------------------------------
    def _remove_tree(self, path: str) -> None:
        entry = self.entries.get(path)
        if entry is None:
            return
        if entry.kind == "dir":
            for child in list(self.children.get(path, ())):
                self._remove_tree(child)
            self.children.pop(path, None)
        del self.entries[path]
        self.layer_of.pop(path, None)
        if self._children is not None:
            siblings = self._children.get(path.rpartition("/")[0] or "/")
            if siblings is not None:
                siblings.discard(path)

    def _apply(self, index: int, scan: LayerScan) -> None:
        for folder in scan.opaque:
            for child in list(self.children.get(folder, ())):
                self._remove_tree(child)
        for path in scan.whiteouts:
            self._remove_tree(path)
        if self.entries:
            for path in scan.entries.keys() & self.entries.keys():
                if self.entries[path].kind == "dir" and scan.entries[path].kind != "dir":
                    self._remove_tree(path)  # a folder replaced by a file or link
        self.entries.update(scan.entries)
        self.layer_of.update(dict.fromkeys(scan.entries, index))
        if self._children is not None:
            for path in scan.entries:
                if path != "/":
                    self._children.setdefault(path.rpartition("/")[0] or "/", set()).add(path)

    # -- reading -------------------------------------------------------------------------
    def exists(self, path: str) -> bool:
        return path in self.entries

    def file_of(self, path: str) -> tuple[str, Entry] | None:
        """The path whose content a path shows (hard links followed, a few hops at most)."""
        for _ in range(8):
            entry = self.entries.get(path)
            if entry is None or entry.kind != "hardlink":
                return (path, entry) if entry is not None else None
            path = entry.linkname
        return None  # a hard-link loop (crafted across layers): no content

    def read(self, path: str, limit: int = MAX_READ) -> bytes | None:
        """Content of a regular file (captured, else read from its layer), or None; None too
        when the file is larger than `limit` (a crafted size must not fill memory)."""
        found = self.file_of(path)
        if found is None or found[1].kind != "file" or found[1].size > limit:
            return None
        path = found[0]
        index = self.layer_of[path]
        blob = self.scans[index].blobs.get(path)
        if blob is not None:
            return blob
        if self.handles is None:
            return None
        with self.handles[index].open(path) as fh:
            return fh.read()

    def open(self, path: str) -> BinaryIO:
        found = self.file_of(path)
        if found is None:
            raise FileNotFoundError(path)
        path = found[0]
        index = self.layer_of[path]
        if self.handles is None:
            import io

            return io.BytesIO(self.scans[index].blobs[path])
        return self.handles[index].open(path)

    def md5(self, path: str) -> str | None:
        found = self.file_of(path)
        if found is None:
            return None
        path = found[0]
        digest = self.scans[self.layer_of[path]].md5.get(path)
        if digest is not None:
            return digest
        if found[1].kind != "file":
            return None
        blob = self.scans[self.layer_of[path]].blobs.get(path)
        if blob is not None or self.handles is None:
            return hashlib.md5(blob, usedforsecurity=False).hexdigest() if blob is not None else None
        md5 = hashlib.md5(usedforsecurity=False)
        with self.open(path) as fh:  # streamed: the file may be large
            while chunk := fh.read(1 << 20):
                md5.update(chunk)
        return md5.hexdigest()

    def listdir(self, path: str) -> list[str]:
        return sorted(self.children.get(path, ()))

    def resolve(self, path: str, *, depth: int = 0) -> str:
        """Resolve symlinks in every component, inside the root (chroot semantics).

        Absolute link targets are taken relative to the root, and '..' stops at the root:
        a link is read, never followed out of the filesystem being inspected.
        """
        if path in self._resolved:
            return self._resolved[path]
        if depth > 40:
            return path
        out = "/"
        parts = [p for p in path.split("/") if p]
        for i, part in enumerate(parts):
            candidate = posixpath.join(out, part)
            entry = self.entries.get(candidate)
            if entry is not None and entry.kind == "symlink":
                target = entry.linkname
                base = "/" if target.startswith("/") else out
                # '..' above the root stays at the root, as in a chroot
                joined = posixpath.normpath("/" + posixpath.join(base, target).lstrip("/"))
                rest = "/".join(parts[i + 1 :])
                full = posixpath.join(joined, rest) if rest else joined
                result = self.resolve(full, depth=depth + 1)
                self._resolved[path] = result
                return result
            out = candidate
        self._resolved[path] = out
        return out

    def resolve_parent(self, path: str) -> str:
        """Resolve symlinks in the folders of a path, not in its last component."""
        parent, base = posixpath.split(path)
        return posixpath.join(self.resolve(parent), base)


def touched_paths(scans: Iterable[LayerScan]) -> set[str]:
    """Every path a set of layers adds, changes or deletes."""
    out: set[str] = set()
    for scan in scans:
        out.update(scan.entries)
        out.update(scan.whiteouts)
        out.update(scan.opaque)
    return out
