"""Users and groups (/etc/passwd, /etc/group): what was added, removed or changed."""

from __future__ import annotations

from dataclasses import dataclass

from drift.sources.fs import View

ACCOUNT_FILES = ("/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow")
ACCOUNT_PATHS = frozenset(ACCOUNT_FILES + tuple(f"{p}-" for p in ACCOUNT_FILES))


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


@dataclass(frozen=True, slots=True)
class AccountDelta:
    users_added: tuple[User, ...]
    users_removed: tuple[User, ...]
    users_changed: tuple[tuple[User, User], ...]  # (before, after)
    groups_added: tuple[Group, ...]
    groups_removed: tuple[Group, ...]
    members_added: tuple[tuple[str, str], ...]  # (group, user)

    @property
    def empty(self) -> bool:
        return not (
            self.users_added
            or self.users_removed
            or self.users_changed
            or self.groups_added
            or self.groups_removed
            or self.members_added
        )


def _lines(view: View, path: str) -> list[list[str]]:
    data = view.read(view.resolve(path)) or b""
    out = []
    for line in data.decode("utf-8", errors="replace").splitlines():
        if line and not line.startswith("#"):
            out.append(line.split(":"))
    return out


def users(view: View) -> dict[str, User]:
    out = {}
    for f in _lines(view, "/etc/passwd"):
        if len(f) >= 7 and f[2].isdigit() and f[3].isdigit():
            out[f[0]] = User(f[0], int(f[2]), int(f[3]), f[4], f[5], f[6])
    return out


def groups(view: View) -> dict[str, Group]:
    out = {}
    for f in _lines(view, "/etc/group"):
        if len(f) >= 4 and f[2].isdigit():
            out[f[0]] = Group(f[0], int(f[2]), tuple(m for m in f[3].split(",") if m))
    return out


def delta(base: View, top: View) -> AccountDelta:
    """Added users and groups come in the order of their lines in the target's files (so
    commands that add them one by one write the same files); the rest sorted by name."""
    bu, tu = users(base), users(top)
    bg, tg = groups(base), groups(top)
    members = []
    for name, group in sorted(tg.items()):
        before = set(bg[name].members) if name in bg else set()
        members += [(name, m) for m in group.members if m not in before]
    return AccountDelta(
        users_added=tuple(u for n, u in tu.items() if n not in bu),
        users_removed=tuple(bu[n] for n in sorted(bu.keys() - tu.keys())),
        users_changed=tuple((bu[n], tu[n]) for n in sorted(bu.keys() & tu.keys()) if bu[n] != tu[n]),
        groups_added=tuple(g for n, g in tg.items() if n not in bg),
        groups_removed=tuple(bg[n] for n in sorted(bg.keys() - tg.keys())),
        members_added=tuple(members),
    )


def made_by_packages(d: AccountDelta, scripts: dict[str, str]) -> bool:
    """Every account change is named in the maintainer scripts of a changed package."""
    if d.users_removed or d.users_changed or d.groups_removed:
        return False
    names = [u.name for u in d.users_added] + [g.name for g in d.groups_added] + [u for _, u in d.members_added]
    return bool(names) and all(any(n in text for text in scripts.values()) for n in names)
