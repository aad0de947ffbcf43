"""Containers from containerd (what a Kubernetes node runs), over containerd's own gRPC API.

The API, not the node's files: containerd's metadata (bolt database) is locked by the running
daemon and its layout is private; the API is what `ctr`, `nerdctl` and `crictl` (through the
CRI plugin) use, and it names a container's snapshot mounts exactly as they are mounted.
Only read calls are made (Containers/List and Get, Tasks/List, Images/Get and List,
Content/Read, Snapshots/Mounts, Introspection/Server): a container is never exec'd into,
paused or changed.

A container's layers are then read in place, as on a local Docker engine with overlay2: the
snapshot's `lowerdir=` folders (top first) are the image's layers, its `upperdir=` the
container's own changes. So drift runs on the node, as root.

The engine answers in the shapes drift's other engines use (`docker inspect` of a container or
image, `docker ps` rows, `docker info`'s ID), so `report`, `base` and `runtime` read both
alike: see `Engine`.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import sys
import tempfile
import threading
from typing import Any

from drift.errors import DriftError, EngineUnreachable, TargetNotFound
from drift.model import ImageConfig, Target
from drift.sources import RawHistory, Source
from drift.sources.contexts import Endpoint
from drift.sources.fs import Layer
from drift.sources.layers import DirLayer
from drift.sources.tarlayer import TarLayer

SCHEME = "containerd://"
ADDRESS_ENV = "CONTAINERD_ADDRESS"
NAMESPACE_ENV = "CONTAINERD_NAMESPACE"
DEFAULT_ADDRESS = "/run/containerd/containerd.sock"
DEFAULT_NAMESPACE = "k8s.io"  # the kubelet's (CRI) namespace
ID_PREFIX = "containerd:"  # an engine ID: containerd:UUID (Introspection/Server)
TARGET_PREFIX = "containerd:"  # a target: containerd:[NAMESPACE/]ID or containerd:[NAMESPACE/]POD-NS/POD/CONTAINER
MAX_BLOB = 16 << 20  # a manifest, index or image config larger than this is refused

# The labels the kubelet's CRI plugin puts on every container
POD_NAMESPACE = "io.kubernetes.pod.namespace"
POD_NAME = "io.kubernetes.pod.name"
CONTAINER_NAME = "io.kubernetes.container.name"
KIND = "io.cri-containerd.kind"  # "sandbox" (the pod's pause container) or "container"
MADE_BY = "_drift_made_by"  # in a container's description: whose run made its mount points

_SERVICES = "/containerd.services."
_INDEX_TYPES = ("application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json")
_RUNTIME_LABELS = ("io.kubernetes.", "io.cri-containerd.", "io.containerd.")
_STATUS = {0: "unknown", 1: "created", 2: "running", 3: "stopped", 4: "paused", 5: "pausing"}
_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le", "s390x": "s390x"}


def _grpc() -> Any:
    """grpc, imported the first time with what `drift report` needs of it: engines are read in
    forked processes, and gRPC's core must know of the fork or a child's new channel inherits
    the parent's poller ("Wrong file descriptor generation"). grpc reads these when imported."""
    if "grpc" not in sys.modules:
        os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "true")
        os.environ.setdefault("GRPC_POLL_STRATEGY", "poll")
        os.environ.setdefault("GRPC_VERBOSITY", "ERROR")  # its notes on the fork are not the user's business
    import grpc

    return grpc


def address_of(url: str) -> str:
    """The socket path of `containerd:///PATH` (or of a bare path)."""
    path = url[len(SCHEME) :] if url.startswith(SCHEME) else url
    if not path.startswith("/"):
        raise DriftError(f"{url}: name containerd's socket as containerd:///PATH (e.g. containerd://{DEFAULT_ADDRESS})")
    return path


def endpoint_from_env() -> Endpoint:
    address = os.environ.get(ADDRESS_ENV)
    if address:
        return Endpoint("", SCHEME + address_of(address), ADDRESS_ENV)
    return Endpoint("", SCHEME + DEFAULT_ADDRESS, f"the default socket; no {ADDRESS_ENV}")


