"""Frozen values that flow from the collectors to the renderers.

Library structures (docker-py objects, deb822 paragraphs, tar members) are converted into
these at the edge and never travel further. Every value knows its JSON form (`to_json`),
which is the documented schema (see README, "JSON schemas").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from drift.severity import Severity

INVENTORY_SCHEMA = "drift.inventory/v1"
# The PATH the engine gives a container whose image sets none (and the builder a stage on such a base).
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Labels a builder stamps on every image it builds (Podman's buildah: its version), never a
# setting a Dockerfile declared: a rebuild or an audit does not hold them against the image.
BUILDER_LABELS = frozenset({"Labels.io.buildah.version"})
# What Podman puts in every container's env, which `podman commit` keeps in the image.
PODMAN_COMMIT_ENV = {"Env.container": "podman", "Env.TERM": "xterm"}


def engine_made_config(expected: dict[str, Any], actual: dict[str, Any]) -> set[str]:
    """Keys of a flat config (ImageConfig.flat) that an engine or builder set, not a person, where
    the other side does not set them: builder labels, and Podman's container env in an image a
    `podman commit` made (known by its `container=podman`)."""
    out = {k for k in BUILDER_LABELS if k not in expected or k not in actual}
    for side, other in ((actual, expected), (expected, actual)):
        if side.get("Env.container") == "podman" and "Env.container" not in other:
            out |= {k for k, v in PODMAN_COMMIT_ENV.items() if side.get(k) == v and k not in other}
    return out


TargetKind = Literal["container", "image", "archive", "oci", "dir", "registry"]
ChangeKind = Literal["added", "modified", "deleted"]
# account: grouped under account changes; unknown: written with packages whose dpkg file lists
# are gone, so it may be theirs or made by hand (drift/inventory/files.py LISTLESS)
FileClass = Literal["package", "noise", "account", "unexplained", "unknown"]
EnvKind = Literal["system", "local", "user", "venv", "prefix"]
LayerOrigin = Literal["build", "commit", "import", "unknown"]


@dataclass(frozen=True, slots=True)
class Target:
    """What was inspected, and how the name the user typed was resolved."""

    kind: TargetKind
    name: str
    resolved_by: str
    id: str | None = None
    image: str | None = None
    digest: str | None = None
    tags: tuple[str, ...] = ()

    def label(self) -> str:
        ident = f" ({short_id(self.id)})" if self.id else ""
        return f"{self.kind} {self.name}{ident}"

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "resolved_by": self.resolved_by,
            "id": self.id,
            "image": self.image,
            "digest": self.digest,
            "tags": list(self.tags),
        }


@dataclass(frozen=True, slots=True)
class BaseRef:
    """The image a target is compared against, and why that one."""

    name: str
    id: str | None
    reason: str
    layers: int
    digest: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "id": self.id, "reason": self.reason, "layers": self.layers, "digest": self.digest}


@dataclass(frozen=True, slots=True)
class ConffileChange:
    path: str
    state: Literal["modified", "missing"]

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "state": self.state}


@dataclass(frozen=True, slots=True)
class AptPackage:
    name: str
    version: str
    architecture: str
    source: str
    source_version: str
    manual: bool
    depends: tuple[str, ...] = ()
    pre_depends: tuple[str, ...] = ()
    recommends: tuple[str, ...] = ()
    provides: tuple[str, ...] = ()
    conffiles_changed: tuple[ConffileChange, ...] = ()
    database: str = "/var/lib/dpkg/status"
    essential: bool = False

    manager: Literal["apt"] = "apt"

    @property
    def key(self) -> str:
        return self.name if self.architecture in ("all", "") else f"{self.name}:{self.architecture}"

    def to_json(self) -> dict[str, Any]:
        return {
            "manager": "apt",
            "name": self.name,
            "version": self.version,
            "architecture": self.architecture,
            "source": self.source,
            "source_version": self.source_version,
            "manual": self.manual,
            "depends": list(self.depends),
            "pre_depends": list(self.pre_depends),
            "recommends": list(self.recommends),
            "provides": list(self.provides),
            "conffiles_changed": [c.to_json() for c in self.conffiles_changed],
            "database": self.database,
            "essential": self.essential,
        }


@dataclass(frozen=True, slots=True)
class DirectUrl:
    """PEP 610 direct_url.json: where a distribution was installed from."""

    url: str
    kind: Literal["vcs", "archive", "dir"]
    editable: bool = False
    vcs: str | None = None
    commit: str | None = None
    requested_revision: str | None = None
    subdirectory: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "kind": self.kind,
            "editable": self.editable,
            "vcs": self.vcs,
            "commit": self.commit,
            "requested_revision": self.requested_revision,
            "subdirectory": self.subdirectory,
        }


@dataclass(frozen=True, slots=True)
class PipPackage:
    name: str
    version: str
    location: str
    requested: bool
    environment: str
    metadata_path: str
    installer: str | None = None
    requires: tuple[str, ...] = ()
    venv: str | None = None
    apt_owner: str | None = None
    direct_url: DirectUrl | None = None

    manager: Literal["pip"] = "pip"

    @property
    def key(self) -> str:
        return f"{canonical_name(self.name)}@{self.location}"

    def to_json(self) -> dict[str, Any]:
        return {
            "manager": "pip",
            "name": self.name,
            "version": self.version,
            "location": self.location,
            "requested": self.requested,
            "environment": self.environment,
            "metadata_path": self.metadata_path,
            "installer": self.installer,
            "requires": list(self.requires),
            "venv": self.venv,
            "apt_owner": self.apt_owner,
            "direct_url": self.direct_url.to_json() if self.direct_url else None,
        }


@dataclass(frozen=True, slots=True)
class PythonEnv:
    """A Python environment: where distributions live and how pip may write there."""

    path: str
    kind: EnvKind
    site_dirs: tuple[str, ...]
    python: str | None = None
    externally_managed: bool = False
    include_system_site_packages: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "kind": self.kind,
            "site_dirs": list(self.site_dirs),
            "python": self.python,
            "externally_managed": self.externally_managed,
            "include_system_site_packages": self.include_system_site_packages,
        }


@dataclass(frozen=True, slots=True)
class PackageDigest:
    """A package's file whose content is not what the package recorded (dpkg md5sums, pip RECORD)."""

    package: str  # "apt:NAME" or "pip:NAME"
    algorithm: str  # md5 (dpkg), sha256 (pip RECORD) ...
    recorded: str  # hex
    actual: str  # hex

    def to_json(self) -> dict[str, Any]:
        return {"package": self.package, "algorithm": self.algorithm, "recorded": self.recorded, "actual": self.actual}


