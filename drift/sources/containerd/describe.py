"""containerd's descriptions as drift's other engines give theirs: a container as `docker
inspect` describes one (its snapshot's folders as an overlay `GraphDriver`, its spec's mounts as
`Mounts`, its spec's process as `Config`), an image as Docker's image inspection (diff IDs as
`RootFS.Layers`); and the names: the kubelet's labels, containerd's image references."""

from __future__ import annotations

import json
from typing import Any

from drift.sources.stack import RawHistory

# The labels the kubelet's CRI plugin puts on every container
POD_NAMESPACE = "io.kubernetes.pod.namespace"
POD_NAME = "io.kubernetes.pod.name"
CONTAINER_NAME = "io.kubernetes.container.name"
KIND = "io.cri-containerd.kind"  # "sandbox" (the pod's pause container) or "container"
MADE_BY = "_drift_made_by"  # in a container's description: whose run made its mount points
_RUNTIME_LABELS = ("io.kubernetes.", "io.cri-containerd.", "io.containerd.")
# The filesystems every container gets from its runtime (/proc, /sys, /dev and its pts, shm,
# mqueue, cgroup; ctr's tmpfs on /run): their mount points are the runtime's, but they are no
# volume of the deployment's to show beside the target.
_RUNTIME_TYPES = {"proc", "sysfs", "devpts", "mqueue", "cgroup", "cgroup2"}
_RUNTIME_POINTS = {"/dev", "/dev/shm", "/run", "/sys/fs/cgroup"}


def display_name(container_id: str, labels: dict[str, str]) -> str:
    """NAMESPACE/POD/CONTAINER from the kubelet's labels, else the container's ID."""
    parts = [labels.get(POD_NAMESPACE), labels.get(POD_NAME), labels.get(CONTAINER_NAME)]
    return "/".join(p for p in parts if p) if all(parts) else container_id


def split_namespace(name: str) -> tuple[str | None, str]:
    """NAMESPACE/ID or NAMESPACE/POD-NAMESPACE/POD/CONTAINER: the containerd namespace first."""
    parts = name.split("/")
    if len(parts) in (2, 4) and all(parts):
        return parts[0], "/".join(parts[1:])
    return None, name


def normalized(ref: str) -> str:
    """An image reference spelt in full as containerd stores it (Docker's short names:
    `debian:12` is docker.io/library/debian:12), with `:latest` when it names no tag."""
    name, at, digest = ref.partition("@")
    first, slash, _ = name.partition("/")
    if not slash:
        name = f"docker.io/library/{name}"
    elif "." not in first and ":" not in first and first != "localhost":
        name = f"docker.io/{name}"
    if not at and ":" not in name.rsplit("/", 1)[-1]:
        name += ":latest"
    return name + at + digest


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _spec(c: Any) -> dict[str, Any]:
    if not c.spec.value:
        return {}
    try:
        spec = json.loads(c.spec.value)
    except ValueError:
        return {}
    return spec if isinstance(spec, dict) else {}


def image_attrs(config_digest: str, config: dict[str, Any], names: list[str], manifest: str | None) -> dict[str, Any]:
    settings = _dict(config.get("config"))
    rootfs = _dict(config.get("rootfs"))
    return {
        "Id": config_digest,
        "RepoTags": list(names),
        "RepoDigests": [f"{n.rsplit(':', 1)[0] if '@' not in n else n.split('@')[0]}@{manifest}" for n in names]
        if manifest
        else [],
        "RootFS": {"Type": "layers", "Layers": [str(d) for d in rootfs.get("diff_ids") or ()]},
        "Config": settings,
        "Created": str(config.get("created") or ""),
        "Parent": "",
        "_config": config,
    }


def config_history(config: dict[str, Any]) -> list[RawHistory]:
    rows = _list(config.get("history"))
    return [
        RawHistory(
            created=str(h.get("created", "")),
            created_by=str(h.get("created_by") or ""),
            comment=str(h.get("comment") or ""),
            size=None,
            empty_layer=bool(h.get("empty_layer", False)),
        )
        for h in rows
        if isinstance(h, dict)
    ]


def overlay_dirs(mounts: list[Any]) -> tuple[list[str], str | None]:
    """The lower folders (bottom first) and the upper folder of a snapshot's mounts."""
    lower: list[str] = []
    upper = None
    for m in mounts:
        if m.type == "bind" and not lower:
            return [], m.source  # a snapshot without parents: one folder, the container's own
        if m.type != "overlay":
            continue
        for opt in m.options:
            key, _, value = opt.partition("=")
            if key == "lowerdir":
                lower = [d for d in value.split(":") if d]
            elif key == "upperdir":
                upper = value
    return list(reversed(lower)), upper


