"""What changed on disk between a base and a target, and what explains each change.

A change is explained by a package (dpkg's file lists, pip's RECORD, a virtual environment
created, update-alternatives, or a package's maintainer scripts), or it is noise (caches,
logs, apt lists, bytecode, shell history), or it is unexplained: what a person did by hand.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from drift.inventory import scripts as maint
from drift.inventory.apt import aliases
from drift.model import FileChange
from drift.sources.fs import Entry, View


def pattern_table(pairs: tuple[tuple[str, str], ...]) -> tuple[tuple[re.Pattern[str], str], ...]:
    """(regex, meaning) pairs, compiled once."""
    return tuple((re.compile(pattern), meaning) for pattern, meaning in pairs)


NOISE = pattern_table(
    (
        (r"^/var/lib/apt/lists(/|$)", "apt package lists"),
        (r"^/var/cache(/|$)", "cache"),
        (r"^/var/log(/|$)", "log"),
        (r"^/(var/)?tmp(/|$)", "temporary file"),
        (r"^/run(/|$)", "runtime state"),
        (r"(^|/)__pycache__(/|$)", "Python bytecode"),
        (r"\.py[co]$", "Python bytecode"),
        (r"^/(root|home/[^/]+)/\.cache(/|$)", "user cache"),
        (r"^/(root|home/[^/]+)/\.(bash|python|sh|zsh|mysql|psql|node_repl)_?history$", "shell history"),
        (r"^/(root|home/[^/]+)/\.(lesshst|viminfo|wget-hsts)$", "editor/tool state"),
        (r"^/var/lib/dpkg(/|$)", "dpkg database (reflected in the apt list)"),
        (r"^/var/lib/apt(/|$)", "apt state (reflected in the apt list)"),
        (r"^/var/lib/ucf(/|$)", "ucf state"),
        (r"^/var/lib/python(/|$)", "python3 maintainer state"),
        (r"^/var/lib/systemd/deb-systemd-(user-)?helper", "systemd helper state"),
        (r"^/etc/ld\.so\.cache$", "dynamic linker cache"),
        (r"^/etc/(passwd|group|shadow|gshadow|subuid|subgid)-$", "backup of an account file"),
        (r"^/etc/(hostname|hosts|resolv\.conf)$", "managed by Docker"),
        (r"^/usr/share/info/dir(\.old)?$", "info index"),
        (r"^/\.dockerenv$", "managed by Docker"),
    )
)

# Noise folders that hide data files only: an executable or setuid/setgid file in them is
# never noise (a binary dropped in /tmp is what runtime drift products alert on).
DATA_ONLY = frozenset({"temporary file", "runtime state", "cache", "user cache", "log"})

# What the engine's init layer puts in every container (moby daemon/initlayer), so what a
# flattened image (`docker export | docker import`) holds from the container it was: made by
# Docker in the shape Docker makes it, not drift. Path -> the kinds Docker makes there.
DOCKER_INIT = {
    "/dev": ("dir",),
    "/dev/pts": ("dir",),
    "/dev/shm": ("dir",),
    "/proc": ("dir",),
    "/sys": ("dir",),
    "/dev/console": ("file", "char"),
    "/etc/mtab": ("symlink",),
}
DOCKER_INIT_REASON = "made by Docker: the engine's init layer of the container this image was made from"
# Podman's marker in every container (empty unless the container is privileged), which
# `podman commit` keeps in the image.
PODMAN_ENV = "/run/.containerenv"
PODMAN_REASON = "made by Podman: its marker in every container (/run/.containerenv, empty)"

# Files that packages' maintainer scripts write (absent from dpkg's file lists).
GENERATED = pattern_table(
    (
        (r"^/etc/ssl/certs(/|$)", "ca-certificates"),
        (r"^/etc/ca-certificates\.conf$", "ca-certificates"),
        (r"^/usr/local/share/ca-certificates$", "ca-certificates"),
        (r"^/etc/shells$", "debianutils"),
        (r"^/etc/python3\.\d+/sitecustomize\.py$", "python3-minimal"),
        (r"^/etc/mime\.types$", "media-types"),
        (r"^/etc/perl/CPAN/Config\.pm$", "perl"),
        (r"^/var/lib/sgml-base", "sgml-base"),
        (r"^/etc/ssl/private$", "openssl"),
        (r"^/etc/ssl/certs/ssl-cert-snakeoil\.pem$", "ssl-cert"),
        (r"^/etc/ssl/certs/[0-9a-f]{8}\.\d+$", "ssl-cert"),
        (r"^/etc/ssl/private/ssl-cert-snakeoil\.key$", "ssl-cert"),
        (r"^/var/lib/apache2/(conf|module|site)(/|$)", "apache2"),
        (r"^/etc/apache2/(conf|mods|sites)-enabled(/|$)", "apache2"),
    )
)


@dataclass(frozen=True, slots=True)
class Explainers:
    """Everything that can explain a path, for the target (added/modified) and base (deleted)."""

    owners: dict[str, str]
    base_owners: dict[str, str]
    records: dict[str, str]
    base_records: dict[str, str]
    alternatives: dict[str, str]
    apt_changed: frozenset[str]  # apt package names installed, upgraded or removed
    pip_changed: frozenset[str]  # pip keys (name@location) installed or removed
    venvs_created: tuple[str, ...]
    scripts: dict[str, str]  # maintainer scripts of the apt packages installed or upgraded
    removal_scripts: dict[str, str] = field(default_factory=dict)  # prerm/postrm of changed packages, from the base
    listless_layers: frozenset[int] = frozenset()  # layers that installed packages whose file lists are gone


def _differs(old: Entry, new: Entry, *, use_mtime: bool) -> bool:
    if old.kind != new.kind or old.mode != new.mode or old.uid != new.uid or old.gid != new.gid:
        return True
    if new.kind == "dir":
        return False
    if old.size != new.size or old.linkname != new.linkname:
        return True
    return use_mtime and old.mtime != new.mtime


def raw_changes(
    base: View,
    top: View,
    touched: Iterable[str] | None,
    opaque: Iterable[str] = (),
    suspects: set[str] | None = None,
) -> list[tuple[str, str]]:
    """(path, change) pairs. With `touched` (layers above a shared prefix) only those paths
    are looked at and mtimes count; without, both trees are compared whole, and a regular
    file whose size, mode and owner agree is compared by content when it is a suspect: a
    path the layers above the two trees' shared layers touch (`suspects`), or any such file
    of trees without layers (`suspects` None: nothing says which paths are the same)."""
    use_mtime = touched is not None
    candidates = set(touched) if touched is not None else set(base.entries) | set(top.entries)
    for folder in opaque:
        candidates.update(base.children.get(folder, ()))
    out = []
    for path in sorted(candidates):
        new = top.entries.get(path)
        old = base.entries.get(path)
        if new is not None and old is None:
            out.append((path, "added"))
        elif new is not None and old is not None:
            content = not use_mtime and _content_suspect(path, old, new, suspects)
            if _differs(old, new, use_mtime=use_mtime) or (content and _content_differs(path, base, top)):
                out.append((path, "modified"))
        elif old is not None and new is None:
            parent = posixpath.dirname(path)
            if parent == "/" or parent in top.entries:  # report only the top of a deleted tree
                out.append((path, "deleted"))
    return out


def _content_suspect(path: str, old: Entry, new: Entry, suspects: set[str] | None) -> bool:
    if new.kind not in ("file", "hardlink") or old.kind != new.kind:
        return False
    return path in suspects if suspects is not None else True


def _content_differs(path: str, base: View, top: View) -> bool:
    return content_sha256(base, path) != content_sha256(top, path)


def _noise(path: str) -> str | None:
    for pattern, why in NOISE:
        if pattern.search(path):
            return why
    return None


def is_executable_mode(mode: int) -> bool:
    return bool(mode & 0o111) or bool(mode & 0o6000)


def _docker_init(path: str, change: str, view: View) -> bool:
    """An entry the engine's init layer makes, in the shape it makes it (empty, or /proc/mounts)."""
    kinds = DOCKER_INIT.get(path)
    entry = view.entries.get(path)
    if kinds is None or entry is None or change == "deleted" or entry.kind not in kinds:
        return False
    if entry.kind == "symlink":
        return entry.linkname == "/proc/mounts"
    if entry.kind == "dir":
        return path == "/dev" or not view.children.get(path)
    return entry.kind == "char" or entry.size == 0