class _Client:
    """containerd's gRPC API: one channel, one namespace, a timeout on every call."""

    def __init__(self, address: str, namespace: str, timeout: float) -> None:
        self.address, self.namespace, self.timeout = address, namespace, timeout
        self._channel: Any = None
        self._lock = threading.Lock()

    @property
    def channel(self) -> Any:
        with self._lock:
            if self._channel is None:
                if not os.path.exists(self.address):
                    raise EngineUnreachable(
                        f"cannot reach containerd at {self.address}: no such socket; "
                        f"start containerd, or point {ADDRESS_ENV} (or -H containerd:///PATH) at its socket"
                    )
                self._channel = _grpc().insecure_channel(f"unix://{self.address}")
            return self._channel

    def close(self) -> None:
        with self._lock:
            if self._channel is not None:
                self._channel.close()
            self._channel = None

    def call(self, method: str, request: Any, reply: Any, what: str, *, namespace: str | None = None) -> Any:
        """One unary call; None when containerd says NOT_FOUND."""
        fn = self.channel.unary_unary(
            _SERVICES + method,
            request_serializer=type(request).SerializeToString,
            response_deserializer=reply.FromString,
        )
        return self._guard(what, lambda: fn(request, metadata=self._meta(namespace), timeout=self.timeout))

    def stream(self, method: str, request: Any, reply: Any, what: str) -> list[Any] | None:
        fn = self.channel.unary_stream(
            _SERVICES + method,
            request_serializer=type(request).SerializeToString,
            response_deserializer=reply.FromString,
        )
        return self._guard(what, lambda: list(fn(request, metadata=self._meta(None), timeout=self.timeout)))

    def _meta(self, namespace: str | None) -> list[tuple[str, str]]:
        return [("containerd-namespace", namespace or self.namespace)]

    def _guard(self, what: str, fn: Any) -> Any:
        grpc = _grpc()
        try:
            return fn()
        except grpc.RpcError as exc:
            code = exc.code() if hasattr(exc, "code") else None
            detail = (exc.details() if hasattr(exc, "details") else None) or str(code)
            if code == grpc.StatusCode.NOT_FOUND:
                return None
            if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED):
                raise EngineUnreachable(
                    f"cannot reach containerd at {self.address} to {what}: {detail.splitlines()[0][:300]}; "
                    f"start containerd, or point {ADDRESS_ENV} (or -H containerd:///PATH) at its socket"
                ) from exc
            raise DriftError(f"containerd at {self.address} refused to {what}: {detail.splitlines()[0][:300]}") from exc


class _Api:
    """What the report asks of an engine's API (`info`, `containers`, `images`), answered by
    containerd in the shapes of Docker's API."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def info(self) -> dict[str, Any]:
        from drift.sources.containerd_api import containerd_pb2 as pb

        reply = self.engine.client.call(
            "introspection.v1.Introspection/Server", pb.Empty(), pb.ServerResponse, "say who it is"
        )
        uuid = reply.uuid if reply is not None else ""
        if not uuid:
            raise DriftError(f"containerd at {self.engine.address} gave no server UUID (Introspection/Server)")
        return {"ID": ID_PREFIX + uuid, "Name": platform.node(), "Namespace": self.engine.namespace}

    def containers(self, all: bool = False, filters: dict[str, list[str]] | None = None) -> list[dict[str, Any]]:
        labels = _label_filters(filters or {})
        out = []
        states = self.engine.task_states()
        image_ids: dict[str, str | None] = {}
        for c in current(self.engine.list_containers(), states):
            if c.labels.get(KIND) == "sandbox":
                continue  # a pod's pause container: Kubernetes' own, nothing of the app's
            state = states.get(c.id, "created")
            if not all and state != "running":
                continue
            if not all_labels(dict(c.labels), labels):
                continue
            if c.image and c.image not in image_ids:
                found = self.engine.find_image(c.image)
                image_ids[c.image] = found["Id"] if found else None
            out.append(
                {
                    "Id": c.id,
                    "Names": ["/" + display_name(c.id, dict(c.labels))],
                    "Image": c.image,
                    "ImageID": image_ids.get(c.image),
                    "Labels": dict(c.labels),
                    "State": state,
                }
            )
        return out

    def images(self) -> list[dict[str, Any]]:
        out = []
        for name in self.engine.image_names():
            attrs = self.engine.find_image(name)
            if attrs is not None:
                out.append({"Id": attrs["Id"], "RepoTags": [name], "Labels": (attrs.get("Config") or {}).get("Labels")})
        return out


def current(containers: list[Any], states: dict[str, str]) -> list[Any]:
    """One container per POD-NAMESPACE/POD/CONTAINER name: when the kubelet has restarted a
    container, the previous one stays (exited, for its logs) under the same labels; the one that
    runs is the pod's container, else the newest. Containers without the labels all stay."""
    best: dict[str, Any] = {}
    out = []
    for c in containers:
        name = display_name(c.id, dict(c.labels))
        if name == c.id:
            out.append(c)
            continue
        other = best.get(name)
        if other is None or _rank(c, states) > _rank(other, states):
            best[name] = c
    return out + list(best.values())


