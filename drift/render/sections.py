"""An inventory as titled tables, the delta against the base first. Table and markdown
renderers format these; neither looks at the inventory itself."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from drift.model import FileChange, Inventory, short_id
from drift.severity import RANK


@dataclass(frozen=True, slots=True)
class Section:
    title: str
    headers: tuple[str, ...] = ()
    rows: tuple[tuple[Any, ...], ...] = ()
    lines: tuple[str, ...] = field(default=())


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return " ".join(str(v) for v in value) if value else "[]"
    return str(value) if value != "" else '""'


def header(inv: Inventory) -> Section:
    t = inv.target
    lines = [f"target:   {t.kind} {t.name}" + (f" ({short_id(t.id)})" if t.id else ""), f"resolved: {t.resolved_by}"]
    if t.image:
        lines.append(f"image:    {t.image}")
    if inv.base:
        lines.append(f"base:     {inv.base.name} ({short_id(inv.base.id)}), from {inv.base.reason}")
    else:
        lines.append("base:     none (file changes not computed; package files checked against their records)")
    return Section("drift inspect", lines=tuple(lines))


def summary(inv: Inventory) -> Section:
    counts = Counter((c.manager, c.change) for c in inv.package_changes)
    klass = Counter(f.klass for f in inv.files)
    manual = sum(1 for p in inv.apt if p.manual)
    requested = sum(1 for p in inv.pip if p.requested)
    lines = [
        f"apt: {len(inv.apt)} installed ({manual} manual)"
        + (
            f"; against the base: {counts['apt', 'added']} added, {counts['apt', 'removed']} removed, "
            f"{counts['apt', 'upgraded'] + counts['apt', 'downgraded']} changed version"
            if inv.base
            else ""
        ),
        f"pip: {len(inv.pip)} installed ({requested} requested) in {len(inv.environments)} environment(s)"
        + (
            f"; against the base: {counts['pip', 'added']} added, {counts['pip', 'removed']} removed, "
            f"{counts['pip', 'upgraded'] + counts['pip', 'downgraded'] + counts['pip', 'changed']} changed version"
            if inv.base
            else ""
        ),
    ]
    if not inv.base and inv.files:
        lines.append(f"files: no base to compare with; {len(inv.files)} package file(s) not as their package recorded")
    if inv.base:
        lines.append(
            f"files: {len(inv.files)} changed: {klass['unexplained']} unexplained, "
            f"{klass['package']} explained by packages, {klass['noise']} noise"
            + (f", {klass['account']} grouped under account changes" if klass["account"] else "")
            + (f", {klass['unknown']} unknown (see Unknown)" if klass["unknown"] else "")
        )
        if inv.accounts:
            by_hand = sum(1 for a in inv.accounts if a.explained_by is None)
            lines.append(
                f"accounts: {len(inv.accounts)} user/group change(s): {by_hand} by hand, "
                f"{len(inv.accounts) - by_hand} made by packages"
            )
        commits = sum(1 for h in inv.history if h.origin == "commit" and not h.in_base)
        if commits:
            lines.append(f"history: {commits} layer(s) made by 'docker commit': nothing documents them")
    return Section("Summary", lines=tuple(lines))


def made_by_run(inv: Inventory) -> list[Section]:
    """A container's paths the engine made at `docker run` (context, not drift), with the reason."""
    from drift.inventory.runtime import KUBE_REASON, REASON, REASONS

    made = [(f, p) for f in inv.files for p in REASONS if f.klass == "noise" and (f.reason or "").startswith(p)]
    if inv.target.kind != "container" or not made:
        return []
    rows = tuple((f.kind, f.path, (f.reason or "")[len(p) :]) for f, p in made)
    who = "docker run" if made[0][1] == REASON else "Kubernetes" if made[0][1] == KUBE_REASON else "containerd"
    return [Section(f"Made by {who} (the deployment's choice: context, not drift)", ("kind", "path", "why"), rows)]


def _path_cell(f: FileChange) -> str:
    """The path, where a link points, and whose recorded file a modified package file is."""
    text = f.path + (f" -> {f.link_target}" if f.link_target and f.kind == "symlink" else "")
    if f.package_file is not None:
        text += f"  (package file of {f.package_file.package}, not as recorded)"
    return text


