"""Users and groups (/etc/passwd, /etc/group, /etc/shadow): what was added, removed or changed.

The files come from an image a stranger may have made: each is read up to `MAX_FILE` bytes and
`MAX_ENTRIES` entries, a line that is not an account (a comment, a malformed or duplicate
entry, a name with control characters) is skipped, and everything is one pass over the lines.
From /etc/shadow only the password's state is kept ("set", "locked", "none") and whether the
field changed: the hash itself never leaves `_shadow`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from drift.model import AccountChange, Unknown
from drift.sources.fs import View

ACCOUNT_FILES = ("/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow", "/etc/subuid", "/etc/subgid")
ACCOUNT_PATHS = frozenset(ACCOUNT_FILES + tuple(f"{p}-" for p in ACCOUNT_FILES))
USER_FILES = frozenset({"/etc/passwd", "/etc/shadow", "/etc/subuid", "/etc/subgid"})  # lines keyed by user name
MAX_FILE = 8 * 1024 * 1024
MAX_ENTRIES = 100_000
_NAME = re.compile(r"[^\x00-\x20\x7f:,]{1,256}")  # what drift shows as an account name
_ID = re.compile(r"\d{1,10}")


@dataclass(frozen=True, slots=True)
class User:
    name: str
    uid: int
    gid: int
    gecos: str
    home: str
    shell: str


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    gid: int
    members: tuple[str, ...]


@dataclass(slots=True)
class Accounts:
    """One tree's users and groups (None: a file could not be read, so nothing is compared)."""

    users: dict[str, User] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    passwords: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (state, digest of the field)
    unknowns: list[Unknown] = field(default_factory=list)
    readable: bool = True


def _text(view: View, path: str, acc: Accounts) -> str:
    real = view.resolve(path)
    entry = view.entries.get(real)
    if entry is None:
        return ""
    data = view.read(real, limit=MAX_FILE)
    if data is None:
        acc.unknowns.append(Unknown(path, f"not a regular file of at most {MAX_FILE} bytes: accounts not compared"))
        acc.readable = False
        return ""
    return data.decode("utf-8", errors="replace")


def records(text: str, width: int) -> Iterable[list[str]]:
    """The colon-separated entries of an account file with at least WIDTH fields, in order."""
    count = 0
    for line in text.split("\n"):
        if not line or line.startswith("#"):
            continue
        fields = line.split(":", width)
        if len(fields) >= width and _NAME.fullmatch(fields[0]):
            count += 1
            if count > MAX_ENTRIES:
                return
            yield fields


def read(view: View) -> Accounts:
    acc = Accounts()
    passwd = _text(view, "/etc/passwd", acc)
    group = _text(view, "/etc/group", acc)
    shadow = _text(view, "/etc/shadow", acc)
    for f in records(passwd, 7):
        if f[0] not in acc.users and _ID.fullmatch(f[2]) and _ID.fullmatch(f[3]):
            acc.users[f[0]] = User(f[0], int(f[2]), int(f[3]), f[4], f[5], f[6])
    for f in records(group, 4):
        if f[0] not in acc.groups and _ID.fullmatch(f[2]):
            members = tuple(dict.fromkeys(m for m in f[3].split(",") if _NAME.fullmatch(m)))
            acc.groups[f[0]] = Group(f[0], int(f[2]), members)
    for f in records(shadow, 2):
        acc.passwords.setdefault(f[0], _shadow(f[1]))
    for text, path in ((passwd, "/etc/passwd"), (group, "/etc/group"), (shadow, "/etc/shadow")):
        if text.count("\n") > MAX_ENTRIES:
            acc.unknowns.append(Unknown(path, f"more than {MAX_ENTRIES} lines: only the first are read"))
    return acc


def _shadow(password: str) -> tuple[str, str]:
    """The state of a shadow password field, and a digest that tells a changed hash (not the hash)."""
    state = "none" if password == "" else "locked" if password.startswith(("!", "*")) else "set"
    return state, hashlib.sha256(password.encode("utf-8", "replace")).hexdigest()


def users(view: View) -> dict[str, User]:
    return read(view).users


def groups(view: View) -> dict[str, Group]:
    return read(view).groups


def memberships(acc: Accounts) -> dict[str, list[str]]:
    """user -> the names of its groups (listed as a member, or its primary group), sorted."""
    by_gid: dict[int, str] = {}
    out: dict[str, set[str]] = {name: set() for name in acc.users}
    for g in acc.groups.values():
        by_gid.setdefault(g.gid, g.name)
        for m in g.members:
            if m in out:
                out[m].add(g.name)
    for u in acc.users.values():
        if u.gid in by_gid:
            out[u.name].add(by_gid[u.gid])
    return {name: sorted(names) for name, names in out.items()}