def _rank(c: Any, states: dict[str, str]) -> tuple[bool, int, int]:
    created = c.created_at if c.HasField("created_at") else None
    return states.get(c.id) == "running", created.seconds if created else 0, created.nanos if created else 0


def _label_filters(filters: dict[str, list[str]]) -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    for key, values in filters.items():
        if key != "label":
            raise DriftError(f"--filter {key}=...: containerd engines take label=KEY or label=KEY=VALUE filters only")
        for v in values:
            k, sep, val = v.partition("=")
            out.append((k, val if sep else None))
    return out


def all_labels(labels: dict[str, str], wanted: list[tuple[str, str | None]]) -> bool:
    return all(k in labels and (v is None or labels[k] == v) for k, v in wanted)


def display_name(container_id: str, labels: dict[str, str]) -> str:
    """NAMESPACE/POD/CONTAINER from the kubelet's labels, else the container's ID."""
    parts = [labels.get(POD_NAMESPACE), labels.get(POD_NAME), labels.get(CONTAINER_NAME)]
    return "/".join(p for p in parts if p) if all(parts) else container_id


class Engine:
    """A containerd, through its gRPC API, with the methods drift's Docker engine has
    (`api.info/containers/images`, `find_container`, `find_image`, `history`, `images`, `close`),
    answering in Docker's shapes: a container's description carries its snapshot's folders as an
    overlay `GraphDriver`, its image's as `RootFS.Layers` (diff IDs) and its spec's mounts as
    `Mounts`."""

    prefix = "containerd"  # the target prefix that names this engine's containers
    podman = False
    local = True

    def __init__(self, endpoint: Endpoint | None = None, *, namespace: str | None = None, timeout: float = 120) -> None:
        self.endpoint = endpoint or endpoint_from_env()
        self.address = address_of(self.endpoint.host)
        self.namespace = namespace or os.environ.get(NAMESPACE_ENV) or DEFAULT_NAMESPACE
        self.timeout = timeout
        self.client = _Client(self.address, self.namespace, self.timeout)
        self._configs: dict[str, dict[str, Any]] = {}  # image config digest -> image config (immutable)
        self._by_name: dict[str, str] = {}  # image name -> config digest, as last read
        self._manifests: dict[str, dict[str, Any]] = {}  # image config digest -> its manifest

    def with_namespace(self, namespace: str) -> Engine:
        return self if namespace == self.namespace else Engine(self.endpoint, namespace=namespace, timeout=self.timeout)

    @property
    def api(self) -> _Api:
        return _Api(self)

    def close(self) -> None:
        self.client.close()

    # --- containers -------------------------------------------------------------------------

    def list_containers(self) -> list[Any]:
        from drift.sources.containerd_api import containerd_pb2 as pb

        reply = self.client.call(
            "containers.v1.Containers/List", pb.ListContainersRequest(), pb.ListContainersResponse, "list containers"
        )
        return list(reply.containers) if reply is not None else []

    def task_states(self) -> dict[str, str]:
        from drift.sources.containerd_api import containerd_pb2 as pb

        reply = self.client.call("tasks.v1.Tasks/List", pb.ListTasksRequest(), pb.ListTasksResponse, "list tasks")
        tasks = list(reply.tasks) if reply is not None else []
        return {t.container_id or t.id: _STATUS.get(t.status, "unknown") for t in tasks}

    def _container(self, name: str) -> Any:
        """A container by ID, unique ID prefix, or NAMESPACE/POD/CONTAINER."""
        from drift.sources.containerd_api import containerd_pb2 as pb

        if "/" not in name:
            reply = self.client.call(
                "containers.v1.Containers/Get", pb.GetContainerRequest(id=name), pb.GetContainerResponse,
                f"inspect container {name}",
            )  # fmt: skip
            if reply is not None and reply.container.id:
                return reply.container
        listed = self.list_containers()
        named = [c for c in listed if display_name(c.id, dict(c.labels)) == name]
        if len(named) > 1:  # a restarted pod container: the kubelet keeps the one before it for a while
            named = current(named, self.task_states())
        if not named and "/" not in name and len(name) >= 4:
            named = [c for c in listed if c.id.startswith(name)]
        if len(named) > 1:
            raise TargetNotFound(
                f"{name!r} names {len(named)} containers in containerd namespace {self.namespace}: give the ID"
            )
        return named[0] if named else None

    def find_container(self, name: str) -> dict[str, Any] | None:
        c = self._container(name)
        if c is None:
            return None
        spec = _spec(c)
        image = self.find_image(c.image) if c.image else None
        mounts = self.snapshot_mounts(c.snapshotter, c.snapshot_key) if c.snapshot_key else []
        state = self.task_states().get(c.id, "created")
        return container_attrs(c, spec, image, mounts, state)

    def snapshot_mounts(self, snapshotter: str, key: str) -> list[Any]:
        from drift.sources.containerd_api import containerd_pb2 as pb

        reply = self.client.call(
            "snapshots.v1.Snapshots/Mounts", pb.MountsRequest(snapshotter=snapshotter, key=key), pb.MountsResponse,
            f"read the mounts of snapshot {key}",
        )  # fmt: skip
        return list(reply.mounts) if reply is not None else []

    # --- images -----------------------------------------------------------------------------

    def image_names(self) -> list[str]:
        from drift.sources.containerd_api import containerd_pb2 as pb

        reply = self.client.call("images.v1.Images/List", pb.ListImagesRequest(), pb.ListImagesResponse, "list images")
        return sorted(i.name for i in reply.images) if reply is not None else []

    def read_blob(self, digest: str, what: str) -> dict[str, Any]:
        from drift.sources.containerd_api import containerd_pb2 as pb

        chunks = self.client.stream(
            "content.v1.Content/Read", pb.ReadContentRequest(digest=digest, size=MAX_BLOB + 1), pb.ReadContentResponse,
            f"read {what} {digest}",
        )  # fmt: skip
        if chunks is None:
            raise DriftError(f"containerd has no content {digest} ({what}): the image is not complete")
        data = b"".join(c.data for c in chunks)
        if len(data) > MAX_BLOB:
            raise DriftError(f"{what} {digest} is larger than {MAX_BLOB >> 20} MB: refused")
        try:
            doc = json.loads(data)
        except ValueError as exc:
            raise DriftError(f"{what} {digest} in containerd is not JSON: {exc}") from exc
        if not isinstance(doc, dict):
            raise DriftError(f"{what} {digest} in containerd is not a JSON object")
        return doc

    def _manifest(self, desc: Any, name: str) -> dict[str, Any]:
        doc = self.read_blob(desc.digest, "the manifest of " + name)
        media = doc.get("mediaType") or desc.media_type
        if media not in _INDEX_TYPES and "manifests" not in doc:
            return doc
        arch = _ARCH.get(platform.machine(), platform.machine())
        for m in doc.get("manifests") or ():
            p = (m or {}).get("platform") or {}
            if p.get("os") == "linux" and p.get("architecture") == arch and isinstance(m.get("digest"), str):
                return self.read_blob(m["digest"], f"the linux/{arch} manifest of {name}")
        raise DriftError(f"image {name} in containerd has no linux/{arch} manifest")

    def find_image(self, ref: str, *, fresh: bool = False) -> dict[str, Any] | None:
        """An image by name, or by the digest of its config (its ID, as Docker's)."""
        from drift.sources.containerd_api import containerd_pb2 as pb

        if ref.startswith("sha256:"):
            if ref not in self._configs or fresh:
                for name in self.image_names():
                    self.find_image(name)
            names = [n for n, d in self._by_name.items() if d == ref]
            return image_attrs(ref, self._configs[ref], names, None) if names and ref in self._configs else None
        reply = None
        for name in dict.fromkeys((ref, normalized(ref))):  # as typed, then as Docker spells it in full
            reply = self.client.call(
                "images.v1.Images/Get", pb.GetImageRequest(name=name), pb.GetImageResponse, f"inspect image {ref}"
            )
            if reply is not None and reply.image.name:
                break
        if reply is None or not reply.image.name:
            return None
        ref = reply.image.name
        target = reply.image.target
        manifest = self._manifest(target, ref)
        digest = ((manifest.get("config") or {}).get("digest")) or ""
        if not isinstance(digest, str) or not digest.startswith("sha256:"):
            raise DriftError(f"the manifest of image {ref} in containerd names no config")
        if digest not in self._configs:
            self._configs[digest] = self.read_blob(digest, f"the config of image {ref}")
        self._by_name[ref] = digest
        self._manifests[digest] = manifest
        return image_attrs(digest, self._configs[digest], [ref], target.digest)

    def layer_blobs(self, image_id: str) -> list[dict[str, Any]]:
        """The layer descriptors of an image's manifest (by its ID, after find_image)."""
        layers = (self._manifests.get(image_id) or {}).get("layers")
        return [d for d in layers if isinstance(d, dict)] if isinstance(layers, list) else []

    def fetch_blob(self, digest: str, dest: str, what: str) -> None:
        """A blob of the content store (a layer), streamed into DEST."""
        from drift.sources.containerd_api import containerd_pb2 as pb

        fn = self.client.channel.unary_stream(
            _SERVICES + "content.v1.Content/Read",
            request_serializer=pb.ReadContentRequest.SerializeToString,
            response_deserializer=pb.ReadContentResponse.FromString,
        )

        def go() -> bool:
            with open(dest, "wb") as fh:
                for chunk in fn(
                    pb.ReadContentRequest(digest=digest), metadata=self.client._meta(None), timeout=self.timeout
                ):
                    fh.write(chunk.data)
            return True

        if self.client._guard(f"read {what} {digest}", go) is None:
            raise DriftError(f"containerd has no content {digest} ({what}): its layers were discarded after unpacking")

    def history(self, image_id: str) -> list[dict[str, Any]]:
        """Docker's `history` rows (newest first) from the image config's history."""
        attrs = self.find_image(image_id)
        rows = config_history(attrs.get("_config") or {}) if attrs else []
        return [{"Created": r.created, "CreatedBy": r.created_by, "Comment": r.comment, "Size": r.size} for r in rows][
            ::-1
        ]

    def images(self) -> list[dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for name in self.image_names():
            attrs = self.find_image(name)
            if attrs is not None:
                out.setdefault(attrs["Id"], attrs)
        return list(out.values())


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
            "Name": "overlayfs",
            "Data": {"LowerDir": ":".join(reversed(lower)), "UpperDir": upper or ""},
        },
        MADE_BY: "kubernetes" if labels.get(CONTAINER_NAME) else "containerd",
        "Namespace": "",
        "Snapshotter": c.snapshotter,
    }


