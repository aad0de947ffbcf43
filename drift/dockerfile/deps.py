"""Dependencies inside an image: the apt closure (Depends, Pre-Depends, Recommends, Provides)
and who pulled an undocumented package in (shared by the static audit and image comparisons)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from drift.model import AptPackage, PipPackage, canonical_name

_REL_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9.+-]*)(?::[a-z0-9-]+)?")


class AptIndex:
    """The image's installed packages, for following dependencies inside them."""

    def __init__(self, packages: Iterable[AptPackage]) -> None:
        self.by_name: dict[str, AptPackage] = {}
        self.providers: dict[str, list[str]] = {}
        for p in packages:
            self.by_name.setdefault(p.name, p)
            for prov in p.provides:
                m = _REL_NAME.match(prov)
                if m:
                    self.providers.setdefault(m.group(1), []).append(p.name)

    def resolve(self, relation: str) -> list[str]:
        """Installed packages that satisfy one relation ('a (>= 1) | b')."""
        for alternative in relation.split("|"):
            m = _REL_NAME.match(alternative)
            if not m:
                continue
            name = m.group(1)
            if name in self.by_name:
                return [name]
            if name in self.providers:
                return sorted(set(self.providers[name]))
        return []

    def deps(self, name: str, *, recommends: bool) -> list[str]:
        p = self.by_name.get(name)
        if p is None:
            return []
        relations = list(p.depends) + list(p.pre_depends) + (list(p.recommends) if recommends else [])
        out: list[str] = []
        for rel in relations:
            out += self.resolve(rel)
        return out

    def closure(self, roots: Iterable[str], *, recommends: bool, within: set[str] | None = None) -> set[str]:
        seen: set[str] = set()
        stack = [r for r in roots if r in self.by_name]
        while stack:
            name = stack.pop()
            if name in seen or (within is not None and name not in within):
                continue
            seen.add(name)
            stack.extend(self.deps(name, recommends=recommends))
        return seen


def attribute(names: set[str], is_root: dict[str, bool], deps_of: dict[str, list[str]]) -> dict[str, str | None]:
    """For undocumented packages: None for the ones a person installed, else the root that pulled it in,
    or ORPHAN for automatic ones nothing needs any more (what `apt-get autoremove` would remove)."""
    roots = sorted(n for n in names if is_root.get(n))
    owner: dict[str, str | None] = {}
    for root in roots:
        owner[root] = None
    for root in roots:
        stack = list(deps_of.get(root, []))
        while stack:
            name = stack.pop()
            if name not in names or name in owner:
                continue
            owner[name] = root
            stack.extend(deps_of.get(name, []))
    for name in sorted(names - owner.keys()):  # automatic, and nothing installed by hand needs it
        owner[name] = ORPHAN
    return owner


ORPHAN = "(orphan)"


def attribute_apt(names: set[str], index: AptIndex) -> dict[str, str | None]:
    """attribute() for apt packages: roots are the manual ones, edges are dependencies."""
    manual = {n: index.by_name[n].manual if n in index.by_name else True for n in names}
    return attribute(names, manual, {n: index.deps(n, recommends=True) for n in names})


def pip_key(p: PipPackage) -> str:
    return f"{canonical_name(p.name)}@{p.location}"


def attribute_pip(packages: list[PipPackage]) -> dict[str, str | None]:
    """attribute() for pip distributions (keyed by pip_key): roots are the requested ones."""
    keys = {pip_key(p) for p in packages}
    return attribute(
        keys,
        {pip_key(p): p.requested for p in packages},
        {pip_key(p): [f"{canonical_name(r)}@{p.location}" for r in p.requires] for p in packages},
    )


def by_label(manager: str, who: str | None) -> str | None:
    if who is None:
        return None
    if who == ORPHAN:
        return f"{manager}:(orphan: nothing installed needs it)"
    return f"{manager}:{who.split('@', 1)[0]}"