def delta(inv: Inventory) -> list[Section]:
    unexplained = [f for f in inv.files if f.klass == "unexplained"]
    if not inv.base and not unexplained:
        return []
    out = []
    rated = [(f.severity or "info", f) for f in inv.files if f.klass == "unexplained"]
    unexplained = [f for _, f in sorted(rated, key=lambda pair: RANK[pair[0]])]  # most serious first (stable)
    out.append(
        Section(
            "Unexplained file changes (made by hand: no package explains them)",
            ("severity", "change", "kind", "mode", "owner", "size", "path"),
            tuple(
                (
                    f.severity or "-",
                    f.change,
                    f.kind,
                    f"{f.mode:04o}",
                    f"{f.uid}:{f.gid}",
                    f.size,
                    _path_cell(f),
                )
                for f in unexplained
            ),
        )
    )
    if not inv.base:
        return out  # package files not as recorded: all a target without a base can say of its files
    out.extend(made_by_run(inv))
    out.append(accounts(inv))
    manual = {p.name: p.manual for p in inv.apt}
    pips = {(p.name, p.location): p for p in inv.pip}
    rows = []
    hidden = 0
    for c in inv.package_changes:
        if c.manager == "apt":
            mark = "manual" if manual.get(c.name) else ("auto" if c.name in manual else "")
        else:
            pkg = pips.get((c.name, c.location or ""))
            mark = (
                ""
                if pkg is None
                else (f"apt:{pkg.apt_owner}" if pkg.apt_owner else ("requested" if pkg.requested else "dependency"))
            )
        if (c.change == "added" and mark in ("auto", "dependency")) or mark.startswith("apt:"):
            hidden += 1
            continue
        rows.append((c.manager, c.change, c.name, _fmt(c.base_version), _fmt(c.version), mark, c.location or ""))
    rows.sort(key=lambda r: (r[0], r[2], r[6]))
    lines = (
        (f"(+ {hidden} added as dependencies or by apt: listed in the JSON output and in the package lists below)",)
        if hidden
        else ()
    )
    out.append(
        Section(
            "Package changes against the base (what was asked for)",
            ("manager", "change", "name", "base", "now", "mark", "location"),
            tuple(rows),
            lines,
        )
    )
    out.append(
        Section(
            "Config changes against the base",
            ("key", "base", "now"),
            tuple((c.key, _fmt(c.base), _fmt(c.actual)) for c in inv.config_changes),
        )
    )
    return out


def _account_state(state: dict[str, Any] | None) -> str:
    if state is None:
        return "-"
    if "members" in state:
        return f"gid {state['gid']} members {_fmt(state['members'])}"
    return (
        f"uid {state['uid']} gid {state['gid']} home {state['home']} shell {state['shell']} "
        f"groups {_fmt(state['groups'])} password {state['password']}"
    )


def accounts(inv: Inventory) -> Section:
    """Users and groups added, removed or changed (the account files they touched are grouped under them)."""
    rows = []
    for a in sorted(inv.accounts, key=lambda a: (a.kind, a.name)):
        state = a.after if a.change != "removed" else a.before
        if a.change == "changed" and a.before and a.after:
            now = "; ".join(f"{k} {_fmt(a.before[k])} -> {_fmt(a.after[k])}" for k in a.fields if k in a.after)
        else:
            now = _account_state(state) + ("; home made from /etc/skel" if a.home_created else "")
        rows.append((a.kind, a.name, a.detail, now, _fmt(a.explained_by)))
    return Section(
        "Accounts (users and groups; the account files they touch are grouped under them)",
        ("kind", "name", "change", "state", "explained by"),
        tuple(rows),
    )


def inventory_sections(inv: Inventory) -> list[Section]:
    out = [header(inv), summary(inv), *delta(inv)]
    if inv.history:
        out.append(
            Section(
                "History (oldest first)",
                ("#", "origin", "in base", "size", "created by", "comment"),
                tuple(
                    (
                        i + 1,
                        h.origin + (" (!)" if h.origin == "commit" else ""),
                        "yes" if h.in_base else "no",
                        _fmt(h.size),
                        _short(h.created_by),
                        _short(h.comment),
                    )
                    for i, h in enumerate(inv.history)
                ),
            )
        )
    if inv.config:
        c = inv.config
        rows = (
            [("Env", e) for e in c.env]
            + [
                ("Cmd", _fmt(list(c.cmd) if c.cmd is not None else None)),
                ("Entrypoint", _fmt(list(c.entrypoint) if c.entrypoint is not None else None)),
                ("WorkingDir", _fmt(c.working_dir)),
                ("User", _fmt(c.user)),
                ("ExposedPorts", _fmt(list(c.exposed_ports))),
                ("Volumes", _fmt(list(c.volumes))),
            ]
            + [("Label", f"{k}={v}") for k, v in c.labels]
        )
        out.append(Section("Config", ("key", "value"), tuple(rows)))
    out.append(
        Section(
            "Python environments",
            ("path", "kind", "python", "externally managed", "site dirs"),
            tuple(
                (e.path, e.kind, _fmt(e.python), "yes" if e.externally_managed else "no", " ".join(e.site_dirs))
                for e in inv.environments
            ),
        )
    )
    out.append(
        Section(
            f"apt packages ({len(inv.apt)})",
            ("name", "version", "arch", "manual", "changed conffiles"),
            tuple(
                (
                    p.name,
                    p.version,
                    p.architecture,
                    "yes" if p.manual else "no",
                    " ".join(f"{c.path} ({c.state})" for c in p.conffiles_changed),
                )
                for p in inv.apt
            ),
        )
    )
    out.append(
        Section(
            f"pip packages ({len(inv.pip)})",
            ("name", "version", "requested", "environment", "location", "installer", "apt owner"),
            tuple(
                (
                    p.name,
                    p.version,
                    "yes" if p.requested else "no",
                    p.environment,
                    p.location,
                    _fmt(p.installer),
                    _fmt(p.apt_owner),
                )
                for p in inv.pip
            ),
        )
    )
    if inv.unknowns:
        out.append(
            Section(
                "Unknown (could not be decided)", ("where", "reason"), tuple((u.where, u.reason) for u in inv.unknowns)
            )
        )
    return out


def _short(text: str, width: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."
