"""Containers and images from a Docker engine.

On a local engine with the overlay2 driver (and root), layers are read straight from the
engine's diff folders: nothing is copied, a running container is neither stopped nor
paused. Elsewhere (remote engine, other drivers, no permission) the API is the fallback:
`docker save` for images, `docker export` + `docker diff` for a container's own changes.
`DRIFT_READ=api` forces the fallback, `DRIFT_READ=overlay` forbids it.
"""

from __future__ import annotations

import atexit
import contextlib
import copy
import datetime as dt
import hashlib
import os
import re
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterator
from typing import Any, BinaryIO, cast

from drift.errors import CorruptArchive, DriftError, EngineUnreachable, TargetNotFound
from drift.model import ImageConfig, Target
from drift.sources import podman
from drift.sources.contexts import Endpoint, current_endpoint
from drift.sources.fs import Layer
from drift.sources.layers import DirLayer
from drift.sources.stack import RawHistory, Source
from drift.sources.tarlayer import TarLayer


def connect(endpoint: Endpoint, timeout: float = 120) -> Any:
    """A docker-py client for ENDPOINT (TLS and ssh as the docker CLI does them)."""
    from drift.sources import dockerlib

    docker = dockerlib.load_for_ssh() if endpoint.host.startswith("ssh://") else dockerlib.load()

    if endpoint.chosen_by == "DOCKER_HOST":
        verify = bool(os.environ.get("DOCKER_TLS_VERIFY")) and endpoint.host.startswith("tcp://")
        with _own_ca_only() if verify else contextlib.nullcontext():
            client = docker.from_env(timeout=timeout)
        if verify:
            _pin_ca(client.api)
        return client  # DOCKER_TLS_VERIFY / DOCKER_CERT_PATH as docker reads them
    tls: Any = False
    if endpoint.host.startswith("tcp://") and (endpoint.ca or endpoint.cert):
        from docker.tls import TLSConfig

        cert = (endpoint.cert, endpoint.key) if endpoint.cert and endpoint.key else None
        tls = TLSConfig(client_cert=cert, ca_cert=endpoint.ca, verify=not endpoint.skip_tls_verify)
    with _own_ca_only() if tls else contextlib.nullcontext():  # the client asks the engine's version here
        client = docker.DockerClient(
            base_url=endpoint.host, tls=tls, timeout=timeout, use_ssh_client=endpoint.host.startswith("ssh://")
        )
    if tls:
        _pin_ca(client.api)
    return client


_ENV_LOCK = threading.Lock()


