"""Static audit, files and config: what the image holds on disk and in its config that no
Dockerfile line accounts for, files a COPY put there that differ from the build context's,
and conffiles that differ from what their package shipped."""

from __future__ import annotations

import os
import posixpath
from typing import Any

from drift import secrets
from drift.dockerfile.audit_apt import first
from drift.dockerfile.context import BuildContext
from drift.dockerfile.coverage import Coverage, Placed
from drift.dockerfile.declared import At, Declaration
from drift.dockerfile.evidence import Evidence
from drift.inventory import Inspection, apt
from drift.inventory.files import GENERATED, content_sha256
from drift.model import FileChange, Finding, Inventory, clean_workdir, engine_made_config
from drift.sources.fs import View


def file_findings(
    insp: Inspection, decl: Declaration, context: str | None, history: Evidence | None = None
) -> list[Finding]:
    """HISTORY (drift.dockerfile.evidence): a change in a layer the image's history says a line
    made is that line's (a RUN's anywhere, a COPY/ADD's under its destination). Files a COPY
    placed are still checked against the build context."""
    ctx = BuildContext(context) if context and os.path.isdir(context) else None
    cover = Coverage(decl, ctx, insp.top)
    maybe = first(decl.unknown_any)
    declared_apt = {at.value.name for at in decl.apt_install}
    out = []
    for f in insp.inventory.files:
        if f.klass != "unexplained" or cover.line(f.path) is not None or _generated(f.path, declared_apt):
            continue
        deleted = f.change == "deleted"
        if history is not None and history.explaining(insp.top, f.path, deleted):
            continue
        out.append(_unexplained(f, _maybe(maybe, history, insp.top, f.path, deleted)))
    if ctx is not None:
        out += _context_findings(insp, cover, ctx, maybe)
    out += listless_findings(insp.inventory, decl)
    out += _skel_findings(insp, cover, decl, maybe, history)
    reported = {f.name for f in out}
    out += _conffile_findings(insp, cover, reported, maybe, history)
    return out


def listless_findings(inv: Inventory, decl: Declaration | None = None) -> list[Finding]:
    """One `unknown` for dpkg file lists that are gone, naming the line that deleted them: the
    changed files written with their packages (class "unknown") are not findings one by one."""
    gone = [u for u in inv.unknowns if u.where == apt.INFO]
    count = sum(1 for f in inv.files if f.klass == "unknown")
    line = _deleting_line(decl) if decl is not None else None
    if not gone or not (count or line):
        return []  # the base's lists: nothing this image changed depends on them
    by = (
        f"line {line} deletes them"
        if line
        else "no line of the Dockerfile deletes them (the base did, or a line drift cannot read)"
    )
    return [
        Finding(
            "unknown",
            "apt",
            apt.INFO,
            None,
            {"files": count},
            line=line,
            detail=f"{gone[0].reason}; {by}; {count} changed file(s) written with those packages are not findings",
        )
    ]


def _deleting_line(decl: Declaration) -> int | None:
    """The first RUN line that writes (removes) dpkg's file lists or a folder holding them."""
    for at in decl.paths:
        path = str(at.value).rstrip("/*")
        if path in (apt.INFO, posixpath.dirname(apt.INFO)) or path.startswith(apt.INFO + "/"):
            return at.line
    return None


def _skel_findings(
    insp: Inspection, cover: Coverage, decl: Declaration, maybe: int | None, history: Evidence | None
) -> list[Finding]:
    """Files of a home `useradd -m`/`adduser` made that are not the /etc/skel file it copied."""
    view, out = insp.top, []
    homes = [at for at in decl.paths if at.line in decl.accounts]
    for f in insp.inventory.files:
        if f.klass != "unexplained" or f.change == "deleted" or f.kind != "file":
            continue
        home = next((at for at in homes if f.path.startswith(at.value.rstrip("/") + "/")), None)
        if home is None or cover.written(f.path, after=home.line, content=True) is not None:
            continue  # not under a home, or another line writes it
        if any(at.value == f.path for at in decl.paths):
            continue
        if history is not None and history.explaining(view, f.path):
            continue
        skel = "/etc/skel/" + f.path[len(home.value.rstrip("/")) + 1 :]
        entry = view.entries.get(skel)
        if entry is None or entry.kind != "file" or content_sha256(view, skel) == f.sha256:
            continue
        out.append(
            Finding(
                "unknown" if maybe and maybe > home.line else "file",
                None,
                f.path,
                {"size": entry.size},
                {"size": f.size},
                line=home.line,
                detail=f"differs from {skel}, which line {home.line} copied into the home",
            )
        )
    return out