def mounts_of(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"Type": m.get("type") or "bind", "Source": m.get("source") or "", "Destination": m.get("destination")}
        for m in _list(spec.get("mounts"))
        if isinstance(m, dict) and isinstance(m.get("destination"), str)
    ]


# The filesystems every container gets from its runtime (/proc, /sys, /dev and its pts, shm,
# mqueue, cgroup; ctr's tmpfs on /run): their mount points are the runtime's, but they are no
# volume of the deployment's to show beside the target.
_RUNTIME_TYPES = {"proc", "sysfs", "devpts", "mqueue", "cgroup", "cgroup2"}
_RUNTIME_POINTS = {"/dev", "/dev/shm", "/run", "/sys/fs/cgroup"}


def _runtime_mount(m: dict[str, Any]) -> bool:
    return m["Type"] in _RUNTIME_TYPES or (m["Type"] == "tmpfs" and m["Destination"] in _RUNTIME_POINTS)


def _iso(ts: Any) -> str:
    return ts.ToDatetime().strftime("%Y-%m-%dT%H:%M:%S.%fZ") if ts.seconds else ""


def _network(spec: dict[str, Any]) -> str:
    linux = _dict(spec.get("linux"))
    kinds = {n.get("type") for n in linux.get("namespaces") or () if isinstance(n, dict)}
    return "host" if "network" not in kinds else ""


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
        # the spec always names a cwd: "/" is the runtime's default, not a WORKDIR
        "WorkingDir": image.get("WorkingDir") or ("" if process.get("cwd") in (None, "", "/") else str(process["cwd"])),
        "User": image.get("User") or ("" if (uid, gid) == (0, 0) else f"{uid}:{gid}"),
        "Labels": merged,
    }