@contextlib.contextmanager
def _own_ca_only() -> Iterator[None]:
    with _ENV_LOCK:
        saved = {k: os.environ.pop(k) for k in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE") if k in os.environ}
        try:
            yield
        finally:
            os.environ.update(saved)


def _pin_ca(api: Any) -> None:
    """Verify the engine with its own CA, as docker does: requests would otherwise let
    REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE (common on corporate machines) replace it."""
    merge = api.merge_environment_settings

    def settings(url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> Any:
        out = merge(url, proxies, stream, verify, cert)
        out["verify"] = api.verify
        return out

    api.merge_environment_settings = settings


class Engine:
    """A thin, lazily connected wrapper over docker-py that speaks DriftError."""

    def __init__(self, endpoint: Endpoint | None = None, *, timeout: float = 120) -> None:
        self._client: Any = None
        self._socket: Any = None
        self._endpoint = endpoint
        self.timeout = timeout
        # An image ID names immutable content: its inspection and history are asked once per
        # run (a report reads 30 containers of one image). Names are always asked again.
        self._images: dict[str, dict[str, Any]] = {}
        self._histories: dict[str, list[dict[str, Any]]] = {}
        self._saves: dict[str, str] = {}  # image ID -> its `docker save` file, the last _SAVES kept
        self._pins: dict[str, int] = {}  # image ID -> inspections still reading its save
        self._save_dir: str | None = None
        self._podman: bool | None = None

    @property
    def podman(self) -> bool:
        """Whether this is Podman's Docker-compatible service: its `version` names the "Podman
        Engine" component (as `docker version` shows it). Asked once."""
        if self._podman is None:
            try:
                version = self.api.version()
            except EngineUnreachable:
                raise
            except Exception:  # an engine without `version` is no Podman we know
                version = {}
            self._podman = podman.is_podman(version)
        return self._podman

    @property
    def kind(self) -> str:
        return "Podman service" if self.podman else "Docker engine"

    def identity(self, info: dict[str, Any]) -> str | None:
        """Who this engine is, stable from run to run: Docker's engine ID (its engine-id file),
        or a Podman service's host name and storage root."""
        return podman.identity(info) if self.podman else (info.get("ID") or None)

    @property
    def local(self) -> bool:
        """Its overlay2 folders are on this machine (a unix socket): layers can be read in place."""
        return self.endpoint.host.startswith("unix://")

    @property
    def endpoint(self) -> Endpoint:
        if self._endpoint is None:
            self._endpoint = current_endpoint()
        return self._endpoint

    @property
    def api(self) -> Any:
        """The engine's API: for a local unix socket, drift's own reader of the read calls
        (docker_socket.py: no SDK import for an inspection or a report), which hands every other
        call to the SDK's client; else the SDK's client."""
        if self._socket is None and self.endpoint.host.startswith("unix://"):
            from drift.sources.docker_socket import SocketApi

            self._socket = SocketApi(
                self.endpoint.host.removeprefix("unix://"), self.timeout, self._sdk_api, self._unreachable
            )
        return self._socket if self._socket is not None else self._sdk_api()

    def _unreachable(self, exc: BaseException) -> Exception:
        endpoint = self.endpoint
        return EngineUnreachable(
            f"cannot reach the Docker engine at {endpoint.describe()}: {_reason(exc)}; {_what_to_do(endpoint)}"
        )

    def _sdk_api(self) -> Any:
        if self._client is None:
            try:
                client = connect(self.endpoint, self.timeout)
                client.ping()
            except Exception as exc:  # docker-py raises DockerException, requests errors, OSError
                raise self._unreachable(exc) from exc
            self._client = client
        return self._client.api

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        from drift.sources import docker_socket

        api = self.api
        try:
            return fn(api)(*args, **kwargs)
        except docker_socket.NotFound:
            return None
        except docker_socket.ApiError as exc:
            raise DriftError(f"the Docker engine refused to {what}: {exc.explanation or exc}") from exc
        except DriftError:
            raise
        except Exception as exc:
            errors = sys.modules.get("docker.errors")  # the SDK's, when the call was its
            if errors is not None and isinstance(exc, errors.NotFound):
                return None
            if errors is not None and isinstance(exc, errors.APIError):
                raise DriftError(f"the Docker engine refused to {what}: {exc.explanation or exc}") from exc
            raise EngineUnreachable(
                f"lost the Docker engine at {self.endpoint.describe()} while trying to {what}: {_reason(exc)}"
            ) from exc

    def find_container(self, name: str) -> dict[str, Any] | None:
        return self._call(f"inspect container {name}", lambda a: a.inspect_container, name)

    def find_image(self, ref: str, *, fresh: bool = False) -> dict[str, Any] | None:
        """An image's inspection; by full ID it is asked once (`fresh`: ask anyway, to know that
        the engine still has it)."""
        if not fresh and ref in self._images:
            return copy.deepcopy(self._images[ref])
        attrs = self._call(f"inspect image {ref}", lambda a: a.inspect_image, ref)
        if attrs is not None and _IMAGE_ID.fullmatch(ref) and attrs.get("Id") == ref:
            self._images[ref] = copy.deepcopy(attrs)
        return attrs

    def history(self, image_id: str) -> list[dict[str, Any]]:
        if image_id in self._histories:
            return copy.deepcopy(self._histories[image_id])
        rows = self._call(f"read the history of {image_id}", lambda a: a.history, image_id) or []
        if rows and _IMAGE_ID.fullmatch(image_id):
            self._histories[image_id] = copy.deepcopy(rows)
        return rows

    def images(self) -> list[dict[str, Any]]:
        """Every local image, inspected (for finding a base by layer prefix)."""
        listed = self._call("list images", lambda a: a.images, all=False) or []
        out = []
        for item in listed:
            attrs = self.find_image(item["Id"])
            if attrs is not None:
                out.append(attrs)
        return out

    def save(self, image_id: str, dest: str) -> None:
        stream = self._call(f"save image {image_id}", lambda a: a.get_image, image_id)
        with open(dest, "wb") as fh:
            for chunk in stream:
                fh.write(chunk)

    def saved(self, image_id: str, stack: contextlib.ExitStack | None = None) -> str:
        """`docker save` of an image by ID, into a file kept while this client lives: the
        containers of one image, read one after another on an engine without readable overlay2
        folders, share one save instead of one each. The last two are kept (an image and its
        base); the rest is removed by close(), or at exit. A save is pinned while STACK is open
        (an inspection still reading its layers: `diff --build` reads the build and the image
        side by side), and only unpinned ones make room."""
        if stack is not None:
            self._pins[image_id] = self._pins.get(image_id, 0) + 1
            stack.callback(self._unpin, image_id)
        path = self._saves.get(image_id)
        if path is not None and os.path.isfile(path):
            return path
        if self._save_dir is None:
            self._save_dir = tempfile.mkdtemp(prefix="drift-save-")
            atexit.register(self.close)
        for old in [i for i in self._saves if not self._pins.get(i)][: max(0, len(self._saves) - _SAVES + 1)]:
            with contextlib.suppress(OSError):
                os.unlink(self._saves.pop(old))
        dest = os.path.join(self._save_dir, f"{hashlib.sha256(image_id.encode()).hexdigest()[:16]}.tar")
        try:
            self.save(image_id, dest)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(dest)
            raise
        self._saves[image_id] = dest
        return dest

    def _unpin(self, image_id: str) -> None:
        count = self._pins.get(image_id, 0) - 1
        if count > 0:
            self._pins[image_id] = count
        else:
            self._pins.pop(image_id, None)

    def events(self, filters: dict[str, list[str]], since: float) -> Any:
        """The engine's events from SINCE (seconds since the epoch) on, as a stream of dicts
        (iterate it; `close()` ends it). Connects (and pings) first: EngineUnreachable."""
        return self._sdk_api().events(decode=True, filters=filters, since=f"{since:.9f}")

    def close(self) -> None:
        """Remove the saves kept for the run (a forked worker, which skips atexit, calls it), and
        close the SDK's client when one was made."""
        if self._save_dir is not None:
            shutil.rmtree(self._save_dir, ignore_errors=True)
        self._save_dir = None
        self._saves.clear()
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()

    def read_paths(self, container_id: str, paths: list[str], dest: str) -> bool:
        """Each path's own entry (a file with its content; a folder or link without what is below
        it), read from the container's archive endpoint, into one tar at `dest` named as
        `docker export` names them. A path gone meanwhile is left out. False: one of them is a
        device node, which needs `docker export`."""
        import tarfile

        from drift.sources.tarread import Reader, TarError

        def request(path: str) -> Any:
            # docker-py's get_archive() hides the response in a generator: asked directly (its
            # own _get/_url/_raise_for_status) so that a folder's archive is closed after its
            # first header instead of being read to its end.
            def go(api: Any) -> Any:
                def call() -> Any:
                    res = api._get(
                        api._url("/containers/{0}/archive", container_id), params={"path": path}, stream=True
                    )
                    api._raise_for_status(res)
                    res.raw.decode_content = True  # the engine may gzip the body (Accept-Encoding)
                    return res

                return call

            return go

        with open(dest, "wb") as fh, tarfile.open(fileobj=fh, mode="w", format=tarfile.PAX_FORMAT) as out:
            for path in paths:
                res = self._call(f"read {path} in container {container_id[:12]}", request(path))
                if res is None:
                    continue
                try:
                    stream = _Full(res.raw)
                    member = next(iter(Reader(cast(BinaryIO, stream), seekable=False).members()), None)
                    if member is None:
                        continue
                    if member.kind in ("char", "block"):
                        return False
                    info = tarfile.TarInfo(path.lstrip("/"))
                    info.type = _TAR_TYPES.get(member.kind, tarfile.REGTYPE)
                    info.mode, info.uid, info.gid, info.mtime = member.mode, member.uid, member.gid, member.mtime
                    info.linkname = member.linkname
                    if member.kind == "file":
                        info.size = member.size
                        out.addfile(info, _Exact(stream, member.size, path))
                    else:
                        out.addfile(info)
                except TarError as exc:
                    raise DriftError(
                        f"the engine's archive of {path} in container {container_id[:12]} is damaged: {exc}"
                    ) from exc
                finally:
                    res.close()
        return True

    def export(self, container_id: str, dest: str) -> None:
        stream = self._call(f"export container {container_id}", lambda a: a.export, container_id)
        with open(dest, "wb") as fh:
            for chunk in stream:
                fh.write(chunk)

    def diff(self, container_id: str) -> list[dict[str, Any]]:
        return self._call(f"diff container {container_id}", lambda a: a.diff, container_id) or []


_IMAGE_ID = re.compile(r"sha256:[0-9a-f]{64}")
_SAVES = 2
_BY_PATH = 200  # a container's changed paths read one by one up to this many; beyond, one export
_BY_PATH_SSH = 20
_TAR_TYPES = {"dir": b"5", "symlink": b"2", "hardlink": b"1", "fifo": b"6"}


class _Full:
    """A response body read in whole blocks: an HTTP stream may hand back less than asked."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def seekable(self) -> bool:
        return False

    def read(self, n: int = -1) -> bytes:
        if n < 0:
            return bytes(self.raw.read())
        parts, left = [], n
        while left:
            data = self.raw.read(left)
            if not data:
                break
            parts.append(data)
            left -= len(data)
        return b"".join(parts)


class _Exact:
    """Exactly `size` bytes of a member's data from a stream (tarfile pads the rest itself)."""

    def __init__(self, raw: Any, size: int, path: str) -> None:
        self.raw, self.left, self.path = raw, size, path

    def read(self, n: int = -1) -> bytes:
        want = self.left if n < 0 else min(n, self.left)
        data = self.raw.read(want) if want else b""
        if want and not data:
            raise DriftError(f"the engine's archive of {self.path} ended inside its content")
        self.left -= len(data)
        return data


def _what_to_do(endpoint: Endpoint) -> str:
    if endpoint.chosen_by in ("DOCKER_HOST", "default"):
        return "start dockerd or point DOCKER_HOST at a running engine"
    return "start that engine, or choose another context ('docker context use NAME', DOCKER_CONTEXT, DOCKER_HOST)"


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[-1][:300] if text else type(exc).__name__


def _read_mode() -> str:
    mode = os.environ.get("DRIFT_READ", "auto")
    if mode not in ("auto", "api", "overlay"):
        raise DriftError(f"DRIFT_READ={mode!r} is not one of auto, api, overlay")
    return mode


def _overlay_dirs(attrs: dict[str, Any], count: int) -> list[str] | None:
    """The diff folders of an image, bottom first, if this process can read them."""
    driver = attrs.get("GraphDriver") or {}
    if driver.get("Name") != "overlay2":
        return None
    data = driver.get("Data") or {}
    lower = [d for d in (data.get("LowerDir") or "").split(":") if d]
    upper = data.get("UpperDir")
    dirs = list(reversed(lower)) + ([upper] if upper else [])
    if len(dirs) != count:
        return None
    if not all(os.path.isdir(d) and os.access(d, os.R_OK | os.X_OK) for d in dirs):
        return None
    return dirs


def _history(engine: Engine, image_id: str) -> list[RawHistory]:
    rows = list(reversed(engine.history(image_id)))
    out = []
    for row in rows:
        created_by = row.get("CreatedBy") or ""
        out.append(
            RawHistory(
                created=_iso_created(row.get("Created")),
                created_by=created_by,
                comment=row.get("Comment") or "",
                size=row.get("Size"),
                empty_layer=_looks_empty(created_by, row.get("Size")),
            )
        )
    return out


def _iso_created(value: object) -> str:
    """A history row's time as the image config writes it (RFC 3339, UTC): the engine API gives
    seconds since the epoch, a registry, an archive or containerd the config's own string."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value or "")
    try:
        stamp = dt.datetime.fromtimestamp(value, dt.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return str(value)
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def _looks_empty(created_by: str, size: int | None) -> bool:
    if size:
        return False
    text = created_by.strip()
    if "#(nop)" in text:
        return not any(text.split("#(nop)", 1)[1].strip().startswith(k) for k in ("COPY", "ADD"))
    head = text.split(" ", 1)[0]
    return head in {
        "ENV",
        "CMD",
        "ENTRYPOINT",
        "LABEL",
        "EXPOSE",
        "WORKDIR",
        "USER",
        "VOLUME",
        "ARG",
        "STOPSIGNAL",
        "HEALTHCHECK",
        "SHELL",
        "ONBUILD",
        "MAINTAINER",
    }


def _image_layers(engine: Engine, attrs: dict[str, Any], stack: contextlib.ExitStack, label: str) -> list[Layer]:
    layer_ids = list((attrs.get("RootFS") or {}).get("Layers") or [])
    mode = _read_mode()
    dirs = _overlay_dirs(attrs, len(layer_ids)) if mode != "api" and engine.local else None
    if dirs is not None:
        return [
            DirLayer(d, digest=layer_ids[i], overlay=True, description=f"{label} layer {i + 1}")
            for i, d in enumerate(dirs)
        ]
    if mode == "overlay":
        raise DriftError(f"{label}: the engine's overlay2 folders cannot be read here (DRIFT_READ=overlay)")
    from drift.sources.archive import archive_source

    dest = engine.saved(attrs["Id"], stack)
    try:
        saved = archive_source(dest, stack, resolved_by="docker save", name=label)
    except CorruptArchive as exc:
        raise DriftError(f"the engine's 'docker save' of {label} could not be read: {exc}") from exc
    return saved.layers


def image_source(
    engine: Engine,
    ref: str,
    stack: contextlib.ExitStack,
    *,
    resolved_by: str,
    attrs: dict[str, Any] | None = None,
) -> Source:
    attrs = attrs or engine.find_image(ref)
    if attrs is None:
        raise TargetNotFound(f"no image {ref!r} on the engine at {engine.endpoint.describe()}: see 'docker images'")
    layers = _image_layers(engine, attrs, stack, f"image {ref}")
    digests = tuple(attrs.get("RepoDigests") or ())
    target = Target(
        kind="image",
        name=ref,
        resolved_by=resolved_by,
        id=attrs["Id"],
        digest=digests[0] if digests else None,
        tags=tuple(attrs.get("RepoTags") or ()),
    )
    return Source(
        target=target,
        layers=layers,
        layer_ids=list((attrs.get("RootFS") or {}).get("Layers") or []),
        config=ImageConfig.from_docker(attrs.get("Config")),
        history=_history(engine, attrs["Id"]),
        parent=attrs.get("Parent") or None,
        parent_reason="the image's Parent field",
        raw=attrs,
    )


def container_source(
    engine: Engine,
    name: str,
    stack: contextlib.ExitStack,
    *,
    resolved_by: str,
    attrs: dict[str, Any] | None = None,
) -> Source:
    attrs = attrs or engine.find_container(name)
    if attrs is None:
        raise TargetNotFound(f"no container {name!r} on the engine at {engine.endpoint.describe()}: see 'docker ps -a'")
    image_attrs = engine.find_image(attrs["Image"])
    if image_attrs is None:
        raise TargetNotFound(f"container {name!r} runs image {attrs['Image']} which the engine no longer has")
    image_name = (attrs.get("Config") or {}).get("Image") or attrs["Image"]
    label = f"container {name}"
    layers = _image_layers(engine, image_attrs, stack, f"image {image_name}")
    layers.append(_container_upper(engine, attrs, stack, label))
    target = Target(
        kind="container",
        name=name,
        resolved_by=resolved_by,
        id=attrs["Id"],
        image=image_name,
    )
    image_layers = list((image_attrs.get("RootFS") or {}).get("Layers") or [])
    return Source(
        target=target,
        layers=layers,
        layer_ids=[*image_layers, f"container:{attrs['Id']}"],
        config=ImageConfig.from_docker(_run_config(engine, attrs, image_attrs)),
        history=_history(engine, image_attrs["Id"]),
        parent=image_attrs["Id"],
        parent_reason="the container's image",
        base_layers=len(image_layers),
        base_name=image_name,
        base_id=image_attrs["Id"],
        raw=attrs,
    )


def _run_config(engine: Engine, attrs: dict[str, Any], image_attrs: dict[str, Any]) -> dict[str, Any] | None:
    config = attrs.get("Config")
    return podman.without_run_defaults(config, image_attrs.get("Config")) if engine.podman else config


def _container_upper(engine: Engine, attrs: dict[str, Any], stack: contextlib.ExitStack, label: str) -> Layer:
    mode = _read_mode()
    data = (attrs.get("GraphDriver") or {}).get("Data") or {}
    upper = data.get("UpperDir")
    if (
        mode != "api"
        and engine.local
        and (attrs.get("GraphDriver") or {}).get("Name") == "overlay2"
        and upper
        and os.path.isdir(upper)
        and os.access(upper, os.R_OK | os.X_OK)
    ):
        return DirLayer(upper, digest=None, overlay=True, description=f"{label} (its own changes)")
    if mode == "overlay":
        raise DriftError(f"{label}: the engine's overlay2 folders cannot be read here (DRIFT_READ=overlay)")
    # API: the container's own changes are what `docker diff` lists, each read by its path
    # (`GET /containers/ID/archive`: what `docker cp` reads), or from one `docker export` when
    # they are many (or hold a device node, which that archive does not describe).
    changes = engine.diff(attrs["Id"])
    tmpdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="drift-export-"))
    dest = os.path.join(tmpdir, "container.tar")
    only = {c["Path"] for c in changes if c.get("Kind") in (0, 1)}
    # The archive endpoint reads through mounts: a mount point's own (placeholder) entry is in
    # the export only.
    mounts = {str(m.get("Destination")) for m in attrs.get("Mounts") or ()}
    mounts |= set(((attrs.get("HostConfig") or {}).get("Tmpfs") or {}).keys())
    # Each path is a request on a connection of its own: over ssh:// a new ssh process each.
    most = _BY_PATH_SSH if engine.endpoint.host.startswith("ssh://") else _BY_PATH
    if len(only) > most or only & mounts or not engine.read_paths(attrs["Id"], sorted(only), dest):
        engine.export(attrs["Id"], dest)
    deleted = sorted(c["Path"] for c in changes if c.get("Kind") == 2)
    return TarLayer(
        lambda: open(dest, "rb"),
        digest=None,
        description=f"{label} (docker export)",
        only=only,
        extra_whiteouts=deleted,
    )
