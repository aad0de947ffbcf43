"""Python distributions in every environment of a filesystem.

Environments are found from the filesystem alone: every `site-packages`/`dist-packages`
folder holding `*.dist-info` or `*.egg-info`, and every virtual environment (a folder with
`pyvenv.cfg`). Metadata follows the core metadata spec (email headers), PEP 376 (REQUESTED,
INSTALLER, RECORD) and PEP 610 (direct_url.json).
"""

from __future__ import annotations

import email.parser
import json
import posixpath
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from drift.model import DirectUrl, PipPackage, PythonEnv, Unknown, canonical_name
from drift.sources.fs import View

DEBIAN_SITE = "/usr/lib/python3/dist-packages"  # where Debian's python3-* packages put distributions
_SITE = re.compile(r"/(site|dist)-packages$")
_PYVER = re.compile(r"/python(\d+\.\d+)/")
_USER = re.compile(r"^(/root|/home/[^/]+)/\.local/")
_REQ_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


@dataclass(slots=True)
class PipResult:
    packages: list[PipPackage] = field(default_factory=list)
    environments: list[PythonEnv] = field(default_factory=list)
    records: dict[str, str] = field(default_factory=dict)  # path -> "name@location"
    unknowns: list[Unknown] = field(default_factory=list)


def parse_metadata(data: bytes) -> tuple[str | None, str | None, tuple[str, ...]]:
    """Name, Version and Requires-Dist names of a METADATA / PKG-INFO file."""
    text = data.decode("utf-8", errors="replace")
    head = text.split("\n\n", 1)[0] + "\n\n"
    msg = email.parser.Parser().parsestr(head, headersonly=True)
    name = msg.get("Name")
    version = msg.get("Version")
    requires = []
    for req in msg.get_all("Requires-Dist") or []:
        match = _REQ_NAME.match(req)
        if match:
            requires.append(match.group(1))
    return (name.strip() if name else None), (version.strip() if version else None), tuple(requires)


def parse_requires_txt(data: bytes | None) -> tuple[str, ...]:
    """Unconditional requirement names of an egg-info requires.txt (before any [section])."""
    out = []
    for line in (data or b"").decode("utf-8", errors="replace").splitlines():
        line = line.strip()
        if line.startswith("["):
            break
        match = _REQ_NAME.match(line)
        if match:
            out.append(match.group(1))
    return tuple(out)


def parse_direct_url(data: bytes | None) -> DirectUrl | None:
    if not data:
        return None
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("url"), str):
        return None  # not what pip writes (PEP 610): no direct URL is claimed
    url = doc["url"]
    subdirectory = _str(doc.get("subdirectory"))
    vcs = doc.get("vcs_info")
    if isinstance(vcs, dict):
        return DirectUrl(
            url=url,
            kind="vcs",
            vcs=_str(vcs.get("vcs")),
            commit=_str(vcs.get("commit_id")),
            requested_revision=_str(vcs.get("requested_revision")),
            subdirectory=subdirectory,
        )
    info = doc.get("dir_info")
    if isinstance(info, dict):
        return DirectUrl(url=url, kind="dir", editable=info.get("editable") is True, subdirectory=subdirectory)
    return DirectUrl(url=url, kind="archive", subdirectory=subdirectory)


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def parse_pyvenv(data: bytes | None) -> dict[str, str]:
    out = {}
    for line in (data or b"").decode("utf-8", errors="replace").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip().lower()] = value.strip()
    return out


def _environment_of(site: str, venvs: list[str]) -> tuple[str, str]:
    for root in venvs:
        if site.startswith(root + "/"):
            return "venv", root
    if site.startswith("/usr/local/"):
        return "local", "/usr/local"
    user = _USER.match(site)
    if user:
        return "user", user.group(1) + "/.local"
    if site.startswith("/usr/"):
        return "system", "/usr"
    head = site.split("/lib/", 1)[0]
    return "prefix", head or site


def _system_python(view: View) -> str | None:
    versions = []
    for path in view.listdir("/usr/lib"):
        match = re.match(r"^/usr/lib/python(3\.\d+)$", path)
        if match and view.exists(f"{path}/os.py"):
            versions.append(match.group(1))
    return max(versions, key=lambda v: tuple(int(x) for x in v.split("."))) if versions else None


