"""Static audit: an image's inventory against what its Dockerfile declares.

Expected = the base image's inventory + what the Dockerfile declares + what that pulls in
(apt Depends/Pre-Depends, and Recommends unless turned off, followed inside the image's
own installed set; pip Requires-Dist inside the same environment). Every difference is a
`Finding`; undocumented packages that only came in as dependencies of another
undocumented one name it in `explained_by`.
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
import re
from collections.abc import Iterable

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from drift.dockerfile.declared import At, Declaration
from drift.dockerfile.shell import AptInstall
from drift.inventory import Inspection
from drift.model import AptPackage, Finding, FindingCategory, PipPackage, canonical_name

_REL_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9.+-]*)(?::[a-z0-9-]+)?")


# -- apt dependency closure ------------------------------------------------------------------


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


# -- the audit ----------------------------------------------------------------------------------


def audit(insp: Inspection, decl: Declaration, *, context: str | None, dockerfile: str) -> list[Finding]:
    findings: list[Finding] = []
    findings += [
        Finding("dockerfile", None, f"line {a.line}", None, None, line=a.line, detail=a.value) for a in decl.problems
    ]
    findings += [
        Finding("unknown", None, f"line {a.line}", None, None, line=a.line, detail=a.value) for a in decl.unknowns
    ]
    findings += _apt_findings(insp, decl)
    findings += _pip_findings(insp, decl, context)
    findings += _file_findings(insp, decl)
    findings += _config_findings(insp, decl)
    return findings


def _needed(name: str, index: AptIndex, installed: dict[str, AptPackage], orphans: set[str]) -> bool:
    """Does an installed package, other than the orphans, depend on this one?"""
    return any(name in index.deps(other, recommends=False) for other in installed if other not in orphans)


def by_label(manager: str, who: str | None) -> str | None:
    if who is None:
        return None
    if who == ORPHAN:
        return f"{manager}:(orphan: nothing installed needs it)"
    return f"{manager}:{who.split('@', 1)[0]}"


def _first(lines: list[int]) -> int | None:
    return min(lines) if lines else None


def _pin_ok(pin: str, version: str) -> bool:
    return fnmatch.fnmatchcase(version, pin) if "*" in pin else pin == version


def _apt_findings(insp: Inspection, decl: Declaration) -> list[Finding]:
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
            wanted[item.name] = at
            removed.pop(item.name, None)
        else:
            removed[at.value] = line
            wanted.pop(at.value, None)
    explained = {n for n in base if n not in removed}
    declared_closure: set[str] = set()
    for name, at in wanted.items():
        declared_closure |= index.closure([name], recommends=not at.value.no_recommends)
    explained |= declared_closure
    upgrade_line = _first(decl.apt_upgrade)
    for name, at in sorted(wanted.items()):
        item = at.value
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
    maybe = _first(decl.unknown_apt + decl.unknown_any)
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


# -- pip ----------------------------------------------------------------------------------------


def _env_matches(pkg: PipPackage, env: str | None) -> bool:
    if env == "*":
        return True
    if env is None:
        return pkg.venv is None and not pkg.environment.endswith("/.local")
    return pkg.environment == env


def _requirements(context: str | None, decl: Declaration, path: str) -> list[str] | None:
    """Lines of a requirements file a RUN reads, found through the COPY that put it there."""
    if context is None:
        return None
    for copy in reversed(decl.copies):
        dest, sources, from_stage = copy.value
        if from_stage:
            continue
        for src in sources:
            if src.startswith(("<<", "http://", "https://")):
                continue
            candidates = []
            if path == dest:
                candidates.append(os.path.join(context, src))
            if path.startswith(dest.rstrip("/") + "/"):
                rel = path[len(dest.rstrip("/")) + 1 :]
                if os.path.isdir(os.path.join(context, src)):
                    candidates.append(os.path.join(context, src, rel))
                elif posixpath.basename(src) == rel:
                    candidates.append(os.path.join(context, src))
            for cand in candidates:
                full = os.path.normpath(cand)
                if os.path.isfile(full) and full.startswith(os.path.abspath(context)):
                    with open(full, encoding="utf-8", errors="replace") as fh:
                        return _read_requirements(fh.read(), os.path.dirname(full))
    return None


def _read_requirements(text: str, folder: str, depth: int = 0) -> list[str]:
    out: list[str] = []
    for line in text.splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(("-r ", "--requirement ")) and depth < 5:
            nested = os.path.join(folder, line.split(None, 1)[1])
            if os.path.isfile(nested):
                with open(nested, encoding="utf-8", errors="replace") as fh:
                    out += _read_requirements(fh.read(), os.path.dirname(nested), depth + 1)
            continue
        if line.startswith("-"):
            if line.startswith(("-e ", "--editable ")):
                out.append(line.split(None, 1)[1])
            continue
        out.append(line)
    return out


def _pip_findings(insp: Inspection, decl: Declaration, context: str | None) -> list[Finding]:
    inv = insp.inventory
    out: list[Finding] = []
    specs: list[tuple[int, str, str | None]] = []  # line, spec, env
    for at in decl.pip_install:
        pip, env = at.value
        specs.append((at.line, pip.spec, env))
    for at in decl.requirement_files:
        path, env, user = at.value
        lines = _requirements(context, decl, path)
        if lines is None:
            out.append(
                Finding(
                    "unknown",
                    "pip",
                    path,
                    None,
                    None,
                    line=at.line,
                    detail="requirements file not found in the build context: its packages are unknown",
                )
            )
            decl.unknown_pip.append(at.line)
            continue
        specs += [(at.line, s, "/root/.local" if user else env) for s in lines]
    named: dict[tuple[str, str | None], tuple[int, Requirement]] = {}
    unnamed_envs: dict[str | None, int] = {}
    for line, spec, env in specs:
        try:
            req = Requirement(spec)
        except InvalidRequirement:
            unnamed_envs.setdefault(env, line)  # a path or URL: matched by direct_url below
            continue
        named[(canonical_name(req.name), env)] = (line, req)
    uninstalled = {(canonical_name(a.value[0]), a.value[1]): a.line for a in decl.pip_uninstall}
    venv_lines = {a.value: a.line for a in decl.venvs}
    base_keys = {(canonical_name(p.name), p.location) for p in inv.base_pip}
    explained: set[tuple[str, str]] = set()
    by_env: dict[str, list[PipPackage]] = {}
    for p in inv.pip:
        by_env.setdefault(p.location, []).append(p)
    for (name, env), (line, req) in sorted(named.items(), key=lambda kv: (kv[0][0], str(kv[0][1]))):
        hits = [p for p in inv.pip if canonical_name(p.name) == name and _env_matches(p, env)]
        if not hits:
            out.append(
                Finding(
                    "missing",
                    "pip",
                    req.name,
                    str(req.specifier) or "installed",
                    None,
                    line=line,
                    location=env,
                    fix=f"remove {req.name} from line {line}, or install it",
                )
            )
            continue
        for p in hits:
            explained |= _pip_closure(p, by_env.get(p.location, []))
            if req.specifier and not req.specifier.contains(_version(p.version), prereleases=True):
                out.append(
                    Finding(
                        "version",
                        "pip",
                        p.name,
                        str(req.specifier),
                        p.version,
                        line=line,
                        location=p.location,
                        fix=f"{p.name}=={p.version}",
                    )
                )
    undocumented: dict[tuple[str, str], PipPackage] = {}
    for p in inv.pip:
        key = (canonical_name(p.name), p.location)
        if key in explained or key in base_keys:
            continue
        if p.apt_owner:
            continue  # Debian's: the apt findings speak for it
        if p.venv in venv_lines and canonical_name(p.name) in ("pip", "setuptools", "wheel"):
            continue  # made by python3 -m venv
        if p.direct_url and any(_env_matches(p, env) for env in unnamed_envs):
            explained |= _pip_closure(p, by_env.get(p.location, []))
            continue
        undocumented[key] = p
    for key, line in uninstalled.items():
        for p in inv.pip:
            if canonical_name(p.name) == key[0] and _env_matches(p, key[1]):
                out.append(
                    Finding(
                        "undocumented",
                        "pip",
                        p.name,
                        "absent",
                        p.version,
                        line=line,
                        location=p.location,
                        detail=f"line {line} uninstalls it, yet it is installed",
                    )
                )
    undocumented = {k: v for k, v in undocumented.items() if k not in explained}
    owner = attribute_pip(list(undocumented.values()))
    category: FindingCategory = "unknown" if decl.unknown_pip or decl.unknown_any else "undocumented"
    maybe = _first(decl.unknown_pip + decl.unknown_any)
    for _, p in sorted(undocumented.items()):
        who = owner[pip_key(p)]
        out.append(
            Finding(
                category,
                "pip",
                p.name,
                None,
                p.version,
                location=p.location,
                explained_by=by_label("pip", who),
                line=maybe,
                fix=None if who else f"{p.name}=={p.version}",
                detail=f"may come from line {maybe}, which drift cannot read" if maybe else None,
            )
        )
    return out


def _version(text: str) -> Version | str:
    try:
        return Version(text)
    except InvalidVersion:
        return text


def _pip_closure(root: PipPackage, env: list[PipPackage]) -> set[tuple[str, str]]:
    by_name = {canonical_name(p.name): p for p in env}
    seen: set[tuple[str, str]] = set()
    stack = [root]
    while stack:
        p = stack.pop()
        key = (canonical_name(p.name), p.location)
        if key in seen:
            continue
        seen.add(key)
        stack += [by_name[canonical_name(r)] for r in p.requires if canonical_name(r) in by_name]
    return seen


# -- files and config ---------------------------------------------------------------------------


def _covered(path: str, decl: Declaration) -> int | None:
    """The line of a COPY/ADD, WORKDIR, RUN or venv that accounts for a path."""
    for at in decl.copies:
        dest = at.value[0]
        if path == dest or path.startswith(dest.rstrip("/") + "/") or dest.startswith(path + "/"):
            return at.line  # copied, or a folder made to hold what was copied
    for at in decl.workdirs + decl.venvs:
        if path == at.value or (at in decl.venvs and path.startswith(at.value + "/")):
            return at.line
        if at.value.startswith(path + "/"):  # parents a WORKDIR created
            return at.line
    for at in decl.paths:
        pattern = at.value
        if path == pattern or path.startswith(pattern.rstrip("/") + "/") or fnmatch.fnmatchcase(path, pattern):
            return at.line
        if pattern.startswith(path + "/"):  # a folder made to hold what a RUN wrote
            return at.line
    if decl.accounts and path in (
        "/etc/passwd",
        "/etc/group",
        "/etc/shadow",
        "/etc/gshadow",
        "/etc/subuid",
        "/etc/subgid",
    ):
        return decl.accounts[0]
    return None


def _file_findings(insp: Inspection, decl: Declaration) -> list[Finding]:
    out = []
    maybe = _first(decl.unknown_any)
    for f in insp.inventory.files:
        if f.klass != "unexplained" or _covered(f.path, decl) is not None:
            continue
        fix = _file_fix(f.path, f.change == "deleted")
        desc = {"change": f.change, "kind": f.kind, "mode": f"{f.mode:04o}", "size": f.size}
        out.append(
            Finding(
                "unknown" if maybe else "file",
                None,
                f.path,
                None,
                desc,
                line=maybe,
                fix=fix,
                detail=f"may come from line {maybe}, which drift cannot read" if maybe else f.change,
            )
        )
    return out


def _file_fix(path: str, deleted: bool) -> str | None:
    """The instruction that reproduces a file change, escaped; None when none can be written."""
    from drift.dockerfile import escape

    try:
        return f"RUN rm -rf {escape.sh(path)}" if deleted else escape.copy(path.lstrip("/"), path)
    except escape.Unsafe:
        return None


def _config_findings(insp: Inspection, decl: Declaration) -> list[Finding]:
    actual = insp.inventory.config
    if actual is None:
        return []
    flat = actual.flat()
    out = []
    keys = set(flat) | {k for k, at in decl.config.items() if at.value is not None}
    for key in sorted(keys):
        at = decl.config.get(key, At(0, None))
        expected, got = at.value, flat.get(key)
        if _norm(expected) == _norm(got):
            continue
        out.append(Finding("config", None, key, expected, got, line=at.line or None, fix=_config_fix(key, got)))
    return out


def _norm(value: object) -> object:
    if value in ("", [], None):
        return None
    return value


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
