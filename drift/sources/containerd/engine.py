"""containerd's gRPC API (read calls only, a timeout on each), and the engine drift's report,
base and runtime code call: the methods of Docker's engine, answered in Docker's shapes."""

from __future__ import annotations

import json
import os
import platform
import sys
import threading
import time
from typing import Any

from drift.errors import DriftError, EngineUnreachable, TargetNotFound
from drift.sources.containerd.describe import (
    KIND,
    _spec,
    config_history,
    container_attrs,
    display_name,
    image_attrs,
    normalized,
)
from drift.sources.contexts import Endpoint

SCHEME = "containerd://"
ADDRESS_ENV = "CONTAINERD_ADDRESS"
NAMESPACE_ENV = "CONTAINERD_NAMESPACE"
DEFAULT_ADDRESS = "/run/containerd/containerd.sock"
DEFAULT_NAMESPACE = "k8s.io"  # the kubelet's (CRI) namespace
ID_PREFIX = "containerd:"  # an engine ID: containerd:UUID (Introspection/Server)
MAX_BLOB = 16 << 20  # a manifest, index or image config larger than this is refused
_SERVICES = "/containerd.services."
_INDEX_TYPES = ("application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json")
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
    try:
        import grpc
    except ImportError as exc:
        raise DriftError(_MISSING.format(why=str(exc))) from exc
    return grpc


_MISSING = (
    "containerd is read with the grpcio and protobuf packages (drift's dependencies), which this "
    "Python cannot import ({why}): pip install 'grpcio>=1.60' 'protobuf>=7.35,<8'"
)


def _pb() -> Any:
    """The messages of containerd's API drift reads (containerd_api/containerd.proto)."""
    try:
        from drift.sources.containerd_api import containerd_pb2
    except Exception as exc:  # no protobuf, or one older than the generated code needs
        raise DriftError(_MISSING.format(why=str(exc).splitlines()[0] if str(exc) else type(exc).__name__)) from exc
    return containerd_pb2


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

    def subscribe(self, filters: list[str]) -> Any:
        """Events/Subscribe: the live call, an iterator of Envelopes (no deadline: it waits for
        events); its `cancel()` ends it. Errors surface while iterating (grpc.RpcError)."""
        pb = _pb()
        fn = self.channel.unary_stream(
            _SERVICES + "events.v1.Events/Subscribe",
            request_serializer=pb.SubscribeRequest.SerializeToString,
            response_deserializer=pb.Envelope.FromString,
        )
        return fn(pb.SubscribeRequest(filters=filters), metadata=self._meta(None))

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
        pb = _pb()

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
        listed, states = self.engine._lists(fresh=True)
        image_ids: dict[str, str | None] = {}
        for c in current(listed, states):
            if c.labels.get(KIND) == "sandbox":
                continue  # a pod's pause container: Kubernetes' own, nothing of the app's
            state = states.get(c.id, "stopped")
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


LISTED_FOR = 5.0  # seconds a container and task listing answers lookups by name


