"""`drift snapshot`: from an inspection to a Dockerfile and build context that rebuild it.

    Inspection -> plan (what to install, copy, delete, set; what to leave out) -> files

The plan is plain data (`Plan`); `drift.dockerfile.generate` turns it into text. Nothing
here talks to Docker; `--verify` lives in `drift.rebuild`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from drift import secrets
from drift.compare import apt_label, native_arch
from drift.dockerfile import escape
from drift.errors import BaseNotFound
from drift.inventory import Inspection, users
from drift.inventory.users import ACCOUNT_PATHS
from drift.model import AccountChange, AptPackage, FileChange, Inventory, PipPackage, PythonEnv, canonical_name
from drift.snapshot.build_context import Folder, Item, Placer
from drift.snapshot.build_context import write as write_context_items
from drift.snapshot.image_config import LeftOut, config_lines, env_settings, parse_command

_IMAGE_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:@-]*")
# apt and pip configuration must be in place before packages are installed.
EARLY = re.compile(r"^/etc/apt(/|$)|^/usr/share/keyrings(/|$)|^/etc/pip\.conf$|^/root/\.(config/)?pip(/|$)")


@dataclass(slots=True)
class AptPlan:
    install: list[str] = field(default_factory=list)  # name=version, sorted
    purge: list[str] = field(default_factory=list)
    auto: list[str] = field(default_factory=list)
    manual: list[str] = field(default_factory=list)
    allow_remove_essential: bool = False
    allow_downgrades: bool = False


@dataclass(slots=True)
class PipEnvPlan:
    env: PythonEnv
    python: str  # the interpreter that runs pip for this environment
    create: str | None = None  # command that creates the virtual environment
    requested: list[str] = field(default_factory=list)
    constraints: list[str] = field(default_factory=list)
    uninstall: list[str] = field(default_factory=list)
    unmark: list[str] = field(default_factory=list)  # dist-info folders whose REQUESTED goes
    break_system: bool = False
    user: bool = False
    comments: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ContextFile:
    change: FileChange
    early: bool
    dest: str = ""  # where it lands in the image: its path with the folders' links resolved in the image


@dataclass(slots=True)
class Plan:
    source: str
    base: str
    base_reason: str
    apt: AptPlan | None
    accounts: list[str]  # groupadd/useradd/usermod/... commands
    pip: list[PipEnvPlan]
    files: list[ContextFile]
    deletions: list[str]
    chown: dict[str, list[str]]  # "uid:gid" -> paths
    chmod: dict[str, list[str]]  # mode -> paths (folders changed in place, setuid after chown)
    env: list[tuple[str, str, bool]]  # name, value, secret
    config: list[str]  # ready instructions: LABEL, EXPOSE, VOLUME, WORKDIR, USER, ENTRYPOINT, CMD
    left_out: list[LeftOut]
    secret_args: dict[str, str]  # build args --verify passes (values never written)
    notes: list[str] = field(default_factory=list)  # what a person should know (printed on stderr)
    folders: dict[str, Folder] = field(default_factory=dict)  # folders above copied paths: mode, owner

    @property
    def needs_context(self) -> bool:
        return bool(self.files)


def base_reference(inv: Inventory, override: str | None) -> str:
    if override:
        return override.removeprefix("registry:")  # the image a FROM line names
    if inv.base is None:
        raise BaseNotFound(
            f"cannot tell which image {inv.target.name} was made from: pass --base IMAGE (the image it started from)"
        )
    return inv.base.name


def plan(
    insp: Inspection,
    *,
    base: str | None,
    include_secrets: bool,
    from_ref: str | None = None,
    cmd: str | None = None,
    entrypoint: str | None = None,
) -> Plan:
    """CMD/ENTRYPOINT (as `parse_command` reads them) replace the image's."""
    inv = insp.inventory
    left: list[LeftOut] = []
    ref = from_ref or base_reference(inv, base)
    if not _IMAGE_REF.fullmatch(ref):
        raise BaseNotFound(f"the base {escape.comment(ref)!r} is not an image reference: pass --base IMAGE")
    accounts = _accounts(insp, left)
    files, deletions, chown, chmod, folders = _files(insp, include_secrets, left)
    env, secret_args = env_settings(inv, include_secrets, left)
    secret_values = tuple(v for v in secret_args.values() if len(v) >= 4)
    overrides = {k: parse_command(v) for k, v in (("Cmd", cmd), ("Entrypoint", entrypoint)) if v is not None}
    notes: list[str] = []
    config = config_lines(inv, left, secret_values, include_secrets, overrides, notes)
    return Plan(
        source=f"{inv.target.kind} {inv.target.name}",
        base=ref,
        base_reason=inv.base.reason if inv.base and not base else "--base",
        apt=_apt(inv, left),
        accounts=accounts,
        pip=_pip(inv, left),
        files=files,
        deletions=deletions,
        chown=chown,
        chmod=chmod,
        env=env,
        config=config,
        left_out=left,
        secret_args=secret_args,
        notes=notes,
        folders=folders,
    )


