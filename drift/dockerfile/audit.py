"""Static audit: an image's inventory against what its Dockerfile declares.

Expected = the base image's inventory + what the Dockerfile declares + what that pulls in
(apt Depends/Pre-Depends, and Recommends unless turned off, followed inside the image's
own installed set; pip Requires-Dist inside the same environment). Every difference is a
`Finding`; undocumented packages that only came in as dependencies of another
undocumented one name it in `explained_by`.
"""

from __future__ import annotations

import dataclasses

from drift.dockerfile.audit_accounts import account_findings
from drift.dockerfile.audit_apt import apt_findings
from drift.dockerfile.audit_files import config_findings, file_findings
from drift.dockerfile.audit_pip import pip_findings
from drift.dockerfile.declared import Declaration
from drift.dockerfile.deps import ORPHAN, AptIndex, attribute_apt, attribute_pip, by_label, pip_key
from drift.dockerfile.evidence import Evidence
from drift.inventory import Inspection
from drift.inventory.apt import INFO
from drift.model import Finding
from drift.sources.fs import View

__all__ = ["ORPHAN", "AptIndex", "attribute_apt", "attribute_pip", "audit", "by_label", "pip_key"]


def audit(
    insp: Inspection, decl: Declaration, *, context: str | None, dockerfile: str, history: Evidence | None = None
) -> list[Finding]:
    findings: list[Finding] = []
    findings += [
        Finding("dockerfile", None, f"line {a.line}", None, None, line=a.line, detail=a.value) for a in decl.problems
    ]
    # a line drift cannot read is no longer unknown when the history ties it to the layer it
    # made: what that layer holds is that line's (and judged as such below)
    read = {m.line for m in history.made.values()} if history is not None else set()
    findings += [
        Finding("unknown", None, f"line {a.line}", None, None, line=a.line, detail=a.value)
        for a in decl.unknowns
        if a.line not in read
    ]
    findings += apt_findings(insp, decl)
    findings += pip_findings(insp, decl, context)
    findings += file_findings(insp, decl, context, history)
    findings += account_findings(insp, decl)
    findings += config_findings(insp, decl)
    if history is not None and history.made:
        findings = [
            _history_settles(insp, decl, history, f) for f in findings if not _history_explains(insp, history, f)
        ]
    return findings


def _history_settles(insp: Inspection, decl: Declaration, history: Evidence, f: Finding) -> Finding:
    """A package that "may come from" a line drift cannot read, installed in a layer above every
    layer the build made (a `docker commit`, an image built FROM this one), while the history ties
    every such line to a layer of its own below: no line of this Dockerfile installed it, so it is
    undocumented after all (as files are: audit_files._maybe)."""
    if f.category != "unknown" or f.manager not in ("apt", "pip") or f.line is None or f.expected is not None:
        return f
    unread = (decl.unknown_apt if f.manager == "apt" else decl.unknown_pip) + decl.unknown_any
    tied = {m.line for m in history.made.values()}
    if not all(line in tied for line in unread):
        return f
    path = _package_path(insp, f)
    if path is None or not history.after_build(insp.top, path):
        return f
    return dataclasses.replace(
        f,
        category="undocumented",
        line=None,
        detail=f"installed in a layer above every layer this Dockerfile's build made (line {f.line} made its own)",
    )


def _history_explains(insp: Inspection, history: Evidence, f: Finding) -> bool:
    """Whether the image's history ties what an undocumented package or an added account finding
    is about to a layer a Dockerfile line made (drift.dockerfile.evidence): that line installed
    it, though its text does not say so (a build tool, a script, a package manager drift does
    not read). What the Dockerfile contradicts (a package it removes, a version it pins, a
    package missing) is never taken from history."""
    if f.category not in ("undocumented", "unknown", "account") or f.expected is not None:
        return False
    view = insp.top
    if f.category == "account":
        layer = _account_layer(view, f.name)
        return layer is not None and history.made.get(layer) is not None and history.made[layer].keyword == "RUN"
    path = _package_path(insp, f)
    return path is not None and history.explaining(view, path) is not None


def _package_path(insp: Inspection, f: Finding) -> str | None:
    """The file whose layer says when a package was installed: its dpkg file list, its
    dist-info's METADATA."""
    inv = insp.inventory
    if f.manager == "pip":
        for p in inv.pip:
            if p.name == f.name and p.location == f.location:
                return p.metadata_path
    elif f.manager == "apt":
        for a in inv.apt:
            if a.name == f.name:
                for path in (f"{INFO}/{a.name}:{a.architecture}.list", f"{INFO}/{a.name}.list"):
                    if path in insp.top.entries:
                        return path
    return None


_ACCOUNT_FILES = {"user": "/etc/passwd", "group": "/etc/group"}


def _account_layer(view: View, label: str) -> int | None:
    """The lowest layer whose account file names the account (`user NAME`, `group NAME`)."""
    kind, _, name = label.partition(" ")
    path = _ACCOUNT_FILES.get(kind)
    if path is None or view.handles is None or not name:
        return None
    prefix = name.encode() + b":"
    for index, scan in enumerate(view.scans):
        entry = scan.entries.get(path)
        if entry is None or entry.kind != "file" or entry.size > 1 << 22:
            continue
        try:
            with view.handles[index].open(path) as fh:
                lines = fh.read(1 << 22).splitlines()
        except (OSError, KeyError, ValueError):
            continue
        if any(line.startswith(prefix) for line in lines):
            return index
    return None