def _maybe(maybe: int | None, history: Evidence | None, view: View, path: str, deleted: bool) -> int | None:
    """The unreadable line a change may come from; none when the history ties that line to a
    layer and the change is in a layer above every layer of the build (a commit's, a container's)."""
    if maybe is None or history is None or not history.after_build(view, path, deleted):
        return maybe
    return None if any(m.line == maybe for m in history.made.values()) else maybe


def _generated(path: str, declared_apt: set[str]) -> bool:
    """Written by the maintainer scripts of a package a line installed (even one purged again)."""
    return any(pattern.search(path) and pkg in declared_apt for pattern, pkg in GENERATED)


def _unexplained(f: FileChange, maybe: int | None) -> Finding:
    fix = _file_fix(f.path, f.change == "deleted")
    desc = f.desc()
    return Finding(
        "unknown" if maybe else "file",
        None,
        f.path,
        None,
        desc,
        line=maybe,
        fix=fix,
        detail=f"may come from line {maybe}, which drift cannot read" if maybe else _change(f),
    )


def _change(f: FileChange) -> str:
    return f"{f.change}: package file modified ({f.package_file.package})" if f.package_file else f.change


def _context_findings(insp: Inspection, cover: Coverage, ctx: BuildContext, maybe: int | None) -> list[Finding]:
    """Files a COPY/ADD placed that are not what the build context holds (content, mode, owner)."""
    out = []
    view = insp.top
    for path, placed in sorted(cover.placed.items()):
        source = ctx.entry(placed.rel)
        if source is None or source.kind != "file" or cover.written(path, after=placed.line, content=True):
            continue
        meta_later = cover.written(path, after=placed.line) is not None
        real = view.resolve_parent(path)
        entry = view.entries.get(real)
        expected = _expected(placed, source.size, None if meta_later else source.mode)
        if entry is None:
            got: dict[str, Any] | None = None
            why = f"the build context's {placed.rel} (line {placed.line}) is not in the image"
        elif entry.kind not in ("file", "hardlink"):
            got = {"kind": entry.kind}
            why = f"the build context's {placed.rel} (line {placed.line}) is a {entry.kind} in the image"
        else:
            got = {"size": entry.size, "mode": f"{entry.mode:04o}", "owner": f"{entry.uid}:{entry.gid}"}
            differs: list[str] = [k for k in ("mode", "owner") if k in expected and expected[k] != got[k]]
            mine, theirs = content_sha256(view, real), ctx.sha256(placed.rel)
            if entry.size != source.size or mine != theirs:
                differs.insert(0, "content")
                if not secrets.path_reason(path):  # no digest of a secret-looking file
                    expected["sha256"], got["sha256"] = (theirs or "")[:12], (mine or "")[:12]
            if not differs:
                continue
            why = f"differs from the build context's {placed.rel} (line {placed.line}): {', '.join(differs)}"
        out.append(
            Finding(
                "unknown" if maybe and maybe > placed.line else "file",
                None,
                path,
                expected,
                got,
                line=placed.line,
                fix=f"copy the image's {path} to the context's {placed.rel}, or rebuild the image",
                detail=why,
            )
        )
    return out