@dataclass(frozen=True, slots=True)
class FileChange:
    path: str
    change: ChangeKind
    kind: str
    size: int
    mode: int
    uid: int
    gid: int
    klass: FileClass
    owner: str | None = None
    reason: str | None = None
    link_target: str | None = None
    sha256: str | None = None  # content of unexplained (and unknown) regular files
    secret: str | None = None  # why its path or content looks secret (drift.secrets), if it does
    package_file: PackageDigest | None = None  # a package's file whose content is not the recorded one
    executable: bool = False  # a regular file with an exec bit whose content starts with ELF magic or #!
    base_mode: int | None = None  # the mode in the base, for a modified entry whose mode changed

    def desc(self) -> dict[str, Any]:
        """The file's state as findings carry it (`actual` of a `file` finding)."""
        out: dict[str, Any] = {"change": self.change, "kind": self.kind, "mode": f"{self.mode:04o}", "size": self.size}
        if self.base_mode is not None:
            out["base_mode"] = f"{self.base_mode:04o}"
        if self.executable:
            out["executable"] = True
        if self.package_file is not None:
            out["package_file"] = self.package_file.to_json()
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "change": self.change,
            "kind": self.kind,
            "size": self.size,
            "mode": f"{self.mode:04o}",
            "uid": self.uid,
            "gid": self.gid,
            "class": self.klass,
            "owner": self.owner,
            "reason": self.reason,
            "link_target": self.link_target,
            "sha256": self.sha256,
            "secret": self.secret,
            "package_file": self.package_file.to_json() if self.package_file else None,
            "executable": self.executable,
            "base_mode": f"{self.base_mode:04o}" if self.base_mode is not None else None,
            "severity": self.severity,
        }

    @property
    def severity(self) -> Severity | None:
        """An unexplained change rated as the finding `drift diff` makes of it; None otherwise."""
        return self.as_finding().severity if self.klass == "unexplained" else None

    def as_finding(self) -> Finding:
        """The finding of this change against the base (`drift diff` TARGET mode, and what
        `drift inspect` rates)."""
        pf = self.package_file
        detail = f"{self.change}: package file modified ({pf.package})" if pf else self.change
        return Finding("file", None, self.path, None, self.desc(), detail=detail)