# -- apt ------------------------------------------------------------------------------------


def _apt(inv: Inventory, left: list[LeftOut]) -> AptPlan | None:
    native = native_arch(inv)
    base = {p.key: p for p in _safe_packages(inv.base_apt, left)}
    now = {p.key: p for p in _safe_packages(inv.apt, left)}
    out = AptPlan()
    for key in sorted(now, key=lambda k: (now[k].name, now[k].architecture)):
        p = now[key]
        old = base.get(key)
        if old is None or old.version != p.version:
            out.install.append(f"{apt_label(p, native)}={p.version}")
            if old is not None:
                from debian.debian_support import version_compare

                out.allow_downgrades |= version_compare(p.version, old.version) < 0
            if not p.manual:
                out.auto.append(apt_label(p, native))
        elif old.manual != p.manual:
            (out.manual if p.manual else out.auto).append(apt_label(p, native))
    for key in sorted(base.keys() - now.keys(), key=lambda k: (base[k].name, base[k].architecture)):
        old = base[key]
        out.purge.append(apt_label(old, native))
        out.allow_remove_essential |= old.essential
    if not (out.install or out.purge or out.auto or out.manual):
        return None
    return out


def _safe_packages(packages: tuple[AptPackage, ...], left: list[LeftOut]) -> list[AptPackage]:
    """Packages whose name, architecture and version a RUN line can name without quoting."""
    out = []
    for p in packages:
        try:
            escape.package_word(f"{p.name}:{p.architecture or 'all'}={p.version}")
        except escape.Unsafe as exc:
            left.append(LeftOut(f"apt {p.name}", str(exc)))
            continue
        out.append(p)
    return out


# -- pip ------------------------------------------------------------------------------------


def _pip(inv: Inventory, left: list[LeftOut]) -> list[PipEnvPlan]:
    base = {(canonical_name(p.name), p.location): p for p in inv.base_pip}
    base_envs = {e.path for e in _base_envs(inv)}
    plans = []
    for env in inv.environments:
        dists = [p for p in inv.pip if p.environment == env.path and p.apt_owner is None]
        base_dists = [p for p in inv.base_pip if p.environment == env.path and p.apt_owner is None]
        changed = [
            p
            for p in dists
            if (old := base.get((canonical_name(p.name), p.location))) is None or old.version != p.version
        ]
        now_keys = {(canonical_name(p.name), p.location) for p in dists}
        removed = [p for p in base_dists if (canonical_name(p.name), p.location) not in now_keys]
        created = env.kind == "venv" and env.path not in base_envs
        if not (changed or removed or created):
            continue
        if escape.has_control(env.path):
            left.append(LeftOut(f"pip environment {env.path}", "its path holds a control character"))
            continue
        plan_ = _env_plan(inv, env, created)
        if plan_ is None:
            for p in changed:
                left.append(
                    LeftOut(
                        f"pip {p.name}=={p.version} in {p.location}",
                        f"drift does not know how to install into a {env.kind} environment at {env.path}",
                    )
                )
            continue
        required = {canonical_name(r) for p in dists for r in p.requires}
        required |= {canonical_name(r) for p in inv.pip for r in p.requires if p.environment != env.path}
        for p in sorted(changed, key=lambda d: canonical_name(d.name)):
            spec = _pip_spec(p, plan_, left)
            if spec is None:
                continue
            orphan = not p.requested and canonical_name(p.name) not in required
            if p.requested or orphan or p.direct_url:
                plan_.requested.append(spec)
                if not p.requested:
                    plan_.unmark.append(p.metadata_path)
            else:
                plan_.constraints.append(spec)
        plan_.uninstall = sorted(p.name for p in removed)
        plans.append(plan_)
    return plans