def _explain(path: str, change: str, view: View, ex: Explainers) -> tuple[str, str | None, str | None]:
    """(class, owner, reason) of one change."""
    if change == "deleted":
        owner = ex.base_owners.get(path)
        if owner and owner in ex.apt_changed:
            return "package", f"apt:{owner}", "removed with its package"
        record = ex.base_records.get(path)
        if record and record in ex.pip_changed:
            return "package", f"pip:{record.split('@', 1)[0]}", "removed with its distribution"
        gone = maint.removed_by([maint.index(ex.removal_scripts), maint.index(ex.scripts)], _aliases(path, view))
        if gone:
            return "package", f"apt:{gone}", "removed by the package's maintainer scripts"
    else:
        owner = ex.owners.get(path)
        if owner and owner in ex.apt_changed:
            return "package", f"apt:{owner}", None
        record = ex.records.get(path)
        if record and record in ex.pip_changed:
            return "package", f"pip:{record.split('@', 1)[0]}", None
        for root in ex.venvs_created:
            if path == root or path.startswith(root + "/"):
                return "package", f"venv:{root}", "created by python3 -m venv"
        alt = ex.alternatives.get(path)
        if alt:
            return "package", f"alternatives:{alt}", "managed by update-alternatives"
        for pattern, pkg in GENERATED:
            if pattern.search(path) and pkg in ex.apt_changed:
                return "package", f"apt:{pkg}", "written by the package's maintainer scripts"
    why = _noise(path)
    if why in DATA_ONLY and change != "deleted":
        entry = view.entries.get(path)
        if entry is not None and entry.kind in ("file", "hardlink") and is_executable_mode(entry.mode):
            why = None  # an executable is never noise, wherever it is
    if why:
        return "noise", None, why
    if _docker_init(path, change, view):
        return "noise", None, DOCKER_INIT_REASON
    if path == PODMAN_ENV and change != "deleted":
        entry = view.entries.get(path)
        if entry is not None and entry.kind == "file" and entry.size == 0:
            return "noise", None, PODMAN_REASON
    if change != "deleted":
        scripted = _named_in_scripts(path, view, ex)
        if scripted:
            return "package", f"apt:{scripted}", "made by the package's maintainer scripts"
        if _listless(path, view, ex):
            return "unknown", None, LISTLESS
    return "unexplained", None, None