def user_state(u: User, groups_: list[str], password: tuple[str, str] | None) -> dict[str, Any]:
    return {
        "uid": u.uid,
        "gid": u.gid,
        "gecos": u.gecos,
        "home": u.home,
        "shell": u.shell,
        "groups": groups_,
        "password": password[0] if password else "none",
    }


def group_state(g: Group) -> dict[str, Any]:
    return {"gid": g.gid, "members": sorted(g.members)}


@dataclass(slots=True)
class Delta:
    changes: list[AccountChange]
    touched_users: set[str]  # names whose lines in the user files may have changed
    touched_groups: set[str]  # names whose lines in /etc/group or /etc/gshadow may have changed
    unknowns: list[Unknown]


def delta(base: View, top: View) -> Delta:
    """Account changes between two trees. Added accounts come in the order of their lines in
    the target's files (the order commands that add them one by one write); the rest sorted
    by name. A group whose only change is members that are users whose groups changed is
    folded into those users' changes."""
    old, new = read(base), read(top)
    unknowns = old.unknowns + new.unknowns
    if not (old.readable and new.readable):
        return Delta([], set(), set(), unknowns)
    user_changes = _user_changes(old, new)
    regrouped = {c.name for c in user_changes if "groups" in c.fields or c.change != "changed"}
    group_changes = []
    touched_groups = set()
    for c in _group_changes(old, new):
        touched_groups.add(c.name)
        if c.fields == ("members",) and _folded(c, regrouped):
            continue
        group_changes.append(c)
    return Delta(group_changes + user_changes, {c.name for c in user_changes}, touched_groups, unknowns)


def _folded(c: AccountChange, regrouped: set[str]) -> bool:
    before = set((c.before or {}).get("members", ()))
    after = set((c.after or {}).get("members", ()))
    return all(m in regrouped for m in before ^ after)


def _user_changes(old: Accounts, new: Accounts) -> list[AccountChange]:
    old_groups, new_groups = memberships(old), memberships(new)

    def state(acc: Accounts, grp: dict[str, list[str]], name: str) -> dict[str, Any]:
        return user_state(acc.users[name], grp[name], acc.passwords.get(name))

    out = [AccountChange("user", n, "added", None, state(new, new_groups, n)) for n in new.users if n not in old.users]
    for n in sorted(old.users.keys() - new.users.keys()):
        out.append(AccountChange("user", n, "removed", state(old, old_groups, n), None))
    for n in sorted(old.users.keys() & new.users.keys()):
        before, after = state(old, old_groups, n), state(new, new_groups, n)
        fields = [k for k in before if before[k] != after[k]]
        if "password" not in fields and old.passwords.get(n) != new.passwords.get(n):
            fields.append("password")  # the hash changed, its state did not
        if fields:
            out.append(AccountChange("user", n, "changed", before, after, tuple(fields)))
    return out


def _group_changes(old: Accounts, new: Accounts) -> list[AccountChange]:
    out = [
        AccountChange("group", n, "added", None, group_state(g)) for n, g in new.groups.items() if n not in old.groups
    ]
    for n in sorted(old.groups.keys() - new.groups.keys()):
        out.append(AccountChange("group", n, "removed", group_state(old.groups[n]), None))
    for n in sorted(old.groups.keys() & new.groups.keys()):
        before, after = group_state(old.groups[n]), group_state(new.groups[n])
        fields = tuple(k for k in before if before[k] != after[k])
        if fields:
            out.append(AccountChange("group", n, "changed", before, after, fields))
    return out


_WORD = re.compile(r"[^\s'\"=:;,(){}<>|&`\\]+")


def explain(changes: list[AccountChange], scripts: dict[str, str]) -> list[AccountChange]:
    """Name the changed package whose maintainer scripts made each account: the scripts name
    the account (and, for a user's groups, the groups it joined or left). One pass over each
    script's words; a lookup per name."""
    import dataclasses

    words = {pkg: set(_WORD.findall(text)) for pkg, text in sorted(scripts.items())}
    out = []
    for c in changes:
        wanted = {c.name}
        if c.kind == "user" and c.change == "changed" and c.before and c.after:
            wanted |= set(c.before["groups"]) ^ set(c.after["groups"])
        pkg = next((p for p, w in words.items() if wanted <= w), None)
        out.append(dataclasses.replace(c, explained_by=f"apt:{pkg}") if pkg else c)
    return out