def _base_envs(inv: Inventory) -> list[PythonEnv]:
    seen = {p.environment for p in inv.base_pip}
    return [e for e in inv.environments if e.path in seen]


def _env_plan(inv: Inventory, env: PythonEnv, created: bool) -> PipEnvPlan | None:
    if env.kind == "venv":
        create = None
        if created:
            flags = " --system-site-packages" if env.include_system_site_packages else ""
            create = f"python3 -m venv{flags} {escape.sh(env.path)}"
        return PipEnvPlan(env=env, python=escape.sh(f"{env.path}/bin/python"), create=create)
    if env.kind in ("local", "system"):
        return PipEnvPlan(env=env, python="python3", break_system=env.externally_managed)
    if env.kind == "user" and env.path == "/root/.local":
        return PipEnvPlan(env=env, python="python3", break_system=env.externally_managed, user=True)
    return None


def _pip_spec(p: PipPackage, plan_: PipEnvPlan, left: list[LeftOut]) -> str | None:
    spec = _pip_requirement(p, plan_, left)
    if spec is not None and (escape.has_control(spec) or not escape.PACKAGE_NAME.fullmatch(p.name)):
        left.append(LeftOut(f"pip {p.name}", "its name, version or URL cannot be written in a RUN line"))
        return None
    if spec is not None and secrets.text_reason(spec):
        left.append(LeftOut(f"pip {p.name}", "its URL holds a secret: install it with a build secret by hand"))
        return None
    return spec


def _pip_requirement(p: PipPackage, plan_: PipEnvPlan, left: list[LeftOut]) -> str | None:
    if p.direct_url is None:
        return f"{p.name}=={p.version}"
    d = p.direct_url
    if d.kind == "vcs" and d.vcs and d.commit:
        sub = f"#subdirectory={d.subdirectory}" if d.subdirectory else ""
        return f"{p.name} @ {d.vcs}+{d.url}@{d.commit}{sub}"
    if d.kind == "archive" and d.url.startswith(("http://", "https://")):
        return f"{p.name} @ {d.url}"
    url = secrets.redact_text(d.url)
    plan_.comments.append(f"not reproducible: {p.name} {p.version} was installed from {url} (a local {d.kind})")
    left.append(LeftOut(f"pip {p.name}=={p.version}", f"installed from {url}, which a build cannot reach"))
    return None


# -- users and groups ----------------------------------------------------------------------


def _accounts(insp: Inspection, left: list[LeftOut]) -> list[str]:
    """Commands that remake the users and groups changed by hand (not those packages made), with
    the same ids, home, shell, groups and password state: `snapshot --verify` compares accounts
    by state, so a rebuilt image proves them. Copying /etc/passwd and friends instead would put
    password hashes in the build context and undo what packages installed in the rebuild make."""
    changes = [a for a in insp.inventory.accounts if a.explained_by is None]
    out: list[str] = []

    def add(what: str, command: Callable[..., str], *args: Any) -> None:
        try:
            out.append(command(*args))
        except escape.Unsafe as exc:
            left.append(LeftOut(what, f"not written: {exc}"))

    for a in sorted(changes, key=lambda a: a.kind != "user"):  # a user goes before its primary group
        if a.change == "removed":
            add(a.label, _cmd, "userdel {}" if a.kind == "user" else "groupdel {}", a.name)
    for a in changes:
        if a.kind == "group" and a.change == "added" and a.after is not None:
            add(a.label, _cmd, f"groupadd -g {int(a.after['gid'])} {{}}", a.name)
    for a in changes:
        if a.kind == "user" and a.change != "removed" and a.after is not None:
            if a.change == "added" or set(a.fields) - {"password"}:
                add(a.label, _user_command, a, _primary(insp, a.after["gid"]))
            _password(a, add, left)
    for a in changes:
        if a.kind == "group" and a.change == "changed" and a.before and a.after and "gid" in a.fields:
            add(a.label, _cmd, f"groupmod -g {int(a.after['gid'])} {{}}", a.name)
    return out


