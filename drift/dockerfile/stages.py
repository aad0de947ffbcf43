"""Provenance across stages: what a `COPY --from=STAGE SRC DEST` brings into the image.

A stage's pip installs land under one folder each (its *root*): the venv a pip runs in, the
`--target`/`--prefix`/`--root` folder, `/root/.local` for `--user`, `/usr/local` for the
system's pip. A COPY --from carries an install when it copies the root or a folder holding it
(then the install is *whole* in the image, under DEST, and a declared package that is not
there is missing) or a folder inside the root (then part of it: what is under DEST may come
from it, nothing is required). Venvs made under SRC are carried the same way; apt packages never
are (dpkg's database stays in the stage). A COPY --from an image that is not a stage of the
Dockerfile is not read: what it brings is unknown, never guessed.

Local wheels, sdists and project folders (`pip install dist/app-1.0-py3-none-any.whl`,
`pip install .`) are read for their name and version: the wheel's file name (PEP 427), an
sdist's, or the build context's `pyproject.toml` `[project]` / `setup.cfg` `[metadata]`.
"""

from __future__ import annotations

import configparser
import fnmatch
import functools
import posixpath
import re
import sys
from dataclasses import dataclass
from typing import Literal

from drift.dockerfile.context import BuildContext, CopySpec
from drift.dockerfile.declared import At, Declaration

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - 3.10
    import tomli as tomllib

_GLOB = re.compile(r"[*?\[]")
_WHEEL = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._]*?)-(?P<version>[^-]+)(-\d[^-]*)?-[^-]+-[^-]+-[^-]+\.whl$")
_SDIST = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*?)-(?P<version>\d[^-]*)\.(tar\.gz|tar\.bz2|tgz|zip)$")
_MAX_PROJECT_FILE = 1 << 20


@dataclass(frozen=True, slots=True)
class Env:
    """Where a carried install's packages lie in the image: under `path`; `whole` when the
    COPY brought the install's whole root (then its packages must be there)."""

    path: str
    whole: bool

    def __str__(self) -> str:
        return self.path

    def holds(self, location: str) -> bool:
        return location == self.path or location.startswith(self.path.rstrip("/") + "/")


@dataclass(frozen=True, slots=True)
class Item:
    """One declaration of a stage that a COPY --from carries."""

    kind: Literal["pip", "requirements", "venv"]
    value: str  # the requirement or local path, the -r file (paths as the stage sees them), the venv
    line: int  # the stage's line that declares it
    env: Env
    stage: Declaration  # the stage that declares it: its COPY lines say what the build context put where
    user: bool = False


@dataclass(frozen=True, slots=True)
class Carried:
    """What one COPY --from line brings."""

    line: int
    source: str  # the stage or image --from names
    dest: str
    items: tuple[Item, ...]
    unread: int | None = None  # a line of the stage drift cannot read (its packages may come from it)
    image: bool = False  # --from names an image, not a stage: nothing is known of what it brings


def carried(decl: Declaration) -> list[Carried]:
    """Every COPY --from of the declaration with what it carries."""
    out = []
    for at in decl.copies:
        spec: CopySpec = at.value
        if spec.from_stage is None:
            continue
        stage = decl.from_stages.get(spec.from_stage.lower())
        if stage is None:
            out.append(Carried(at.line, spec.from_stage, spec.dest, (), image=True))
            continue
        items = [moved for item in _declared(stage) for moved in _through(item, spec)]
        out.append(Carried(at.line, spec.from_stage, spec.dest, tuple(items), _unread(stage)))
    return out


def _unread(stage: Declaration) -> int | None:
    """The first line of a stage (or of a stage it copies from) whose pip installs drift cannot read."""
    lines = stage.unknown_pip + stage.unknown_any
    for c in carried(stage):
        if c.image or c.unread is not None:
            lines.append(c.line if c.image else c.unread or c.line)
    return min(lines, default=None)


def _declared(stage: Declaration) -> list[Item]:
    """A stage's own pip installs, -r files and venvs, each under its root, and what its own
    COPY --from lines carry."""
    out: list[Item] = []
    removed = {_canonical(a.value[0]): a.line for a in stage.pip_uninstall}
    for at in stage.pip_install:
        pip, env = at.value
        root = _root(pip.target, pip.user, env)
        name = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", pip.spec)
        if name is not None and removed.get(_canonical(name[0]), 0) > at.line:
            continue  # uninstalled again later in the stage (`pip uninstall poetry`)
        if root:
            out.append(Item("pip", pip.spec, at.line, Env(root, True), stage))
    for at in stage.requirement_files:
        path, env, user, target = at.value
        root = _root(target, user, env)
        if root:
            out.append(Item("requirements", path, at.line, Env(root, True), stage, user))
    out += [Item("venv", at.value, at.line, Env(at.value, True), stage) for at in stage.venvs]
    for c in carried(stage):
        out += [Item(i.kind, i.value, c.line, i.env, i.stage, i.user) for i in c.items]
    return out


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _root(target: str | None, user: bool, env: str | None) -> str | None:
    """The folder a pip install writes under (None: not known, e.g. `--target $DIR`)."""
    if target:
        return target if target.startswith("/") and "$" not in target else None
    if user:
        return "/root/.local"
    return env if env and env != "*" else "/usr/local"