@dataclass(frozen=True, slots=True)
class ImageConfig:
    env: tuple[str, ...] = ()
    cmd: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    working_dir: str = ""
    user: str = ""
    exposed_ports: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    shell: tuple[str, ...] | None = None
    stop_signal: str | None = None

    @classmethod
    def from_docker(cls, cfg: dict[str, Any] | None) -> ImageConfig:
        cfg = cfg or {}

        def seq(value: Any) -> tuple[str, ...] | None:
            if value is None:
                return None
            if isinstance(value, str):
                return (value,)
            return tuple(str(v) for v in value)

        return cls(
            env=tuple(cfg.get("Env") or ()),
            cmd=seq(cfg.get("Cmd")),
            entrypoint=seq(cfg.get("Entrypoint")),
            working_dir=cfg.get("WorkingDir") or "",
            user=cfg.get("User") or "",
            exposed_ports=tuple(sorted((cfg.get("ExposedPorts") or {}).keys())),
            volumes=tuple(sorted((cfg.get("Volumes") or {}).keys())),
            labels=tuple(sorted((cfg.get("Labels") or {}).items())),
            shell=seq(cfg.get("Shell")),
            stop_signal=cfg.get("StopSignal") or None,
        )

    def env_map(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for item in self.env:
            key, _, value = item.partition("=")
            out[key] = value
        return out

    def flat(self) -> dict[str, Any]:
        """One key per comparable setting: Env.NAME, Labels.NAME, Cmd, ..."""
        out: dict[str, Any] = {f"Env.{k}": v for k, v in self.env_map().items()}
        out.update({f"Labels.{k}": v for k, v in self.labels})
        out["Cmd"] = list(self.cmd) if self.cmd is not None else None
        out["Entrypoint"] = list(self.entrypoint) if self.entrypoint is not None else None
        out["WorkingDir"] = self.working_dir
        out["User"] = self.user
        out["ExposedPorts"] = list(self.exposed_ports)
        out["Volumes"] = list(self.volumes)
        out["Shell"] = list(self.shell) if self.shell is not None else None
        out["StopSignal"] = self.stop_signal
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "Env": list(self.env),
            "Cmd": list(self.cmd) if self.cmd is not None else None,
            "Entrypoint": list(self.entrypoint) if self.entrypoint is not None else None,
            "WorkingDir": self.working_dir,
            "User": self.user,
            "ExposedPorts": list(self.exposed_ports),
            "Volumes": list(self.volumes),
            "Labels": dict(self.labels),
            "Shell": list(self.shell) if self.shell is not None else None,
            "StopSignal": self.stop_signal,
        }


@dataclass(frozen=True, slots=True)
class ConfigChange:
    key: str
    base: Any
    actual: Any

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "base": self.base, "actual": self.actual}


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    created: str
    created_by: str
    comment: str
    size: int | None
    empty_layer: bool
    origin: LayerOrigin
    in_base: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "created_by": self.created_by,
            "comment": self.comment,
            "size": self.size,
            "empty_layer": self.empty_layer,
            "origin": self.origin,
            "in_base": self.in_base,
        }


@dataclass(frozen=True, slots=True)
class Unknown:
    """Something a collector could not read: data, not a crash."""

    where: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"where": self.where, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class AccountChange:
    """A user or group added, removed or changed between base and target.

    `before`/`after` are the account's state (None when absent): a user's
    {"uid", "gid", "gecos", "home", "shell", "groups", "password"} (password is "set", "locked"
    or "none": never the hash), a group's {"gid", "members"}. `fields` names what changed
    ("password" also when only the hash did); `explained_by` is "apt:PKG" for an account a
    package's maintainer scripts made; `home_created`: the user's home folder (and its
    /etc/skel copies) was made with the account.
    """

    kind: Literal["user", "group"]
    name: str
    change: Literal["added", "removed", "changed"]
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    fields: tuple[str, ...] = ()
    explained_by: str | None = None
    home_created: bool = False

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name}"

    @property
    def detail(self) -> str:
        return f"changed: {', '.join(self.fields)}" if self.change == "changed" else self.change

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "change": self.change,
            "before": self.before,
            "after": self.after,
            "fields": list(self.fields),
            "explained_by": self.explained_by,
            "home_created": self.home_created,
        }