def _primary(insp: Inspection, gid: int) -> str | None:
    """The name of the group with this gid in the image (a user's primary group is not in -G)."""
    return next((g.name for g in users.groups(insp.top).values() if g.gid == gid), None)


def _password(a: AccountChange, add: Callable[..., None], left: list[LeftOut]) -> None:
    before = (a.before or {}).get("password")
    after = (a.after or {})["password"]
    if a.change == "changed" and "password" not in a.fields:
        return
    if after == "set":
        left.append(LeftOut(a.label, "its password was set by hand: drift never writes a password hash"))
    elif after == "none" and before != "none":
        add(a.label, _cmd, "passwd -d {}", a.name)
    elif after == "locked" and a.change == "changed" and before != "locked":
        add(a.label, _cmd, "usermod -L {}", a.name)  # useradd leaves a new user's password locked


def _cmd(template: str, *words: str) -> str:
    return template.format(*(escape.sh(w) for w in words))


def _user_command(a: AccountChange, primary: str | None) -> str:
    q = escape.sh
    state = a.after
    assert state is not None
    groups_ = [g for g in state["groups"] if g != primary]
    if a.change == "added":
        home = "-m" if a.home_created else "-M"
        extra = f" -G {q(','.join(groups_))}" if groups_ else ""
        gecos = f" -c {q(state['gecos'])}" if state["gecos"] else ""
        return (
            f"useradd -l {home} -u {int(state['uid'])} -g {int(state['gid'])} -d {q(state['home'])} "
            f"-s {q(state['shell'])}{gecos}{extra} {q(a.name)}"
        )
    before = a.before or {}
    flags = []
    for key, flag in (("uid", "-u"), ("gid", "-g")):
        if before.get(key) != state[key]:
            flags.append(f"{flag} {int(state[key])}")
    for key, flag in (("home", "-d"), ("shell", "-s"), ("gecos", "-c")):
        if before.get(key) != state[key]:
            flags.append(f"{flag} {q(state[key])}")
    if before.get("groups") != state["groups"]:
        flags.append(f"-G {q(','.join(groups_))}" if groups_ else "-G ''")
    return f"usermod {' '.join(flags)} {q(a.name)}"


# -- files ----------------------------------------------------------------------------------


