"""What `docker run` itself makes inside a container: not a change made by hand.

The engine creates a folder (or an empty file, for a bound file) at every mount point
(volumes, binds, tmpfs), the working folder of `-w`, `--init`'s /sbin/docker-init, and
writes /etc/hostname, /etc/hosts, /etc/resolv.conf and /.dockerenv (those four are noise
for every target: drift.inventory.files.NOISE). The places come from the container's own
description (`docker inspect`: Mounts, HostConfig.Tmpfs/Init, Config.WorkingDir), so a
container's inventory shows them as noise with the reason, and `drift inspect`, `drift diff`
and `drift report` agree. Its config, compared with its own image, is what was given at
`docker run` (command, env, working folder...): context, never a change.
"""

from __future__ import annotations

import dataclasses
import posixpath
from typing import Any

from drift.model import FileChange
from drift.sources.fs import View

INIT_PATH = "/sbin/docker-init"  # where the engine binds its init with --init
REASON = "made by docker run: "  # how every reason given here starts (a Docker or Podman container)
# A containerd container (drift/sources/containerd/) describes its spec's mounts the same way:
# for a pod's container they are Kubernetes' (volumes, the service-account token, /etc/hosts,
# /etc/hostname, /etc/resolv.conf, /dev/termination-log), the deployment's, never drift.
KUBE_REASON = "made by Kubernetes (the kubelet, through containerd): "
CONTAINERD_REASON = "made by containerd's run: "
REASONS = (REASON, KUBE_REASON, CONTAINERD_REASON)
_MADE_BY = {"kubernetes": KUBE_REASON, "containerd": CONTAINERD_REASON}
SERVICE_ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"


def run_paths(attrs: dict[str, Any]) -> dict[str, str]:
    """Path -> why the engine made it, from `docker inspect` of a container (or containerd's
    container described alike)."""
    out: dict[str, str] = {}
    host = attrs.get("HostConfig") or {}
    reason = _MADE_BY.get(str(attrs.get("_drift_made_by")), REASON)
    for m in [*(attrs.get("Mounts") or ()), *(attrs.get("_drift_runtime_mounts") or ())]:
        dest = m.get("Destination")
        if isinstance(dest, str):
            kind = m.get("Type") or "volume"
            what = "the pod's service-account token, " if _clean(dest) == SERVICE_ACCOUNT else ""
            out[dest] = f"{reason}{what}mount point of a {kind} mount"
    for dest in host.get("Tmpfs") or {}:
        out[str(dest)] = f"{REASON}mount point of a tmpfs mount (--tmpfs)"
    workdir = (attrs.get("Config") or {}).get("WorkingDir")
    if isinstance(workdir, str) and workdir:
        out.setdefault(workdir, f"{reason}working folder (-w, WORKDIR, the spec's cwd)")
    if host.get("Init"):
        out[INIT_PATH] = f"{REASON}--init binds the engine's init here"
    return {_clean(p): why for p, why in out.items() if p.startswith("/") and _clean(p) != "/"}


def _clean(path: str) -> str:
    return posixpath.normpath(path)


def _real_paths(paths: dict[str, str], view: View) -> dict[str, str]:
    """Each path also as the filesystem spells it (/sbin/x is /usr/sbin/x when /sbin -> usr/sbin)."""
    out = dict(paths)
    for path, why in paths.items():
        out.setdefault(view.resolve_parent(path), why)
    return out


VOLUME_REASON = "made by the engine: mount point of a VOLUME the image declares (a RUN or container after it makes it)"


def mark_volume_points(changes: list[FileChange], volumes: Any, view: View) -> list[FileChange]:
    """Added, empty mount points of the image's own VOLUMEs (and their new parent folders): the
    builder makes them for any RUN after the VOLUME line (an image built FROM it, a commit), so
    they are the engine's doing. What is inside them is classified as ever."""
    paths = {_clean(str(v)): VOLUME_REASON for v in volumes or () if str(v).startswith("/") and _clean(str(v)) != "/"}
    return _mark(changes, paths, view)


def mark_run_paths(changes: list[FileChange], attrs: dict[str, Any], view: View) -> list[FileChange]:
    """Added entries `docker run` made (mount points, their new parent folders, -w, --init)
    become noise with the reason; everything else is left as classified."""
    return _mark(changes, run_paths(attrs), view)


def _mark(changes: list[FileChange], paths: dict[str, str], view: View) -> list[FileChange]:
    points = _real_paths(paths, view)
    if not points:
        return changes
    out = []
    for f in changes:
        why = _why(f, points) if f.klass == "unexplained" and f.change == "added" else None
        out.append(dataclasses.replace(f, klass="noise", owner=None, reason=why, sha256=None) if why else f)
    return out


def _why(f: FileChange, points: dict[str, str]) -> str | None:
    if f.path in points:
        if f.kind == "dir" or (f.kind == "file" and f.size == 0):
            return points[f.path]
        return None
    if f.kind != "dir":
        return None
    inside = sorted(p for p in points if p.startswith(f.path.rstrip("/") + "/"))
    if not inside:
        return None
    why = points[inside[0]]
    who = next((r for r in REASONS if why.startswith(r)), None)  # whoever made the mount point
    return f"{who}folder of {inside[0]}" if who else f"folder of {inside[0]}, {why}"


def own_image(source: Any, base_id: str | None) -> bool:
    """A container compared with the image it runs: its config differences are docker run's."""
    return source.target.kind == "container" and base_id is not None and base_id == source.base_id


def as_built(insp: Any, engine: Any = None) -> Any:
    """For comparing a container with a Dockerfile: the same inspection with its image's config
    (what the Dockerfile builds) in place of the container's (the image's, plus docker run's
    command, env, labels, ...). Anything else is returned as it is."""
    import dataclasses as dc

    from drift.model import ImageConfig

    source = insp.source
    if source.target.kind != "container" or not source.base_id:
        return insp
    engine = source.engine or engine
    if engine is None:
        from drift.sources.engine_kinds import default

        engine = default()
    attrs = engine.find_image(source.base_id)
    if attrs is None:
        return insp
    inventory = dc.replace(insp.inventory, config=ImageConfig.from_docker(attrs.get("Config")))
    return dc.replace(insp, inventory=inventory)
