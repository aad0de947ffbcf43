"""The snapshot's build context: where each copied path goes, and writing it safely.

An image is untrusted input, so two rules hold here:

* Plan time (`Placer`): a copied path is first resolved inside the image's own tree
  (chroot semantics, `View.resolve_parent`), so it lands where the image really keeps it.
  A path whose folder is not a folder in the image, or that lands on a path another copied
  item already takes, cannot be written safely: it is left out and reported. The folders
  above each copied path keep the image's mode and owner (`folders`), so that `COPY` does
  not turn a 0700 `/root` into 0755 or a user's folder into root's.
* Write time (`write`): the context is built under directory descriptors. Every component
  is created and opened relative to its parent's descriptor with `O_NOFOLLOW`, so no link,
  whatever made it, can send a write outside the output folder.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import BinaryIO

from drift.errors import DriftError, OutputError
from drift.sources.fs import View

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass(frozen=True, slots=True)
class Folder:
    """A folder of the image above a copied path: what `COPY` must not change."""

    mode: int
    uid: int
    gid: int


@dataclass(frozen=True, slots=True)
class Item:
    """One path to put into the context: AREA/DEST (DEST is an absolute image path)."""

    area: str  # "files" or "files-early"
    dest: str
    source: str  # the path in the image to read the content from
    kind: str  # file, symlink, dir
    mode: int
    link_target: str = ""


def ancestors(path: str) -> list[str]:
    """The folders above PATH, top first, without '/': '/a/b/c' -> ['/a', '/a/b']."""
    parts = [p for p in path.split("/") if p][:-1]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


class Placer:
    """Decides where each copied path lands in the context, or why it cannot."""

    def __init__(self, view: View | None) -> None:
        self.view = view  # None: a plan made from an inventory alone (no tree to resolve in)
        self.entries = view.entries if view is not None else {}
        self.taken: dict[str, str] = {}  # dest -> kind

    def dest_of(self, path: str) -> str:
        return self.view.resolve_parent(path) if self.view is not None else path

    def place(self, path: str, kind: str) -> tuple[str | None, str | None]:
        """(dest, None) when PATH can be written, else (None, why it is left out)."""
        dest = self.dest_of(path)
        if dest in self.taken:
            return None, f"it lands on {dest} inside the image, which another copied path already takes"
        for folder in ancestors(dest):
            entry = self.entries.get(folder)
            taken = self.taken.get(folder)
            if (taken is not None and taken != "dir") or (entry is not None and entry.kind != "dir"):
                shown = f"{folder} (where {path} lands)" if dest != path else folder
                return None, f"its folder {shown} is not a folder in the image; drift never writes through a link"
        self.taken[dest] = kind
        return dest, None

    def folders(self, dests: Iterable[str]) -> dict[str, Folder]:
        """Every folder above the given destinations, with the image's mode and owner."""
        out: dict[str, Folder] = {}
        for dest in dests:
            for folder in ancestors(dest):
                if folder in out:
                    continue
                entry = self.entries.get(folder)
                if entry is not None and entry.kind == "dir":
                    out[folder] = Folder(stat.S_IMODE(entry.mode), entry.uid, entry.gid)
                else:
                    out[folder] = Folder(0o755, 0, 0)
        root = self.entries.get("/")
        if root is not None and root.kind == "dir":
            out["/"] = Folder(stat.S_IMODE(root.mode), root.uid, root.gid)
        return out


# -- writing --------------------------------------------------------------------------------


def _open_folder(parent: int, name: str, shown: str, *, create: bool) -> int:
    if create:
        try:
            os.mkdir(name, 0o700, dir_fd=parent)
        except FileExistsError:
            pass
        except OSError as exc:
            raise OutputError(f"cannot create {shown}: {exc.strerror}") from exc
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=parent)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise OutputError(f"refusing to write under {shown}: it is not a folder (a link?)") from exc
        raise OutputError(f"cannot open {shown}: {exc.strerror}") from exc


def _walk(root_fd: int, parts: list[str], shown: str, *, create: bool) -> int:
    """A descriptor of ROOT/PARTS..., each component opened without following a link."""
    fd = os.dup(root_fd)
    try:
        for i, part in enumerate(parts):
            nxt = _open_folder(fd, part, f"{shown}/{'/'.join(parts[: i + 1])}", create=create)
            os.close(fd)
            fd = nxt
    except BaseException:
        os.close(fd)
        raise
    return fd


def _split(area: str, dest: str) -> list[str]:
    return [area, *(p for p in dest.split("/") if p)]


def write(root: str, items: list[Item], folders: dict[str, Folder], opener: Callable[[str], BinaryIO]) -> None:
    """Write ITEMS under ROOT; then give every folder made its mode (deepest first)."""
    root_fd = os.open(root, _DIR_FLAGS)
    made: dict[tuple[str, ...], int] = {}
    try:
        for item in sorted(items, key=lambda i: (i.area, i.dest)):
            parts = _split(item.area, item.dest)
            for depth in range(1, len(parts)):
                folder = "/" + "/".join(parts[1:depth])
                made.setdefault(tuple(parts[:depth]), (folders.get(folder) or Folder(0o755, 0, 0)).mode)
            if item.kind == "dir":
                made[tuple(parts)] = stat.S_IMODE(item.mode)
            _write_item(root_fd, root, parts, item, opener)
        for key in sorted(made, key=len, reverse=True):
            fd = _walk(root_fd, list(key), root, create=False)
            try:
                os.fchmod(fd, made[key])
            finally:
                os.close(fd)
    finally:
        os.close(root_fd)


def _write_item(root_fd: int, root: str, parts: list[str], item: Item, opener: Callable[[str], BinaryIO]) -> None:
    if item.kind == "dir":
        os.close(_walk(root_fd, parts, root, create=True))
        return
    parent = _walk(root_fd, parts[:-1], root, create=True)
    name = parts[-1]
    shown = f"{root}/{'/'.join(parts)}"
    try:
        if item.kind == "symlink":
            os.symlink(item.link_target, name, dir_fd=parent)
        else:
            _copy(parent, name, shown, item, opener)
    except FileExistsError as exc:
        raise OutputError(f"refusing to write {shown}: it already exists") from exc
    finally:
        os.close(parent)


def _copy(parent: int, name: str, shown: str, item: Item, opener: Callable[[str], BinaryIO]) -> None:
    try:
        src = opener(item.source)
    except OSError as exc:
        raise DriftError(
            f"{item.source} changed while drift read it ({exc.strerror or exc}): "
            "run the snapshot again, or stop the container first"
        ) from exc
    with src:
        fd = os.open(name, _NEW_FILE, 0o600, dir_fd=parent)
        with os.fdopen(fd, "wb") as out:
            while chunk := src.read(1 << 20):
                out.write(chunk)
            os.fchmod(out.fileno(), stat.S_IMODE(item.mode) & 0o777)