def split_namespace(name: str) -> tuple[str | None, str]:
    """NAMESPACE/ID or NAMESPACE/POD-NAMESPACE/POD/CONTAINER: the containerd namespace first."""
    parts = name.split("/")
    if len(parts) in (2, 4) and all(parts):
        return parts[0], "/".join(parts[1:])
    return None, name


def container_source(
    engine: Engine, name: str, stack: contextlib.ExitStack, *, resolved_by: str, attrs: dict[str, Any] | None = None
) -> Source:
    del stack  # nothing is copied: the snapshot's folders are read in place
    attrs = attrs or engine.find_container(name)
    where = f"containerd at {engine.address}, namespace {engine.namespace}"
    if attrs is None:
        raise TargetNotFound(
            f"no container {name!r} in {where}: see 'ctr -n {engine.namespace} containers ls' or 'crictl ps -a'"
        )
    image_name = attrs["Config"].get("Image") or ""
    image = engine.find_image(attrs["Image"]) if attrs["Image"] else None
    if image is None:
        raise TargetNotFound(f"container {name!r} runs image {image_name or '?'} which {where} no longer has")
    data = attrs["GraphDriver"]["Data"]
    lower = [d for d in reversed(data["LowerDir"].split(":")) if d]
    upper = data["UpperDir"]
    diff_ids = list(image["RootFS"]["Layers"])
    layers = _layers(lower, upper, diff_ids, f"image {image_name}", f"container {name}")
    # folders that are not one per layer have no digest: the image is then compared whole
    # (read from the content store, base.py), never matched to them by layer prefix
    ids = diff_ids if len(lower) == len(diff_ids) else [f"containerd-snapshot:{d}" for d in lower]
    target = Target(kind="container", name=name, resolved_by=resolved_by, id=attrs["Id"], image=image_name)
    return Source(
        target=target,
        layers=layers,
        layer_ids=[*ids, f"container:{attrs['Id']}"],
        config=ImageConfig.from_docker(attrs.get("Config")),
        history=config_history(image["_config"]),
        parent=image["Id"],
        parent_reason="the container's image",
        base_layers=len(lower),
        base_name=image_name,
        base_id=image["Id"],
        raw=attrs,
        engine=engine,
    )


