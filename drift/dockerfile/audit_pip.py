"""Static audit, pip: declared requirements (inline and -r files from the build context)
against the installed distributions, per environment."""

from __future__ import annotations

import functools
import os

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from drift.dockerfile.audit_apt import first
from drift.dockerfile.context import BuildContext, CopySpec
from drift.dockerfile.declared import Declaration
from drift.dockerfile.deps import attribute_pip, by_label, pip_key
from drift.inventory import Inspection
from drift.model import Finding, FindingCategory, PipPackage, canonical_name


def _env_matches(pkg: PipPackage, env: str | None) -> bool:
    if env == "*":
        return True
    if env is None:
        return pkg.venv is None and not pkg.environment.endswith("/.local")
    return pkg.environment == env


def _requirements(context: str | None, decl: Declaration, path: str) -> list[str] | None:
    """Lines of a requirements file a RUN reads, found through the COPY that put it there."""
    if context is None or not os.path.isdir(context):
        return None
    ctx = BuildContext(context)
    for copy in reversed(decl.copies):
        spec: CopySpec = copy.value
        if not (path == spec.dest or path.startswith(spec.dest.rstrip("/") + "/")):
            continue
        into = path != spec.dest  # the file is under the destination: a folder
        rel = (ctx.place(spec, functools.partial(_const, into)) or {}).get(path)
        entry = ctx.entry(rel) if rel else None
        if rel and entry is not None and entry.kind == "file":
            full = os.path.join(ctx.root, rel)
            with open(full, encoding="utf-8", errors="replace") as fh:
                return _read_requirements(fh.read(), os.path.dirname(full))
    return None


def _const(value: bool, _path: str) -> bool:
    return value


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


def pip_findings(insp: Inspection, decl: Declaration, context: str | None) -> list[Finding]:
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
    maybe = first(decl.unknown_pip + decl.unknown_any)
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
