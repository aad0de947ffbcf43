"""`drift snapshot`: from an inspection to a Dockerfile and build context that rebuild it.

    Inspection -> plan (what to install, copy, delete, set; what to leave out) -> files

The plan is plain data (`Plan`); `drift.dockerfile.generate` turns it into text. Nothing
here talks to Docker; `--verify` lives in `drift.verify`.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from drift.compare import apt_label, native_arch
from drift.context import Folder, Item, Placer
from drift.context import write as write_context_items
from drift.errors import BaseNotFound
from drift.inventory import Inspection, users
from drift.inventory.files import pattern_table
from drift.inventory.users import ACCOUNT_PATHS
from drift.model import FileChange, Inventory, PipPackage, PythonEnv, canonical_name

SECRET_ENV = re.compile(r"PASSW(OR)?D|SECRET|TOKEN|KEY|CREDENTIAL|PRIVATE|AUTH|COOKIE|SESSION", re.IGNORECASE)
SECRET_PATHS = pattern_table(
    (
        (r"(^|/)\.ssh(/|$)", "SSH keys and config"),
        (r"(^|/)\.netrc$", "netrc credentials"),
        (r"(^|/)\.git-credentials$", "git credentials"),
        (r"(^|/)\.docker/config\.json$", "registry credentials"),
        (r"(^|/)\.pgpass$", "PostgreSQL password file"),
        (r"(^|/)\.aws/credentials$", "AWS credentials"),
        (r"(^|/)\.(bash|zsh|sh|python|mysql|psql)_?history$", "shell history"),
        (r"^/etc/g?shadow-?$", "password hashes"),
        (r"\.(pem|key|p12|pfx|jks)$", "key material"),
        (r"(^|/)id_(rsa|dsa|ecdsa|ed25519)$", "SSH private key"),
    )
)
_PRIVATE_KEY = re.compile(rb"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")
# apt and pip configuration must be in place before packages are installed.
EARLY = re.compile(r"^/etc/apt(/|$)|^/usr/share/keyrings(/|$)|^/etc/pip\.conf$|^/root/\.(config/)?pip(/|$)")


@dataclass(frozen=True, slots=True)
class LeftOut:
    what: str
    why: str
    flag: str | None = None
    key: str | None = None  # the file path or config key a --verify does not count


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
    folders: dict[str, Folder] = field(default_factory=dict)  # folders above copied paths: mode, owner

    @property
    def needs_context(self) -> bool:
        return bool(self.files)


def base_reference(inv: Inventory, override: str | None) -> str:
    if override:
        return override
    if inv.base is None:
        raise BaseNotFound(
            f"cannot tell which image {inv.target.name} was made from: pass --base IMAGE (the image it started from)"
        )
    return inv.base.name


def plan(insp: Inspection, *, base: str | None, include_secrets: bool, from_ref: str | None = None) -> Plan:
    inv = insp.inventory
    left: list[LeftOut] = []
    ref = from_ref or base_reference(inv, base)
    accounts = _accounts(insp, left)
    files, deletions, chown, chmod, folders = _files(insp, include_secrets, left)
    env, secret_args = _env(inv, include_secrets, left)
    secret_values = tuple(v for v in secret_args.values() if len(v) >= 4)
    return Plan(
        source=f"{inv.target.kind} {inv.target.name}",
        base=ref,
        base_reason=inv.base.reason if inv.base and not base else "--base",
        apt=_apt(inv),
        accounts=accounts,
        pip=_pip(inv, left),
        files=files,
        deletions=deletions,
        chown=chown,
        chmod=chmod,
        env=env,
        config=_config(inv, left, () if include_secrets else secret_values, include_secrets),
        left_out=left,
        secret_args=secret_args,
        folders=folders,
    )


# -- apt ------------------------------------------------------------------------------------


def _apt(inv: Inventory) -> AptPlan | None:
    native = native_arch(inv)
    base = {p.key: p for p in inv.base_apt}
    now = {p.key: p for p in inv.apt}
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
            create = f"python3 -m venv{flags} {env.path}"
        return PipEnvPlan(env=env, python=f"{env.path}/bin/python", create=create)
    if env.kind in ("local", "system"):
        return PipEnvPlan(env=env, python="python3", break_system=env.externally_managed)
    if env.kind == "user" and env.path == "/root/.local":
        return PipEnvPlan(env=env, python="python3", break_system=env.externally_managed, user=True)
    return None


def _pip_spec(p: PipPackage, plan_: PipEnvPlan, left: list[LeftOut]) -> str | None:
    if p.direct_url is None:
        return f"{p.name}=={p.version}"
    d = p.direct_url
    if d.kind == "vcs" and d.vcs and d.commit:
        sub = f"#subdirectory={d.subdirectory}" if d.subdirectory else ""
        return f"{p.name} @ {d.vcs}+{d.url}@{d.commit}{sub}"
    if d.kind == "archive" and d.url.startswith(("http://", "https://")):
        return f"{p.name} @ {d.url}"
    plan_.comments.append(f"not reproducible: {p.name} {p.version} was installed from {d.url} (a local {d.kind})")
    left.append(LeftOut(f"pip {p.name}=={p.version}", f"installed from {d.url}, which a build cannot reach"))
    return None


# -- users and groups ----------------------------------------------------------------------


def _accounts(insp: Inspection, left: list[LeftOut]) -> list[str]:
    """Commands that make the users and groups added by hand (not those packages made)."""
    if insp.base is None:
        return []
    d = users.delta(insp.base, insp.top)
    texts = list(insp.scripts.values())

    def by_package(name: str) -> bool:
        return any(name in text for text in texts)

    q = shlex.quote
    out: list[str] = []
    out += [f"userdel {q(u.name)}" for u in d.users_removed]
    out += [f"groupdel {q(g.name)}" for g in d.groups_removed]
    added_users = [u for u in d.users_added if not by_package(u.name)]
    out += [f"groupadd -g {g.gid} {q(g.name)}" for g in d.groups_added if not by_package(g.name)]
    member_of: dict[str, list[str]] = {}
    for group, user in d.members_added:
        member_of.setdefault(user, []).append(group)
    for u in added_users:
        extra = f" -G {','.join(member_of.pop(u.name))}" if u.name in member_of else ""
        gecos = f" -c {q(u.gecos)}" if u.gecos else ""
        out.append(f"useradd -l -M -u {u.uid} -g {u.gid} -d {q(u.home)} -s {q(u.shell)}{gecos}{extra} {q(u.name)}")
    for before, after in d.users_changed:
        flags = []
        if before.uid != after.uid:
            flags.append(f"-u {after.uid}")
        if before.gid != after.gid:
            flags.append(f"-g {after.gid}")
        if before.home != after.home:
            flags.append(f"-d {q(after.home)}")
        if before.shell != after.shell:
            flags.append(f"-s {q(after.shell)}")
        if before.gecos != after.gecos:
            flags.append(f"-c {q(after.gecos)}")
        out.append(f"usermod {' '.join(flags)} {q(after.name)}")
    for user, groups_ in sorted(member_of.items()):
        if not by_package(user):
            out.append(f"usermod -a -G {','.join(groups_)} {q(user)}")
    shadow_changed = any(f.path in ("/etc/shadow", "/etc/gshadow") for f in insp.inventory.files)
    if shadow_changed and not d.users_added and not d.groups_added:
        left.append(LeftOut("/etc/shadow", "passwords set by hand are not written", None))
    return out


# -- files ----------------------------------------------------------------------------------


def secret_reason(path: str, head: bytes | None) -> str | None:
    for pattern, why in SECRET_PATHS:
        if pattern.search(path):
            return why
    if head and _PRIVATE_KEY.search(head):
        return "holds a private key"
    return None


def _files(
    insp: Inspection, include_secrets: bool, left: list[LeftOut]
) -> tuple[list[ContextFile], list[str], dict[str, list[str]], dict[str, list[str]], dict[str, Folder]]:
    inv = insp.inventory
    changed_pkgs = {c.name for c in inv.package_changes if c.manager == "apt" and c.change != "removed"}
    conffiles = {c.path: (p.name, c.state) for p in inv.apt if p.name in changed_pkgs for c in p.conffiles_changed}
    picked: list[FileChange] = []
    for f in inv.files:
        if f.path in ACCOUNT_PATHS:
            continue  # reproduced by the account commands (see _accounts)
        if f.klass == "unexplained" or (f.path in conffiles and f.change != "deleted"):
            picked.append(f)
    deletions = [f.path for f in picked if f.change == "deleted"]
    deletions += [path for path, (_, state) in conffiles.items() if state == "missing" and path not in deletions]
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
        head = _head(insp, f.path) if f.kind == "file" else None
        why = secret_reason(f.path, head)
        if why and not include_secrets:
            left.append(LeftOut(f.path, why, "--include-secrets", f.path))
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
    _keep_folder_owners(folders, {c.dest for c in out}, chown, chmod)
    return out, sorted(deletions), chown, chmod, folders


def _keep_folder_owners(
    folders: dict[str, Folder], copied: set[str], chown: dict[str, list[str]], chmod: dict[str, list[str]]
) -> None:
    """`COPY` makes every folder it passes root's: give the image's owners back (modes come from the context)."""
    for path, folder in sorted(folders.items()):
        if path == "/" or path in copied or (folder.uid, folder.gid) == (0, 0):
            continue
        chown.setdefault(f"{folder.uid}:{folder.gid}", []).append(path)
        if folder.mode & 0o7000:
            chmod.setdefault(f"{folder.mode:04o}", []).append(path)


def _head(insp: Inspection, path: str) -> bytes | None:
    try:
        with insp.top.open(path) as fh:
            return fh.read(65536)
    except (OSError, KeyError):
        return None


def write_context(insp: Inspection, plan_: Plan, root: str) -> None:
    """Copy the planned files into ROOT/files (and ROOT/files-early) with their modes.

    Written under directory descriptors, never through a link (see `drift.context`)."""
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


# -- config ---------------------------------------------------------------------------------


def _env(
    inv: Inventory, include_secrets: bool, left: list[LeftOut]
) -> tuple[list[tuple[str, str, bool]], dict[str, str]]:
    if inv.config is None:
        return [], {}
    base = inv.base_config.env_map() if inv.base_config else {}
    out = []
    secrets: dict[str, str] = {}
    for name, value in inv.config.env_map().items():
        if base.get(name) == value:
            continue
        secret = bool(SECRET_ENV.search(name)) and not include_secrets
        if secret:
            secrets[name] = value
            left.append(
                LeftOut(
                    f"ENV {name}",
                    "its name looks like a secret: written as an ARG without a value",
                    "--include-secrets",
                )
            )
        out.append((name, value, secret))
    for name in sorted(base.keys() - inv.config.env_map().keys()):
        left.append(LeftOut(f"ENV {name}", "removed from the base's environment, which a Dockerfile cannot do"))
    return sorted(out), secrets


def _json_list(items: tuple[str, ...]) -> str:
    import json

    return json.dumps(list(items))


def _leaks(text: str, secret_values: tuple[str, ...]) -> bool:
    return bool(_PRIVATE_KEY.search(text.encode())) or any(v in text for v in secret_values)


def _config(inv: Inventory, left: list[LeftOut], secret_values: tuple[str, ...], include_secrets: bool) -> list[str]:
    lines = _config_lines(inv, left)
    if include_secrets:
        return lines
    kept = []
    for line in lines:
        if _leaks(line, secret_values):
            instruction = line.split(" ", 1)[0]
            key = {"CMD": "Cmd", "ENTRYPOINT": "Entrypoint"}.get(instruction)
            if instruction == "LABEL":
                key = "Labels." + line.split(" ", 1)[1].split("=", 1)[0].strip('"')
            left.append(LeftOut(instruction, "its value holds secret material", "--include-secrets", key))
        else:
            kept.append(line)
    return kept


def redact(inv: Inventory, plan_: Plan) -> Inventory:
    """The inventory written beside a snapshot, without the values the snapshot left out."""
    import dataclasses

    if inv.config is None:
        return inv
    values = tuple(v for v in plan_.secret_args.values() if len(v) >= 4)

    def clean(items: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if items is None:
            return None
        return tuple("<redacted>" if _leaks(i, values) else i for i in items)

    env = tuple(
        f"{i.split('=', 1)[0]}=<redacted>" if i.split("=", 1)[0] in plan_.secret_args else i for i in inv.config.env
    )
    config = dataclasses.replace(
        inv.config, env=env, cmd=clean(inv.config.cmd), entrypoint=clean(inv.config.entrypoint)
    )
    from drift.inventory import config_changes

    changes = tuple(config_changes(inv.base_config, config)) if inv.base_config else ()
    history = tuple(
        dataclasses.replace(h, created_by="<redacted>") if _leaks(h.created_by, values) else h for h in inv.history
    )
    return dataclasses.replace(inv, config=config, config_changes=changes, history=history)


def _config_lines(inv: Inventory, left: list[LeftOut]) -> list[str]:
    if inv.config is None:
        return []
    now = inv.config
    from drift.model import ImageConfig

    base = inv.base_config or ImageConfig()
    out: list[str] = []
    base_labels = dict(base.labels)
    for key, value in now.labels:
        if base_labels.get(key) != value:
            out.append(f"LABEL {_quote(key)}={_quote(value)}")
    for port in now.exposed_ports:
        if port not in base.exposed_ports:
            out.append(f"EXPOSE {port}")
    new_volumes = [v for v in now.volumes if v not in base.volumes]
    if new_volumes:
        out.append(f"VOLUME {_json_list(tuple(new_volumes))}")
    if now.working_dir != base.working_dir:
        out.append(f"WORKDIR {now.working_dir or '/'}")
    if now.shell != base.shell and now.shell is not None:
        out.append(f"SHELL {_json_list(now.shell)}")
    if now.stop_signal != base.stop_signal and now.stop_signal:
        out.append(f"STOPSIGNAL {now.stop_signal}")
    if now.entrypoint != base.entrypoint:
        out.append(f"ENTRYPOINT {_json_list(now.entrypoint or ())}")
    if now.cmd != base.cmd or now.entrypoint != base.entrypoint:
        out.append(f"CMD {_json_list(now.cmd or ())}")
    if now.user != base.user:
        out.append(f"USER {now.user or 'root'}")
    for key, _ in base.labels:
        if key not in dict(now.labels):
            left.append(LeftOut(f"LABEL {key}", "removed from the base's labels, which a Dockerfile cannot do"))
    return out


def _quote(text: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9_.:/@+-]+", text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