LISTLESS = "written in a layer that installed packages whose dpkg file lists are gone: it may be theirs"


def _listless(path: str, view: View, ex: Explainers) -> bool:
    """Written (added or changed) in a layer that installed or upgraded a package whose file list
    is gone, so which package owns it cannot be known. Files in /usr/local stay hand-made: Debian
    packages put no file there (policy 9.1.2: folders only)."""
    if view.layer_of.get(path) not in ex.listless_layers:
        return False
    entry = view.entries.get(path)
    return not (path.startswith("/usr/local/") and entry is not None and entry.kind != "dir")


_RC_LINK = re.compile(r"^/etc/rc[0-6S]\.d/[SK]\d\d[^/]+$")


def _aliases(path: str, view: View) -> list[str]:
    """The path as scripts may spell it: /usr/lib/x is also /lib/x when /lib -> usr/lib."""
    return [path] + [alias + path[len(real) :] for real, alias in aliases(view) if path.startswith(real + "/")]


def _named_in_scripts(path: str, view: View, ex: Explainers) -> str | None:
    """A changed package whose maintainer scripts made this path.

    Either the scripts name the path itself, or the path is a link to one of the
    package's files and the scripts name the link (systemd's *.wants, conf.d links).
    """
    named = maint.made_by(maint.index(ex.scripts), _aliases(path, view))
    if named:
        return named
    entry = view.entries.get(path)
    if entry is not None and entry.kind == "symlink":
        target = view.resolve(path)
        owner = ex.owners.get(target)
        name = posixpath.basename(path)
        made = name in ex.scripts.get(owner or "", "") or _RC_LINK.match(path) or maint.enabled_by_helper(path, view)
        if owner and owner in ex.scripts and made:
            return owner  # named in its scripts, an update-rc.d link to its init script, a deb-systemd-helper link
    return None


