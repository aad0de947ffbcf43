"""Static audit, pip: declared requirements (inline and -r files from the build context)
against the installed distributions, per environment."""

from __future__ import annotations

import os
import posixpath

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from drift.dockerfile import stages
from drift.dockerfile.audit_apt import first
from drift.dockerfile.context import BuildContext
from drift.dockerfile.declared import USER_SITE, At, Declaration
from drift.dockerfile.deps import attribute_pip, by_label, pip_key
from drift.dockerfile.shell import is_local_spec
from drift.dockerfile.stages import Env, context_source
from drift.inventory import Inspection
from drift.model import Finding, FindingCategory, PipPackage, canonical_name


def _env_matches(pkg: PipPackage, env: str | Env | None) -> bool:
    if isinstance(env, Env):  # carried by a COPY --from: under the folder it put the install in
        return env.holds(pkg.location)
    if env == "*":
        return True
    if env == USER_SITE:  # --user: a home's .local, whichever USER ran the line
        return pkg.venv is None and pkg.environment.endswith("/.local")
    if env is None:
        return pkg.venv is None and not pkg.environment.endswith("/.local")
    return pkg.environment == env


def _deletes_metadata(pattern: str) -> bool:
    """A path a RUN line writes (deletes) that is pip's metadata: a dist-info or egg-info (glob),
    or a whole site-packages."""
    base = posixpath.basename(pattern.rstrip("/"))
    return "-packages" in pattern and (base.endswith(("dist-info", "egg-info")) or base.endswith("-packages"))


def _metadata_deleted(decl: Declaration, after: int) -> int | None:
    """The first RUN line after AFTER that deletes pip's metadata (`rm -rf .../*.dist-info`)."""
    return next((at.line for at in decl.paths if at.line > after and _deletes_metadata(at.value)), None)


def _gone_what(decl: Declaration, line: int) -> str:
    return ", ".join(at.value for at in decl.paths if at.line == line and _deletes_metadata(at.value))


def _requirements(context: str | None, copies: list[At], path: str) -> list[str] | None:
    """Lines of a requirements file a RUN reads, found through the COPY (of its stage) that put it there."""
    if context is None or not os.path.isdir(context):
        return None
    ctx = BuildContext(context)
    rel = context_source(ctx, copies, path)
    if rel is None:
        return None
    full = os.path.join(ctx.root, rel)
    with open(full, encoding="utf-8", errors="replace") as fh:
        return _read_requirements(fh.read(), os.path.dirname(full))


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
    specs: list[tuple[int, str, str | Env | None]] = []  # line, spec, env
    for at in decl.pip_install:
        pip, env = at.value
        specs.append((at.line, pip.spec, env))
    for at in decl.requirement_files:
        path, env, user, _ = at.value
        lines = _requirements(context, decl.copies, path)
        if lines is None:
            out.append(_no_requirements(path, at.line))
            decl.unknown_pip.append(at.line)
            continue
        specs += [(at.line, s, USER_SITE if user else env) for s in lines]
    moved = stages.carried(decl)
    venv_lines = {a.value: a.line for a in decl.venvs}
    specs += _carried_specs(moved, decl, context, out, venv_lines)
    named: dict[tuple[str, str | Env | None], tuple[int, Requirement]] = {}
    unnamed_envs: dict[str | Env | None, int] = {}
    for line, spec, env in specs:
        try:
            req = Requirement(spec)
        except InvalidRequirement:
            unnamed_envs.setdefault(env, line)  # a path or URL: matched by direct_url below
            continue
        named[(canonical_name(req.name), env)] = (line, req)
    uninstalled = {(canonical_name(a.value[0]), a.value[1]): a.line for a in decl.pip_uninstall}
    base_keys = {(canonical_name(p.name), p.location) for p in inv.base_pip}
    explained: set[tuple[str, str]] = set()
    by_env: dict[str, list[PipPackage]] = {}
    for p in inv.pip:
        by_env.setdefault(p.location, []).append(p)
    for (name, env), (line, req) in sorted(named.items(), key=lambda kv: (kv[0][0], str(kv[0][1]))):
        hits = [p for p in inv.pip if canonical_name(p.name) == name and _env_matches(p, env)]
        if not hits and isinstance(env, Env) and not env.whole:
            continue  # a COPY of part of an install: what it holds may come from it, nothing more
        gone = _metadata_deleted(decl, line) if not hits else None
        if gone is not None:
            out.append(
                Finding(
                    "unknown",
                    "pip",
                    req.name,
                    None,
                    None,
                    line=gone,
                    detail=f"line {gone} deletes installed packages' metadata ({_gone_what(decl, gone)}): "
                    f"whether {req.name} (line {line}) is installed cannot be read",
                )
            )
            continue
        if not hits:
            out.append(
                Finding(
                    "missing",
                    "pip",
                    req.name,
                    str(req.specifier) or "installed",
                    None,
                    line=line,
                    location=str(env) if isinstance(env, Env) else env,
                    fix=f"remove {req.name} from line {line}, or install it",
                )
            )
            continue
        # pip upgraded over Debian's (`pip install -U pip` on python3-pip): pip cannot remove
        # Debian's copy, which stays behind the new one on sys.path; the copy that satisfies the
        # line is what the line made, Debian's is the apt package's
        ok = [p for p in hits if not req.specifier or req.specifier.contains(_version(p.version), prereleases=True)]
        for p in hits:
            explained |= _pip_closure(p, by_env.get(p.location, []))
            if ok and p.apt_owner and p not in ok:
                continue
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
        shadow = next((c for c in moved if (c.image or c.unread) and Env(c.dest, False).holds(p.location)), None)
        if shadow is not None:
            out.append(_copied_unknown(p, shadow, who))
            continue
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