def _files(
    insp: Inspection, include_secrets: bool, left: list[LeftOut]
) -> tuple[list[ContextFile], list[str], dict[str, list[str]], dict[str, list[str]], dict[str, Folder]]:
    inv = insp.inventory
    changed_pkgs = {c.name for c in inv.package_changes if c.manager == "apt" and c.change != "removed"}
    conffiles = {c.path: (p.name, c.state) for p in inv.apt if p.name in changed_pkgs for c in p.conffiles_changed}
    picked: list[FileChange] = []
    for f in inv.files:
        if f.path in ACCOUNT_PATHS:  # accounts are remade by commands (see _accounts)
            if f.klass == "unexplained" and not f.path.endswith("-"):
                left.append(LeftOut(f.path, "edited by hand beyond its accounts: not copied (it holds every account)"))
            continue
        if f.klass == "unexplained" or (f.path in conffiles and f.change != "deleted"):
            picked.append(f)
    unknown = sum(1 for f in inv.files if f.klass == "unknown")
    if unknown:  # written with packages whose dpkg file lists are gone: the install below rewrites theirs
        why = (
            "written with packages whose dpkg file lists are gone: not copied (reinstalling the "
            "packages writes theirs; one made by hand among them is not)"
        )
        left.append(LeftOut(f"{unknown} changed file(s)", why))
    deletions = [f.path for f in picked if f.change == "deleted"]
    deletions += [path for path, (_, state) in conffiles.items() if state == "missing" and path not in deletions]
    for path in [p for p in deletions if escape.has_control(p)]:
        deletions.remove(path)
        left.append(LeftOut(path, "deleted, but its name holds a control character", None, path))
    out: list[ContextFile] = []
    chown: dict[str, list[str]] = {}
    chmod: dict[str, list[str]] = {}
    placer = Placer(insp.top)
    for f in sorted(picked, key=lambda f: placer.dest_of(f.path)):
        if f.change == "deleted":
            continue
        if f.kind not in ("file", "symlink", "dir"):
            left.append(LeftOut(f.path, f"a {f.kind} cannot be copied into a build context"))
            continue
        if escape.not_utf8(f.path) or escape.not_utf8(placer.dest_of(f.path)):
            # BuildKit sends a context's names as protobuf strings and fails the whole build on one
            # that is not UTF-8 (docker/buildx#2850); a newline or a tab copies exactly (COPY files/ /)
            left.append(LeftOut(f.path, "its name is not UTF-8, which a build context cannot carry", None, f.path))
            continue
        named = (f.kind == "dir" and f.change == "modified") or (f.uid, f.gid) != (0, 0)
        # its chown/chmod would write the name (and where it lands) into a RUN line
        if named and (escape.has_control(f.path) or escape.has_control(placer.dest_of(f.path))):
            why = "its name holds a control character, and its owner or mode needs a RUN line naming it"
            left.append(LeftOut(f.path, why, None, f.path))
            continue
        secret = f.secret or secrets.path_reason(f.path)
        if secret and not include_secrets:
            left.append(LeftOut(f.path, secret, "--include-secrets", f.path))
            continue
        if f.kind == "dir" and f.change == "modified":
            chmod.setdefault(f"{f.mode:04o}", []).append(f.path)
            if (f.uid, f.gid) != (0, 0):
                chown.setdefault(f"{f.uid}:{f.gid}", []).append(f.path)
            continue
        dest, unsafe = placer.place(f.path, f.kind)
        if dest is None:
            left.append(LeftOut(f.path, f"cannot be written safely: {unsafe}", None, f.path))
            continue
        out.append(ContextFile(f, bool(EARLY.search(f.path)), dest))
        if (f.uid, f.gid) != (0, 0):
            chown.setdefault(f"{f.uid}:{f.gid}", []).append(dest)
            if f.kind != "symlink" and f.mode & 0o7000:
                chmod.setdefault(f"{f.mode:04o}", []).append(dest)
    folders = placer.folders(c.dest for c in out)
    _keep_folder_owners(folders, {c.dest for c in out}, chown, chmod, left)
    return out, sorted(deletions), chown, chmod, folders


def _keep_folder_owners(
    folders: dict[str, Folder],
    copied: set[str],
    chown: dict[str, list[str]],
    chmod: dict[str, list[str]],
    left: list[LeftOut],
) -> None:
    """`COPY` makes every folder it passes root's: give the image's owners back (modes come from the context)."""
    for path, folder in sorted(folders.items()):
        if path == "/" or path in copied or (folder.uid, folder.gid) == (0, 0):
            continue
        if escape.has_control(path):
            left.append(LeftOut(path, "its owner is not restored: its name holds a control character", None, path))
            continue
        chown.setdefault(f"{folder.uid}:{folder.gid}", []).append(path)
        if folder.mode & 0o7000:
            chmod.setdefault(f"{folder.mode:04o}", []).append(path)


def write_context(insp: Inspection, plan_: Plan, root: str) -> None:
    """Copy the planned files into ROOT/files (and ROOT/files-early) with their modes.

    Written under directory descriptors, never through a link (see `drift.snapshot.build_context`)."""
    items = [
        Item(
            "files-early" if c.early else "files",
            c.dest or c.change.path,
            c.change.path,
            c.change.kind,
            c.change.mode,
            c.change.link_target or "",
        )
        for c in plan_.files
    ]
    write_context_items(root, items, plan_.folders, insp.top.open)