def classify(changes: list[tuple[str, str]], base: View, top: View, ex: Explainers) -> list[FileChange]:
    classified: dict[str, tuple[str, str | None, str | None]] = {}
    for path, change in changes:
        classified[path] = _explain(path, change, top, ex)
    # A folder nobody owns takes the class of what it holds: it exists for its content.
    by_dir: dict[str, list[str]] = {}
    for path, _ in changes:
        by_dir.setdefault(posixpath.dirname(path), []).append(path)
    for path, change in sorted(changes, key=lambda c: -c[0].count("/")):
        entry = top.entries.get(path) if change != "deleted" else base.entries.get(path)
        if entry is None or entry.kind != "dir" or classified[path][0] != "unexplained" or change == "deleted":
            continue
        kids = [classified[k] for k in _descendants(path, by_dir)]
        if kids and all(k[0] != "unexplained" for k in kids):
            packaged = [k for k in kids if k[0] == "package"]
            classified[path] = packaged[0] if packaged else kids[0]
    out = []
    for path, change in changes:
        entry = top.entries.get(path) if change != "deleted" else base.entries.get(path)
        assert entry is not None
        klass, owner, reason = classified[path]
        digest = None
        executable = False
        if klass in ("unexplained", "unknown") and change != "deleted" and entry.kind in ("file", "hardlink"):
            digest = content_sha256(top, path)  # unknown ones too: --build compares them by content
            executable = is_executable_file(top, path, entry.mode)
        old = base.entries.get(path) if change == "modified" else None
        out.append(
            FileChange(
                path=path,
                change=change,  # type: ignore[arg-type]
                kind="file" if entry.kind == "hardlink" else entry.kind,
                size=entry.size,
                mode=entry.mode,
                uid=entry.uid,
                gid=entry.gid,
                klass=klass,  # type: ignore[arg-type]
                owner=owner,
                reason=reason,
                link_target=entry.linkname if entry.kind == "symlink" else None,
                sha256=digest,
                executable=executable,
                base_mode=old.mode if old is not None and old.mode != entry.mode else None,
            )
        )
    return out


def is_executable_file(view: View, path: str, mode: int) -> bool:
    """A regular file with an exec bit whose content is a program: ELF magic or a #! line."""
    if not mode & 0o111:
        return False
    try:
        with view.open(path) as fh:
            head = fh.read(4)
    except (OSError, KeyError):
        return False
    return head == b"\x7fELF" or head.startswith(b"#!")


def content_sha256(view: View, path: str) -> str | None:
    try:
        with view.open(path) as fh:
            digest = hashlib.sha256()
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
            return digest.hexdigest()
    except (OSError, KeyError):
        return None


def _descendants(path: str, by_dir: dict[str, list[str]]) -> list[str]:
    out = []
    stack = list(by_dir.get(path, ()))
    while stack:
        item = stack.pop()
        out.append(item)
        stack.extend(by_dir.get(item, ()))
    return out