@dataclass(frozen=True, slots=True)
class PackageDelta:
    """A package added, removed or changed in version between base and target."""

    manager: Literal["apt", "pip"]
    name: str
    change: Literal["added", "removed", "upgraded", "downgraded", "changed"]
    base_version: str | None
    version: str | None
    location: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "manager": self.manager,
            "name": self.name,
            "change": self.change,
            "base_version": self.base_version,
            "version": self.version,
            "location": self.location,
        }


FindingCategory = Literal[
    "undocumented", "missing", "version", "mark", "config", "file", "account", "dockerfile", "unknown"
]  # fmt: skip
FINDING_CATEGORIES: tuple[str, ...] = (
    "undocumented",
    "missing",
    "version",
    "mark",
    "config",
    "file",
    "account",
    "dockerfile",
    "unknown",
)


@dataclass(frozen=True, slots=True)
class Finding:
    """One difference between what is expected and what is there.

    The same shape serves `diff` (image vs Dockerfile or image), `snapshot --verify`
    (original vs rebuilt) and, later, fleet reports (one subject per container).
    """

    category: FindingCategory
    manager: Literal["apt", "pip"] | None
    name: str
    expected: Any = None
    actual: Any = None
    explained_by: str | None = None
    line: int | None = None
    fix: str | None = None
    detail: str | None = None
    location: str | None = None

    @property
    def fingerprint(self) -> str:
        import hashlib

        raw = f"{self.category}|{self.manager}|{self.name}|{self.location}"
        return hashlib.sha256(raw.encode()).hexdigest()[:16]

    @property
    def severity(self) -> Severity:
        """critical, high, medium, low or info: drift.severity's rule table decides."""
        from drift.severity import rate

        return rate(self)

    def to_json(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "manager": self.manager,
            "name": self.name,
            "expected": self.expected,
            "actual": self.actual,
            "explained_by": self.explained_by,
            "line": self.line,
            "fix": self.fix,
            "detail": self.detail,
            "location": self.location,
            "fingerprint": self.fingerprint,
            "severity": self.severity,
        }


@dataclass(frozen=True, slots=True)
class Inventory:
    target: Target
    base: BaseRef | None
    apt: tuple[AptPackage, ...]
    pip: tuple[PipPackage, ...]
    environments: tuple[PythonEnv, ...]
    files: tuple[FileChange, ...]
    config: ImageConfig | None
    base_config: ImageConfig | None
    config_changes: tuple[ConfigChange, ...]
    package_changes: tuple[PackageDelta, ...]
    history: tuple[HistoryEntry, ...]
    unknowns: tuple[Unknown, ...] = ()
    base_apt: tuple[AptPackage, ...] = field(default=(), repr=False)
    base_pip: tuple[PipPackage, ...] = field(default=(), repr=False)
    accounts: tuple[AccountChange, ...] = ()  # users and groups added, removed or changed

    def to_json(self) -> dict[str, Any]:
        packages: list[dict[str, Any]] = [p.to_json() for p in self.apt]
        packages += [p.to_json() for p in self.pip]
        return {
            "schema": INVENTORY_SCHEMA,
            "target": self.target.to_json(),
            "base": self.base.to_json() if self.base else None,
            "packages": packages,
            "environments": [e.to_json() for e in self.environments],
            "package_changes": [c.to_json() for c in self.package_changes],
            "files": [f.to_json() for f in self.files],
            "accounts": [a.to_json() for a in self.accounts],
            "config": self.config.to_json() if self.config else None,
            "config_changes": [c.to_json() for c in self.config_changes],
            "history": [h.to_json() for h in self.history],
            "unknowns": [u.to_json() for u in self.unknowns],
        }


def short_id(ident: str | None) -> str:
    if not ident:
        return ""
    return ident.split(":", 1)[-1][:12]


def canonical_name(name: str) -> str:
    """PEP 503 normalised project name."""
    from packaging.utils import canonicalize_name

    return str(canonicalize_name(name))


def clean_workdir(path: str) -> str:
    """A working directory as a commit records it: `/app/` and `/app` are the same folder."""
    import posixpath

    return posixpath.normpath(path) if path else path