def container_attrs(
    c: Any, spec: dict[str, Any], image: dict[str, Any] | None, mounts: list[Any], state: str
) -> dict[str, Any]:
    """A containerd container described as `docker inspect` describes one."""
    labels = dict(c.labels)
    image_cfg = (image or {}).get("Config") or {}
    process = _dict(spec.get("process"))
    lower, upper = overlay_dirs(mounts)
    return {
        "Id": c.id,
        "Name": "/" + display_name(c.id, labels),
        "Image": (image or {}).get("Id") or "",
        "Created": _iso(c.created_at) if c.HasField("created_at") else "",
        "State": {"Status": state, "Running": state == "running"},
        "Config": run_config(process, image_cfg, labels, c.image),
        "HostConfig": {"NetworkMode": _network(spec)},
        "Mounts": [m for m in mounts_of(spec) if not _runtime_mount(m)],
        "_drift_runtime_mounts": [m for m in mounts_of(spec) if _runtime_mount(m)],
        "GraphDriver": {
            "Name": c.snapshotter,  # "overlayfs": the only one read
            "Data": {"LowerDir": ":".join(reversed(lower)), "UpperDir": upper or ""},
        },
        MADE_BY: "kubernetes" if labels.get(CONTAINER_NAME) else "containerd",
    }


def mounts_of(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"Type": m.get("type") or "bind", "Source": m.get("source") or "", "Destination": m.get("destination")}
        for m in _list(spec.get("mounts"))
        if isinstance(m, dict) and isinstance(m.get("destination"), str)
    ]


def _runtime_mount(m: dict[str, Any]) -> bool:
    return m["Type"] in _RUNTIME_TYPES or (m["Type"] == "tmpfs" and m["Destination"] in _RUNTIME_POINTS)


def _iso(ts: Any) -> str:
    return ts.ToDatetime().strftime("%Y-%m-%dT%H:%M:%S.%fZ") if ts.seconds else ""


def _network(spec: dict[str, Any]) -> str:
    linux = _dict(spec.get("linux"))
    kinds = {n.get("type") for n in linux.get("namespaces") or () if isinstance(n, dict)}
    return "host" if "network" not in kinds else ""


def _workdir(cwd: str, image: str) -> str:
    """The spec always names a cwd: "/" where the image sets none is the runtime's default,
    not a WORKDIR; any other (Kubernetes' `workingDir:`) is the container's."""
    if not cwd or (cwd == "/" and not image):
        return image
    return cwd


def run_config(
    process: dict[str, Any], image: dict[str, Any], labels: dict[str, str], image_name: str
) -> dict[str, Any]:
    """The container's config as Docker's `Config`: the image's, with what its spec runs.

    The OCI spec has one argv: when it begins with the image's entrypoint, the rest is the
    command (as `docker run IMAGE ARGS` gives it); else it is a command without entrypoint
    (Kubernetes' `command:`). The runtime's HOSTNAME (CRI sets it in every container) and
    the labels the kubelet, CRI and containerd put on every container (io.kubernetes.*,
    io.cri-containerd.*, io.containerd.*: the target's name carries the pod) are not the
    deployment's choices: a snapshot never writes them as LABELs."""
    args = [str(a) for a in process.get("args") or ()]
    entrypoint = list(image.get("Entrypoint") or [])
    if entrypoint and args[: len(entrypoint)] == entrypoint:
        cmd: list[str] | None = args[len(entrypoint) :]
    else:
        entrypoint, cmd = [], args
    image_env = {str(e).split("=", 1)[0] for e in image.get("Env") or ()}
    env = [str(e) for e in process.get("env") or () if str(e).split("=", 1)[0] != "HOSTNAME" or "HOSTNAME" in image_env]
    user = _dict(process.get("user"))
    uid, gid = user.get("uid", 0), user.get("gid", 0)
    own = {k: v for k, v in labels.items() if not k.startswith(_RUNTIME_LABELS)}
    merged = {**(image.get("Labels") or {}), **own}
    return {
        **image,
        "Image": image_name,
        "Env": env,
        "Cmd": cmd
        if cmd != (image.get("Cmd") or []) or entrypoint != (image.get("Entrypoint") or [])
        else image.get("Cmd"),
        "Entrypoint": entrypoint or (None if not image.get("Entrypoint") else []),
        "WorkingDir": _workdir(str(process.get("cwd") or ""), str(image.get("WorkingDir") or "")),
        "User": image.get("User") or ("" if (uid, gid) == (0, 0) else f"{uid}:{gid}"),
        "Labels": merged,
    }