def _no_requirements(path: str, line: int) -> Finding:
    return Finding(
        "unknown",
        "pip",
        path,
        None,
        None,
        line=line,
        detail="requirements file not found in the build context: its packages are unknown",
    )


def _carried_specs(
    moved: list[stages.Carried], decl: Declaration, context: str | None, out: list[Finding], venv_lines: dict[str, int]
) -> list[tuple[int, str, str | Env | None]]:
    """What the COPY --from lines bring, as (COPY line, requirement, where in the image); the venvs
    they carry go in `venv_lines`, what cannot be read becomes an unknown in `out`."""
    specs: list[tuple[int, str, str | Env | None]] = []
    for c in moved:
        for item in c.items:
            if item.kind == "venv":
                venv_lines.setdefault(item.env.path, c.line)
            elif item.kind == "requirements":
                lines = _requirements(context, item.stage.copies, item.value)
                if lines is None:
                    out.append(_no_requirements(item.value, c.line))
                    decl.unknown_pip.append(c.line)
                    continue
                specs += [(c.line, s, item.env) for s in lines]
            elif is_local_spec(item.value):
                req = stages.local_requirement(item.value, item.stage, context)
                if req is None:
                    out.append(_unread_local(item, c))
                    decl.unknown_pip.append(c.line)
                specs.append((c.line, req or item.value, item.env))
            else:
                specs.append((c.line, item.value, item.env))
    return specs


def _unread_local(item: stages.Item, c: stages.Carried) -> Finding:
    return Finding(
        "unknown",
        "pip",
        item.value,
        None,
        None,
        line=c.line,
        location=item.env.path,
        detail=f"line {item.line} of stage {c.source} installs {item.value}, which drift cannot read "
        "in the build context: its name and version are unknown",
    )


def _copied_unknown(p: PipPackage, c: stages.Carried, who: str | None) -> Finding:
    why = (
        f"line {c.line} copies {c.dest} from the image {c.source}, which drift does not read"
        if c.image
        else f"line {c.line} copies {c.dest} from stage {c.source}, whose line {c.unread} drift cannot read"
    )
    return Finding(
        "unknown",
        "pip",
        p.name,
        None,
        p.version,
        location=p.location,
        explained_by=by_label("pip", who),
        line=c.line,
        detail=f"may come from that copy: {why}",
    )