def _layers(lower: list[str], upper: str, diff_ids: list[str], image_label: str, label: str) -> list[Layer]:
    if not upper:
        raise DriftError(f"{label}: containerd gave no overlay upper folder for its snapshot (only overlayfs is read)")
    for d in [*lower, upper]:
        if not (os.path.isdir(d) and os.access(d, os.R_OK | os.X_OK)):
            raise DriftError(
                f"{label}: cannot read its snapshot folder {d}: run drift on the node, as root "
                "(containerd's layers are read in place)"
            )
    # One lower folder per layer, bottom first, is the overlayfs snapshotter's way: each is that
    # layer's diff, known by its diff ID (cached by it, and the base found by layer prefix).
    # Any other count (another snapshotter's idea of a snapshot) leaves the folders without
    # digests: still the image's files, never taken for given layers.
    same = len(lower) == len(diff_ids)
    out: list[Layer] = [
        DirLayer(d, digest=diff_ids[i] if same else None, overlay=True, description=f"{image_label} layer {i + 1}")
        for i, d in enumerate(lower)
    ]
    out.append(DirLayer(upper, digest=None, overlay=True, description=f"{label} (its own changes)"))
    return out


def image_source(
    engine: Engine, ref: str, stack: contextlib.ExitStack, *, resolved_by: str, attrs: dict[str, Any] | None = None
) -> Source:
    """An image of containerd's: its layers are the blobs of its manifest in the content store,
    each streamed to a temporary file the first time it is read (a layer in drift's cache is
    not), checked against its diff ID while it is read."""
    attrs = attrs or engine.find_image(ref)
    if attrs is None:
        raise TargetNotFound(
            f"no image {ref!r} in containerd at {engine.address}, namespace {engine.namespace}: "
            f"see 'ctr -n {engine.namespace} images ls' or 'crictl images'"
        )
    diff_ids = list(attrs["RootFS"]["Layers"])
    blobs = engine.layer_blobs(attrs["Id"])
    if len(blobs) != len(diff_ids):
        raise DriftError(f"image {ref}: its manifest has {len(blobs)} layers but its config {len(diff_ids)}")
    folder: list[str] = []

    def opener(i: int) -> Any:
        def open_layer() -> Any:
            if not folder:
                folder.append(stack.enter_context(tempfile.TemporaryDirectory(prefix="drift-containerd-")))
            path = os.path.join(folder[0], f"layer-{i}")
            if not os.path.exists(path):
                engine.fetch_blob(str(blobs[i].get("digest")), path, f"layer {i + 1} of image {ref}")
            return open(path, "rb")

        return open_layer

    layers: list[Layer] = []
    for i, desc in enumerate(blobs):
        if "zstd" in str(desc.get("mediaType", "")):
            raise DriftError(f"image {ref}: layer {i + 1} is zstd-compressed, which drift cannot read")
        layers.append(
            TarLayer(
                opener(i),
                digest=diff_ids[i],
                description=f"image {ref} layer {i + 1}",
                cache_salt=f"{desc.get('digest')}:{desc.get('size', '')}",
                verify=True,
            )
        )
    digests = attrs.get("RepoDigests") or []
    target = Target(
        kind="image",
        name=ref,
        resolved_by=resolved_by,
        id=attrs["Id"],
        digest=digests[0].split("@", 1)[1] if digests else None,
        tags=tuple(attrs.get("RepoTags") or ()),
    )
    return Source(
        target=target,
        layers=layers,
        layer_ids=diff_ids,
        config=ImageConfig.from_docker(attrs.get("Config")),
        history=config_history(attrs["_config"]),
        raw=attrs,
        engine=engine,
    )


def resolve(name: str, stack: contextlib.ExitStack, engine: Any, *, resolved_by: str) -> Source:
    """`containerd:NAME`: a container of this engine (or of containerd from the environment),
    else an image by that name; `containerd:image:REF` an image only."""
    own = engine if isinstance(engine, Engine) else Engine()
    if name.startswith("image:"):
        return image_source(own, name[len("image:") :], stack, resolved_by=resolved_by)
    namespace, rest = split_namespace(name)
    scoped = own.with_namespace(namespace) if namespace else own
    found = scoped.find_container(rest)
    if found is None and own.find_image(name) is not None:  # library/debian:12 is no namespace "library"
        return image_source(own, name, stack, resolved_by=f"{resolved_by} (an image: no container by that name)")
    return container_source(scoped, rest, stack, resolved_by=resolved_by, attrs=found)


def engine_for(name: str, engine: Any) -> Any:
    """The engine a target lives on: containerd's for `containerd:NAME`."""
    if not name.startswith(TARGET_PREFIX):
        return engine
    return engine if isinstance(engine, Engine) else Engine()  # its namespace, if named, is resolve's