class Engine:
    """A containerd, through its gRPC API, with the methods drift's Docker engine has
    (`api.info/containers/images`, `find_container`, `find_image`, `history`, `images`, `close`),
    answering in Docker's shapes: a container's description carries its snapshot's folders as an
    overlay `GraphDriver`, its image's as `RootFS.Layers` (diff IDs) and its spec's mounts as
    `Mounts`."""

    prefix = "containerd"  # the target prefix that names this engine's containers
    podman = False
    local = True
    kind = "containerd"

    @staticmethod
    def identity(info: dict[str, Any]) -> str | None:
        """containerd's own UUID, kept in its root ("containerd:UUID", from `api.info()`)."""
        return info.get("ID") or None

    def __init__(self, endpoint: Endpoint | None = None, *, namespace: str | None = None, timeout: float = 120) -> None:
        self.endpoint = endpoint or endpoint_from_env()
        self.address = address_of(self.endpoint.host)
        self.namespace = namespace or os.environ.get(NAMESPACE_ENV) or DEFAULT_NAMESPACE
        self.timeout = timeout
        self.client = _Client(self.address, self.namespace, self.timeout)
        self._configs: dict[str, dict[str, Any]] = {}  # image config digest -> image config (immutable)
        self._by_name: dict[str, str] = {}  # image name -> config digest, as last read
        self._manifests: dict[str, dict[str, Any]] = {}  # image config digest -> its manifest
        # The namespace's container and task lists, read once for a pass over many targets (a
        # report's 30 pods asked one by one would list them 30 times): kept LISTED_FOR seconds, and
        # read again when a name is not in them.
        self._listed: tuple[float, list[Any], dict[str, str]] | None = None
        # Image records by name, for as long as the lists (a pass asks for one image per pod, and
        # again to choose its base); manifests by their digest, for the run (content-addressed).
        self._records: dict[str, tuple[float, Any]] = {}
        self._resolved: dict[str, dict[str, Any]] = {}  # manifest or index digest -> the manifest used

    def with_namespace(self, namespace: str) -> Engine:
        return self if namespace == self.namespace else Engine(self.endpoint, namespace=namespace, timeout=self.timeout)

    @property
    def api(self) -> _Api:
        return _Api(self)

    def close(self) -> None:
        self.client.close()

    # --- events -----------------------------------------------------------------------------

    def events(self, topics: tuple[str, ...]) -> Any:
        """This namespace's events of these topics (/tasks/exit, /tasks/exec-started ...), as
        containerd sends them: the live call (iterate it; `cancel()` ends it). `event_of` reads one."""
        quoted = self.namespace.replace("\\", "\\\\").replace('"', '\\"')
        return self.client.subscribe([f'namespace=="{quoted}",topic=="{t}"' for t in topics])

    @staticmethod
    def event_of(envelope: Any) -> tuple[str, str, str]:
        """(topic, container ID, the exec's ID or ""): an exec's exit names the exec, the main
        process's exit names the container itself."""
        pb = _pb()
        topic, value = envelope.topic, envelope.event.value
        if topic == "/containers/delete":
            return topic, pb.ContainerDelete.FromString(value).id, ""
        if topic == "/tasks/exit":
            ended = pb.TaskExit.FromString(value)
            return topic, ended.container_id, "" if ended.id == ended.container_id else ended.id
        return topic, pb.TaskEvent.FromString(value).container_id, ""

    # --- containers -------------------------------------------------------------------------

    def _lists(self, fresh: bool = False) -> tuple[list[Any], dict[str, str]]:
        now = time.monotonic()
        if fresh or self._listed is None or now - self._listed[0] > LISTED_FOR:
            self._listed = (now, self.list_containers(), self.task_states())
        return self._listed[1], self._listed[2]

    def list_containers(self) -> list[Any]:
        pb = _pb()

        reply = self.client.call(
            "containers.v1.Containers/List", pb.ListContainersRequest(), pb.ListContainersResponse, "list containers"
        )
        return list(reply.containers) if reply is not None else []

    def task_states(self) -> dict[str, str]:
        pb = _pb()

        reply = self.client.call("tasks.v1.Tasks/List", pb.ListTasksRequest(), pb.ListTasksResponse, "list tasks")
        tasks = list(reply.tasks) if reply is not None else []
        return {t.container_id or t.id: _STATUS.get(t.status, "unknown") for t in tasks}

    def _container(self, name: str) -> Any:
        """A container by ID, unique ID prefix, or NAMESPACE/POD/CONTAINER."""
        pb = _pb()

        if "/" not in name:
            reply = self.client.call(
                "containers.v1.Containers/Get", pb.GetContainerRequest(id=name), pb.GetContainerResponse,
                f"inspect container {name}",
            )  # fmt: skip
            if reply is not None and reply.container.id:
                return reply.container
        listed, states = self._lists()
        named = [c for c in listed if display_name(c.id, dict(c.labels)) == name]
        if not named:  # made since the lists were read
            listed, states = self._lists(fresh=True)
            named = [c for c in listed if display_name(c.id, dict(c.labels)) == name]
        if len(named) > 1:  # a restarted pod container: the kubelet keeps the one before it for a while
            named = current(named, states)
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
        state = self._lists()[1].get(c.id, "stopped")  # no task: not running (CRI deletes an exited one's)
        return container_attrs(c, spec, image, mounts, state)

    def snapshot_mounts(self, snapshotter: str, key: str) -> list[Any]:
        pb = _pb()

        reply = self.client.call(
            "snapshots.v1.Snapshots/Mounts", pb.MountsRequest(snapshotter=snapshotter, key=key), pb.MountsResponse,
            f"read the mounts of snapshot {key}",
        )  # fmt: skip
        return list(reply.mounts) if reply is not None else []

    # --- images -----------------------------------------------------------------------------

    def image_names(self) -> list[str]:
        pb = _pb()

        reply = self.client.call("images.v1.Images/List", pb.ListImagesRequest(), pb.ListImagesResponse, "list images")
        return sorted(i.name for i in reply.images) if reply is not None else []

    def read_blob(self, digest: str, what: str) -> dict[str, Any]:
        pb = _pb()

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
        kept = self._resolved.get(desc.digest)
        if kept is None:
            kept = self._read_manifest(desc, name)
            if len(self._resolved) >= 256:
                self._resolved.clear()
            self._resolved[desc.digest] = kept
        return kept

    def _read_manifest(self, desc: Any, name: str) -> dict[str, Any]:
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
        pb = _pb()

        if ref.startswith("sha256:"):
            if ref not in self._configs or fresh:
                for name in self.image_names():
                    self.find_image(name)
            names = [n for n, d in self._by_name.items() if d == ref]
            return image_attrs(ref, self._configs[ref], names, None) if names and ref in self._configs else None
        reply = None
        for name in dict.fromkeys((ref, normalized(ref))):  # as typed, then as Docker spells it in full
            now = time.monotonic()
            kept = self._records.get(name)
            if kept is not None and now - kept[0] <= LISTED_FOR and not fresh:
                reply = kept[1]
            else:
                reply = self.client.call(
                    "images.v1.Images/Get", pb.GetImageRequest(name=name), pb.GetImageResponse, f"inspect image {ref}"
                )
                if reply is not None and reply.image.name:  # (a miss is asked again: it may be pulled since)
                    if len(self._records) >= 256:
                        self._records.clear()
                    self._records[name] = (now, reply)
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
        pb = _pb()

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
