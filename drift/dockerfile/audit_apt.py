"""Static audit, apt: declared installs and removals against the installed packages."""

from __future__ import annotations

import fnmatch

from drift.dockerfile.coverage import written
from drift.dockerfile.declared import At, Declaration
from drift.dockerfile.deps import ORPHAN, AptIndex, attribute_apt, by_label
from drift.dockerfile.shell import AptInstall
from drift.inventory import Inspection
from drift.inventory.apt import STATUS
from drift.model import AptPackage, Finding, FindingCategory


def _needed(name: str, index: AptIndex, installed: dict[str, AptPackage], orphans: set[str]) -> bool:
    """Does an installed package, other than the orphans, depend on this one?"""
    return any(name in index.deps(other, recommends=False) for other in installed if other not in orphans)


def first(lines: list[int]) -> int | None:
    return min(lines) if lines else None


def _real(name: str, index: AptIndex) -> list[str]:
    """The installed packages a declared name stands for: itself, or what Provides it."""
    return [name] if name in index.by_name else sorted(set(index.providers.get(name, [])))


def _pin_ok(pin: str, version: str) -> bool:
    return fnmatch.fnmatchcase(version, pin) if "*" in pin else pin == version


def apt_findings(insp: Inspection, decl: Declaration) -> list[Finding]:
    inv = insp.inventory
    index = AptIndex(inv.apt)
    installed = {p.name: p for p in inv.apt}
    base = {p.name: p for p in inv.base_apt}
    out: list[Finding] = []
    # final state per declared name, in build order
    wanted: dict[str, At] = {}
    removed: dict[str, int] = {}
    events = sorted(
        [(a.line, 0, a) for a in decl.apt_install] + [(a.line, 1, a) for a in decl.apt_remove],
        key=lambda e: (e[0], e[1]),
    )
    for line, kind, at in events:
        if kind == 0:
            item: AptInstall = at.value
            earlier = wanted.get(item.name)
            if not (item.transient and earlier is not None and not earlier.value.transient):
                wanted[item.name] = at  # a build dependency does not undo an earlier install
            removed.pop(item.name, None)
        else:
            removed[at.value] = line
            wanted.pop(at.value, None)
    explained = {n for n in base if n not in removed}
    declared_closure: set[str] = set()
    for name, at in wanted.items():
        declared_closure |= index.closure(_real(name, index), recommends=not at.value.no_recommends)
    explained |= declared_closure
    upgrade_line = first(decl.apt_upgrade)
    for name, at in sorted(wanted.items()):
        item = at.value
        if name not in installed and (item.transient or _real(name, index)):
            continue  # a build dependency purged again, or a virtual package a real one provides
        gone = written(decl, STATUS, after=at.line, content=True) if name not in installed else None
        if gone is not None and not insp.top.entries.get(STATUS):
            out.append(
                Finding(
                    "unknown",
                    "apt",
                    name,
                    None,
                    None,
                    line=gone,
                    detail=f"line {gone} deletes dpkg's database ({STATUS}): whether {name} (line {at.line}) "
                    "is installed cannot be read",
                )
            )
            continue
        if name not in installed:
            out.append(
                Finding(
                    "missing",
                    "apt",
                    name,
                    item.pin or "installed",
                    None,
                    line=at.line,
                    fix=f"remove {name} from line {at.line}, or install it",
                )
            )
        elif item.pin and not _pin_ok(item.pin, installed[name].version):
            out.append(
                Finding(
                    "version",
                    "apt",
                    name,
                    item.pin,
                    installed[name].version,
                    line=at.line,
                    fix=f"{name}={installed[name].version}",
                )
            )
    for name, line in sorted(removed.items()):
        if name in installed:
            out.append(
                Finding(
                    "undocumented",
                    "apt",
                    name,
                    "absent",
                    installed[name].version,
                    line=line,
                    detail=f"line {line} removes it, yet it is installed",
                )
            )
    # base packages whose version changed without a reason in the Dockerfile
    for name, p in sorted(installed.items()):
        old = base.get(name)
        changed = old is not None and old.version != p.version
        if changed and name not in wanted and name not in declared_closure and upgrade_line is None:
            assert old is not None
            out.append(
                Finding(
                    "version",
                    "apt",
                    name,
                    old.version,
                    p.version,
                    detail="changed from the base image's version",
                    fix=f"{name}={p.version}",
                )
            )
    undocumented = {n for n in installed if n not in explained}
    owner = attribute_apt(undocumented, index)
    if any(name not in installed for name in wanted):
        # Dependencies of a declared package that is gone are left behind as orphans: the missing
        # finding speaks for them (the image no longer says what they belonged to).
        orphans = {n for n in undocumented if owner[n] == ORPHAN}
        undocumented = {n for n in undocumented if n not in orphans or _needed(n, index, installed, orphans)}
    category: FindingCategory = "unknown" if decl.unknown_apt or decl.unknown_any else "undocumented"
    maybe = first(decl.unknown_apt + decl.unknown_any)
    for name in sorted(undocumented):
        p = installed[name]
        out.append(
            Finding(
                category,
                "apt",
                name,
                None,
                p.version,
                explained_by=by_label("apt", owner[name]),
                line=maybe,
                fix=None if owner[name] else f"{name}={p.version}",
                detail=f"may come from line {maybe}, which drift cannot read" if maybe else None,
            )
        )
    return out
