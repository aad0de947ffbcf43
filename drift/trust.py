"""Whether a folder or file of drift's own state (the layer cache, the history store) is ours.

drift runs as root and trusts its cache and store (README, threat model): that trust holds
only if nobody else can write them. Like OpenSSH's `safe_path` for a key file, `distrust(PATH)`
says why PATH cannot be trusted, or None:

- every link on the way to PATH (PATH itself included) must be owned by root or the running
  user: whoever owns a link can point it elsewhere;
- PATH (once links are resolved) and every folder above it up to `/` must be owned by root or
  the running user and not writable by group or others: whoever can write a folder can replace
  what is in it (rename, delete, plant a file or a link);
- except a sticky folder (mode +t, as `/tmp`) ABOVE PATH: others can write there, but cannot
  rename or delete what they do not own, so the entry below it (which was checked: ours, not
  writable by others) stays ours. PATH itself (the cache folder, the store file) is never
  excused by the sticky bit: others could create files in it. And a sticky folder that is the
  nearest existing thing (PATH not made yet, e.g. a store straight in `/tmp`) is refused too:
  its name could be taken by someone else first.

A part of PATH that does not exist yet is skipped (the caller makes it, then checks again).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Distrust:
    """PATH is not drift's to trust: WHY (e.g. 'writable by others (mode 0777)'); FIX: what a user runs."""

    path: str
    why: str
    fix: str


def _owners() -> tuple[int, ...]:
    return (0, os.getuid())


def _links(path: str) -> Distrust | None:
    """A link on the way to PATH owned by someone else."""
    current = "/"
    for part in [p for p in path.split("/") if p]:
        current = os.path.join(current, part)
        try:
            st = os.lstat(current)
        except OSError:
            return None  # not there yet
        if stat.S_ISLNK(st.st_mode):
            if st.st_uid not in _owners():
                return Distrust(current, f"a link owned by uid {st.st_uid}", f"remove the link {current}")
            current = os.path.realpath(current)
    return None


def distrust(path: str) -> Distrust | None:
    """Why PATH (a file or folder, made or to be made) cannot be trusted, or None (see the module)."""
    path = os.path.abspath(path)
    bad = _links(path)
    if bad is not None:
        return bad
    leaf = current = os.path.realpath(path)
    below_checked = False  # the entry below CURRENT exists and passed (a sticky CURRENT is then fine)
    while True:
        try:
            st = os.lstat(current)
        except OSError:
            st = None
        if st is not None:
            if st.st_uid not in _owners():
                return Distrust(current, f"owned by uid {st.st_uid}", f"use a folder of your own instead of {current}")
            writable = st.st_mode & 0o022
            sticky_above = below_checked and stat.S_ISDIR(st.st_mode) and st.st_mode & stat.S_ISVTX
            if writable and not sticky_above:
                mode = stat.S_IMODE(st.st_mode)
                private = "700" if stat.S_ISDIR(st.st_mode) else "600"
                fix = f"chmod {private} {current}" if current == leaf else f"chmod go-w {current}"
                return Distrust(current, f"writable by others (mode {mode:04o})", fix)
            below_checked = True
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent
