"""File changes that account changes made, grouped under them.

/etc/passwd, /etc/group, /etc/shadow, /etc/gshadow, /etc/subuid, /etc/subgid (and their `-`
backups) whose only changed lines are those of changed accounts, and the home folder a user
was created with (the folder, the /etc/skel copies in it, an empty mail spool), are not
changes of their own: they take the class "account" (or "package" when every account change
behind them was made by a package's maintainer scripts) and a reason naming the accounts.
Anything else in those files (a comment, an edited line of an unchanged account) or in
that home (a file a person wrote) stays what `files.classify` said.
"""

from __future__ import annotations

import bisect
import dataclasses
import posixpath
from typing import Any

from drift.inventory import users
from drift.inventory.files import content_sha256
from drift.model import AccountChange, FileChange
from drift.sources.fs import View

_SHOWN = 4  # account labels a reason names before "+N more"


def group(
    files: list[FileChange], d: users.Delta, base: View, top: View
) -> tuple[list[FileChange], list[AccountChange]]:
    """The file changes with account files and new homes grouped; the account changes with
    `home_created` set where a home was grouped."""
    changes = list(d.changes)
    if not changes:
        return files, changes
    by_path = {f.path: i for i, f in enumerate(files)}
    out = list(files)
    for path in users.ACCOUNT_PATHS:
        i = by_path.get(path)
        if i is None or out[i].change == "deleted" or out[i].kind != "file":
            continue
        backup = path.endswith("-")
        real = path[:-1] if backup else path
        keyed = d.touched_users if real in users.USER_FILES else d.touched_groups
        if backup or _only_lines_of(real, keyed, base, top):
            kind = "user" if real in users.USER_FILES else "group"
            out[i] = _grouped(out[i], _behind(changes, kind, keyed, backup), "")
    ordered = sorted(by_path)
    for n, c in enumerate(changes):
        if c.kind == "user" and c.after is not None and (c.change == "added" or "home" in c.fields):
            grouped = _home(c, out, by_path, ordered, top)
            if grouped:
                changes[n] = dataclasses.replace(c, home_created=True)
    return out, changes


def _behind(changes: list[AccountChange], kind: str, keyed: set[str], backup: bool) -> list[AccountChange]:
    """The account changes behind one file: those whose lines it holds (a backup, or a group
    file whose group changes were folded into its members' changes: all)."""
    if backup:
        return changes
    out = [c for c in changes if c.kind == kind and c.name in keyed]
    if kind == "group":  # a user who joined or left one of its groups
        out += [c for c in changes if c.kind == "user" and keyed & set(_groups(c.before) + _groups(c.after))]
    return out or changes


def _groups(state: dict[str, Any] | None) -> list[str]:
    return list((state or {}).get("groups", ()))


def _grouped(f: FileChange, behind: list[AccountChange], what: str) -> FileChange:
    labels = [c.label for c in behind]
    shown = ", ".join(labels[:_SHOWN]) + (f" (+{len(labels) - _SHOWN} more)" if len(labels) > _SHOWN else "")
    owners = sorted({c.explained_by for c in behind if c.explained_by})
    if owners and all(c.explained_by for c in behind):
        reason = f"{what}users and groups made by the package's maintainer scripts: {shown}"
        return dataclasses.replace(f, klass="package", owner=owners[0], reason=reason, sha256=None)
    return dataclasses.replace(f, klass="account", owner=None, reason=f"{what}account changes: {shown}", sha256=None)


def _lines(view: View, path: str) -> list[str] | None:
    real = view.resolve(path)
    if real not in view.entries:
        return []
    data = view.read(real, limit=users.MAX_FILE)
    if data is None:
        return None
    return data.decode("utf-8", errors="replace").split("\n")


def _only_lines_of(path: str, names: set[str], base: View, top: View) -> bool:
    """Whether the file differs only in lines of these accounts (same other lines, same order)."""
    old, new = _lines(base, path), _lines(top, path)
    if old is None or new is None:
        return False

    def rest(lines: list[str]) -> list[str]:
        return [line for line in lines if line.split(":", 1)[0] not in names or ":" not in line]

    return rest(old) == rest(new)


def _home(c: AccountChange, out: list[FileChange], by_path: dict[str, int], ordered: list[str], top: View) -> bool:
    """Group a home folder made with the user: the folder, and what in it is a copy of /etc/skel."""
    assert c.after is not None
    home = posixpath.normpath(c.after["home"] or "/")
    i = by_path.get(home)
    if home in ("/", "/nonexistent") or i is None or out[i].change != "added" or out[i].kind != "dir":
        return False
    uid = c.after["uid"]
    out[i] = _grouped(out[i], [c], "home folder made with the user; ")
    prefix = home + "/"
    for path in ordered[bisect.bisect_left(ordered, prefix) :]:
        if not path.startswith(prefix):
            break  # the paths under a folder are one run of the sorted list
        f = out[by_path[path]]
        if not path.startswith(prefix) or f.change != "added" or f.klass != "unexplained" or f.uid != uid:
            continue
        if _skel_copy(path[len(prefix) :], f, top):
            out[by_path[path]] = _grouped(f, [c], "copied from /etc/skel when the user was made; ")
    for spool in (f"/var/mail/{c.name}", f"/var/spool/mail/{c.name}"):
        k = by_path.get(spool)
        if k is not None and out[k].change == "added" and out[k].kind == "file" and out[k].size == 0:
            out[k] = _grouped(out[k], [c], "mail spool made with the user; ")
    return True


def _skel_copy(rel: str, f: FileChange, top: View) -> bool:
    skel = "/etc/skel/" + rel
    entry = top.entries.get(skel)
    if entry is None or ("file" if entry.kind == "hardlink" else entry.kind) != f.kind:
        return False
    if f.kind == "dir":
        return True
    if f.kind == "symlink":
        return entry.linkname == f.link_target
    return f.kind == "file" and entry.size == f.size and content_sha256(top, skel) == f.sha256