def collect(
    view: View,
    owners_for: Callable[[Iterable[str]], dict[str, str]],
    listless_owner: Callable[[str, str], str | None] | None = None,
) -> PipResult:
    """Distributions and environments; `owners_for(paths)` tells which apt package owns a path,
    `listless_owner(metadata path, name)` which one must when dpkg's file lists are gone."""
    result = PipResult()
    venvs: list[str] = []
    metas: list[str] = []
    for path, entry in view.entries.items():
        base = path.rsplit("/", 1)[-1]
        if base == "pyvenv.cfg" and entry.kind == "file":
            venvs.append(posixpath.dirname(path))
        elif ((base.endswith(".dist-info") and entry.kind == "dir") or base.endswith(".egg-info")) and _SITE.search(
            posixpath.dirname(path)
        ):
            metas.append(path)
    venvs.sort(key=len, reverse=True)
    system_python = _system_python(view)
    owners = owners_for(metas)

    sites: dict[str, list[str]] = {}
    for meta in metas:
        sites.setdefault(posixpath.dirname(meta), []).append(meta)
    for root in venvs:  # a venv with an empty site-packages is still an environment
        for lib in ("lib", "lib64"):
            for pydir in view.listdir(f"{root}/{lib}"):
                site = f"{pydir}/site-packages"
                if view.exists(site) and view.entries[site].kind == "dir":
                    sites.setdefault(site, [])

    envs: dict[str, tuple[str, list[str]]] = {}
    for site in sorted(sites):
        kind, env_path = _environment_of(site, venvs)
        envs.setdefault(env_path, (kind, []))[1].append(site)
        for meta in sorted(sites[site]):
            pkg = _read_dist(view, meta, kind, env_path, owners, result, listless_owner)
            if pkg is not None:
                result.packages.append(pkg)

    for env_path, (kind, sites_of_env) in sorted(envs.items()):
        site_dirs = tuple(sites_of_env)
        python = None
        for site in site_dirs:
            match = _PYVER.search(site + "/")
            if match:
                python = match.group(1)
        cfg = parse_pyvenv(view.read(f"{env_path}/pyvenv.cfg")) if kind == "venv" else {}
        if kind == "venv":
            python = cfg.get("version") or cfg.get("version_info") or python
        python = python or system_python
        managed = kind != "venv" and bool(python) and view.exists(f"/usr/lib/python{python}/EXTERNALLY-MANAGED")
        result.environments.append(
            PythonEnv(
                path=env_path,
                kind=kind,  # type: ignore[arg-type]
                site_dirs=site_dirs,
                python=python,
                externally_managed=managed,
                include_system_site_packages=cfg.get("include-system-site-packages", "false").lower() == "true",
            )
        )
    result.packages.sort(key=lambda p: (p.location, canonical_name(p.name), p.version))
    return result


def _read_dist(
    view: View,
    meta: str,
    kind: str,
    env_path: str,
    owners: dict[str, str],
    result: PipResult,
    listless_owner: Callable[[str, str], str | None] | None = None,
) -> PipPackage | None:
    entry = view.entries[meta]
    site = posixpath.dirname(meta)
    if meta.endswith(".dist-info"):
        data = view.read(f"{meta}/METADATA")
        requires_extra: tuple[str, ...] = ()
    elif entry.kind == "dir":
        data = view.read(f"{meta}/PKG-INFO")
        requires_extra = parse_requires_txt(view.read(f"{meta}/requires.txt"))
    else:
        data = view.read(meta)
        requires_extra = ()
    if data is None:
        result.unknowns.append(
            Unknown(meta, "no readable METADATA/PKG-INFO (missing, not a file, or over 64 MB): distribution skipped")
        )
        return None
    name, version, requires = parse_metadata(data)
    if not name or not version:
        result.unknowns.append(Unknown(meta, "metadata without Name or Version: distribution skipped"))
        return None
    is_dir = entry.kind == "dir"
    installer_raw = view.read(f"{meta}/INSTALLER") if is_dir else None
    installer = installer_raw.decode("utf-8", errors="replace").strip() if installer_raw else None
    apt_owner = owners.get(meta)
    if apt_owner is None and listless_owner is not None and site == DEBIAN_SITE and installer in (None, "", "debian"):
        apt_owner = listless_owner(meta, name)  # Debian's (pip, and so any pip install, writes INSTALLER)
    pkg = PipPackage(
        name=name,
        version=version,
        location=site,
        requested=is_dir and view.exists(f"{meta}/REQUESTED"),
        environment=env_path,
        metadata_path=meta,
        installer=installer or None,
        requires=requires or requires_extra,
        venv=env_path if kind == "venv" else None,
        apt_owner=apt_owner,
        direct_url=parse_direct_url(view.read(f"{meta}/direct_url.json")) if is_dir else None,
    )
    _record_paths(view, meta, site, pkg.key, result)
    return pkg


def _record_paths(view: View, meta: str, site: str, key: str, result: PipResult) -> None:
    """Map the files a distribution installed (RECORD / installed-files.txt) to it."""
    if meta.endswith(".dist-info"):
        data = view.read(f"{meta}/RECORD")
        rows = [line.split(",", 1)[0] for line in (data or b"").decode("utf-8", errors="replace").splitlines()]
        base = site
    else:
        data = view.read(f"{meta}/installed-files.txt")
        rows = (data or b"").decode("utf-8", errors="replace").splitlines()
        base = meta
    for row in rows:
        row = row.strip().strip('"')
        if not row:
            continue
        path = posixpath.normpath(row if row.startswith("/") else posixpath.join(base, row))
        result.records[path] = key
        # the folders a distribution created belong to it as well
        folder = posixpath.dirname(path)
        while folder.startswith(site + "/") and folder not in result.records:
            result.records[folder] = key
            folder = posixpath.dirname(folder)
    result.records.setdefault(meta, key)