def _through(item: Item, spec: CopySpec) -> list[Item]:
    """The item as the COPY places it: under DEST, whole or in part; nothing when no source holds it."""
    out = []
    for raw in spec.sources:
        src = posixpath.normpath("/" + raw.lstrip("/"))
        env = _map(item.env, src, spec.dest)
        if env is not None and not (item.kind == "venv" and not env.whole):
            out.append(Item(item.kind, item.value, item.line, env, item.stage, item.user))
    return out


def _map(env: Env, src: str, dest: str) -> Env | None:
    root = env.path
    if _GLOB.search(src):
        parts = root.strip("/").split("/")
        prefixes = ["/" + "/".join(parts[:k]) for k in range(1, len(parts) + 1)]
        match = next((p for p in prefixes if _glob_match(p, src)), None)
        if match is None:
            return None
        src = match
    if root == src or root.startswith(src.rstrip("/") + "/"):
        return Env(posixpath.normpath(dest.rstrip("/") + "/" + root[len(src) :].lstrip("/")), env.whole)
    if src.startswith(root.rstrip("/") + "/"):
        return Env(dest, False)  # a folder inside the install: part of it
    return None


def _glob_match(path: str, pattern: str) -> bool:
    parts, pats = path.split("/"), pattern.split("/")
    return len(parts) == len(pats) and all(fnmatch.fnmatchcase(p, q) for p, q in zip(parts, pats, strict=True))


# -- local wheels, sdists and project folders ------------------------------------------------


def local_requirement(path: str, stage: Declaration, context: str | None) -> str | None:
    """`name==version` of a local wheel, sdist or project folder a stage's pip installs, read from
    its file name or the build context's project files; None when drift cannot tell."""
    base = posixpath.basename(path)
    ctx = BuildContext(context) if context else None
    if _GLOB.search(base):  # dist/*.whl: the one file of the context the COPY put there
        rels = _context_files(ctx, stage.copies, posixpath.dirname(path)) if ctx else []
        names = [r for r in rels if fnmatch.fnmatchcase(posixpath.basename(r), base)]
        if len(names) != 1:
            return None
        base = posixpath.basename(names[0])
    for pattern in (_WHEEL, _SDIST):
        match = pattern.match(base)
        if match:
            return f"{match['name']}=={match['version']}"
    if base.endswith((".whl", ".tar.gz", ".zip", ".tar.bz2", ".tgz")) or ctx is None:
        return None
    return _project(ctx, stage.copies, path)


def _project(ctx: BuildContext, copies: list[At], folder: str) -> str | None:
    """A project folder's name and version: pyproject.toml [project], else setup.cfg [metadata]
    (a version marked dynamic, or set by setup.py, is not known)."""
    text = _context_text(ctx, copies, posixpath.join(folder, "pyproject.toml"))
    if text is not None:
        try:
            project = tomllib.loads(text).get("project")
        except tomllib.TOMLDecodeError:
            return None
        if isinstance(project, dict) and isinstance(project.get("name"), str):
            version = project.get("version")
            return f"{project['name']}=={version}" if isinstance(version, str) else None
    text = _context_text(ctx, copies, posixpath.join(folder, "setup.cfg"))
    if text is None:
        return None
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
        name, version = parser.get("metadata", "name"), parser.get("metadata", "version")
    except (configparser.Error, KeyError):
        return None
    return f"{name}=={version}" if name and version and ":" not in version else None


def context_source(ctx: BuildContext, copies: list[At], path: str) -> str | None:
    """The build context's file that the stage's last COPY/ADD placing `path` put there."""
    for at in reversed(copies):
        spec: CopySpec = at.value
        if not (path == spec.dest or path.startswith(spec.dest.rstrip("/") + "/")):
            continue
        into = path != spec.dest  # the file is under the destination: a folder
        rel = (ctx.place(spec, functools.partial(_const, into)) or {}).get(path)
        entry = ctx.entry(rel) if rel else None
        if rel and entry is not None and entry.kind == "file":
            return rel
    return None


def _const(value: bool, _path: str) -> bool:
    return value


def _context_text(ctx: BuildContext, copies: list[At], path: str) -> str | None:
    rel = context_source(ctx, copies, path)
    entry = ctx.entry(rel) if rel else None
    if rel is None or entry is None or entry.size > _MAX_PROJECT_FILE:
        return None
    with open(posixpath.join(ctx.root, rel), encoding="utf-8", errors="replace") as fh:
        return fh.read()


def _context_files(ctx: BuildContext, copies: list[At], folder: str) -> list[str]:
    """Context files the stage's COPY lines put directly in an image folder."""
    out = []
    for at in copies:
        spec: CopySpec = at.value
        for path, rel in (ctx.place(spec, functools.partial(_const, True)) or {}).items():
            if posixpath.dirname(path) == folder and rel:
                out.append(rel)
    return out