def copied_differences(
    built: Inspection, actual: Inspection, decl: Declaration, context: str, found: list[Finding]
) -> list[Finding]:
    """--build: files a COPY/ADD placed from the context that differ between the built image
    and the target, whatever explains them otherwise (a package's file overwritten by a COPY),
    unless a finding already names them."""
    if not os.path.isdir(context):
        return []
    named = {f.name for f in found}
    cover = Coverage(decl, BuildContext(context), built.top)
    out = []
    for path in sorted(cover.placed.keys() - named):
        want, got = _state(built.top, path), _state(actual.top, path)
        if want != got:
            differs = ", ".join(k for k in (want or got or {}) if (want or {}).get(k) != (got or {}).get(k))
            out.append(Finding("file", None, path, want, got, detail=differs))
    return out


def _state(view: View, path: str) -> dict[str, Any] | None:
    real = view.resolve_parent(path)
    entry = view.entries.get(real)
    if entry is None:
        return None
    kind = "file" if entry.kind == "hardlink" else entry.kind
    state: dict[str, Any] = {"kind": kind, "mode": f"{entry.mode:04o}", "owner": f"{entry.uid}:{entry.gid}"}
    if entry.kind in ("file", "hardlink"):
        state |= {"size": entry.size, "sha256": content_sha256(view, real)}
    elif entry.kind == "symlink":
        state["link_target"] = entry.linkname
    return state


def _expected(placed: Placed, size: int, mode: int | None) -> dict[str, Any]:
    """What the context's copy says; mode and owner only when no flag or later RUN changes them."""
    out: dict[str, Any] = {"size": size}
    if mode is not None and not placed.spec.chmod:
        out["mode"] = f"{mode:04o}"
    if mode is not None and not placed.spec.chown:
        out["owner"] = "0:0"
    return out


def _conffile_findings(
    insp: Inspection, cover: Coverage, reported: set[str], maybe: int | None, history: Evidence | None
) -> list[Finding]:
    """Conffiles whose content differs from dpkg's record, that no line accounts for."""
    inv = insp.inventory
    before = {(p.name, c.path, c.state) for p in inv.base_apt for c in p.conffiles_changed}
    out = []
    for p in inv.apt:
        for c in p.conffiles_changed:
            if (p.name, c.path, c.state) in before or c.path in reported or cover.line(c.path) is not None:
                continue
            if history is not None and history.explaining(insp.top, c.path, c.state == "missing"):
                continue
            out.append(
                Finding(
                    "unknown" if maybe else "file",
                    "apt",
                    c.path,
                    "as packaged",
                    c.state,
                    line=maybe,
                    detail=f"conffile of {p.name}: {c.state} since the package installed it",
                )
            )
    return out


def config_findings(insp: Inspection, decl: Declaration) -> list[Finding]:
    actual = insp.inventory.config
    if actual is None:
        return []
    flat = actual.flat()
    out = []
    keys = set(flat) | {k for k, at in decl.config.items() if at.value is not None}
    engine_made = engine_made_config({k: at.value for k, at in decl.config.items() if at.value is not None}, flat)
    for key in sorted(keys):
        at = decl.config.get(key, At(0, None))
        if key in engine_made and at.value is None:
            continue
        expected, got = at.value, flat.get(key)
        if _norm(key, expected) == _norm(key, got):
            continue
        out.append(Finding("config", None, key, expected, got, line=at.line or None, fix=_config_fix(key, got)))
    return out


def _norm(key: str, value: object) -> object:
    if value in ("", [], None):
        return None
    if key == "WorkingDir" and isinstance(value, str):
        return clean_workdir(value)
    return value


def _file_fix(path: str, deleted: bool) -> str | None:
    """The instruction that reproduces a file change, escaped; None when none can be written."""
    from drift.dockerfile import escape

    try:
        return f"RUN rm -rf {escape.sh(path)}" if deleted else escape.copy(path.lstrip("/"), path)
    except escape.Unsafe:
        return None


def _config_fix(key: str, value: object) -> str | None:
    """The instruction that sets KEY to VALUE, escaped (drift.dockerfile.escape); None when
    no Dockerfile text reproduces the value."""
    from drift.dockerfile import escape

    if value is None:
        return None
    try:
        return escape.config_instruction(key, value)
    except escape.Unsafe:
        return None
