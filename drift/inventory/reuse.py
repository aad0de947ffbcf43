"""When the layers above a base cannot change what the package collectors read, their answer for
the whole view is the base's: a report's containers of one image, most of which change nothing
under dpkg's database or a Python environment, are not read again package by package.

The rules say what each collector reads (apt.collect: dpkg's database, apt's extended states,
the conffiles its status file names, the usrmerge links at the root; pip.collect: every
site-packages or dist-packages folder, venvs, /usr/lib/pythonX, and apt's answer for owners).
A layer path matters when it lies at or under one of those roots, or when it removes, hides or
replaces an ancestor of one: a folder the layer only holds because something below it changed
(overlay copies parents up) is not a change of what lies in it. When unsure, the collector runs.
"""

from __future__ import annotations

import dataclasses
import posixpath
from collections.abc import Iterable

from drift.inventory import apt, pip
from drift.sources.fs import View

_APT_ROOTS = ("/var/lib/dpkg", apt.EXTENDED_STATES)
_PIP_WORDS = ("site-packages", "dist-packages", ".dist-info", ".egg-info")


def _ancestors(paths: Iterable[str]) -> set[str]:
    out: set[str] = set()
    for path in paths:
        parent = posixpath.dirname(path)
        while parent not in out and parent != "/":
            out.add(parent)
            parent = posixpath.dirname(parent)
    return out


def _destructive(path: str, top: View, opaque: set[str]) -> bool:
    """PATH, a folder above something a collector reads, is gone, hidden or no longer a folder."""
    entry = top.entries.get(path)
    return path in opaque or entry is None or entry.kind != "dir"


def _under(path: str, roots: set[str]) -> bool:
    while True:
        if path in roots:
            return True
        if path == "/" or not path:
            return False
        path = posixpath.dirname(path)


def same_apt(touched: set[str], opaque: set[str], base: View, top: View, found: apt.AptResult) -> apt.AptResult | None:
    """The base's apt answer for TOP, when no touched path can change it; else None."""
    roots = set(_APT_ROOTS) | found.conffiles
    above = _ancestors(roots)
    for path in touched:
        if path.count("/") == 1 and path != "/":
            # a root entry: usrmerge links (/lib -> usr/lib) change how file lists spell paths
            was, now = base.entries.get(path), top.entries.get(path)
            if was is None or now is None or "symlink" in (was.kind, now.kind) or was.kind != now.kind:
                return None
        if _under(path, roots) or (path in above and _destructive(path, top, opaque)):
            return None
    if found.view is not None and found.index is None:
        found.index = apt.owner_index(found.view)  # built once, shared by every view it answers for
    return dataclasses.replace(found, view=top, packages=list(found.packages), unknowns=list(found.unknowns))


def same_pip(
    touched: set[str], opaque: set[str], base: View, top: View, found: pip.PipResult, apt_same: bool
) -> pip.PipResult | None:
    """The base's pip answer for TOP, when apt's is the base's too and no touched path can
    change it; else None."""
    if not apt_same:
        return None  # the owners of distributions come from dpkg's file lists
    roots = {e.path for e in found.environments if e.kind == "venv"}  # (/usr, /usr/local: their sites)
    roots |= {site for e in found.environments for site in e.site_dirs}
    roots |= {p for p in base.children.get("/usr/lib", ()) if p.startswith("/usr/lib/python")}
    above = _ancestors(roots) | {"/usr/lib"}
    for path in touched:
        name = posixpath.basename(path)
        if name == "pyvenv.cfg" or path.startswith("/usr/lib/python") or any(w in path for w in _PIP_WORDS):
            return None
        if _under(path, roots) or (path in above and _destructive(path, top, opaque)):
            return None
    return dataclasses.replace(
        found,
        packages=list(found.packages),
        environments=list(found.environments),
        records=dict(found.records),
        unknowns=list(found.unknowns),
    )
