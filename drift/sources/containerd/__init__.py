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

    engine.py    the client (one gRPC channel, a namespace, a timeout on every call) and `Engine`
    describe.py  containerd's containers and images described in Docker's shapes; the names
    source.py    a container (or image) as a `Source`; `containerd:` targets resolved
"""

from __future__ import annotations

from drift.sources.containerd.describe import (
    CONTAINER_NAME,
    KIND,
    MADE_BY,
    POD_NAME,
    POD_NAMESPACE,
    config_history,
    container_attrs,
    display_name,
    image_attrs,
    normalized,
    overlay_dirs,
    run_config,
    split_namespace,
)
from drift.sources.containerd.engine import (
    ADDRESS_ENV,
    DEFAULT_ADDRESS,
    DEFAULT_NAMESPACE,
    ID_PREFIX,
    NAMESPACE_ENV,
    SCHEME,
    Engine,
    address_of,
    all_labels,
    current,
    endpoint_from_env,
)
from drift.sources.containerd.source import TARGET_PREFIX, container_source, engine_for, image_source, resolve

__all__ = [
    "ADDRESS_ENV",
    "CONTAINER_NAME",
    "DEFAULT_ADDRESS",
    "DEFAULT_NAMESPACE",
    "ID_PREFIX",
    "KIND",
    "MADE_BY",
    "NAMESPACE_ENV",
    "POD_NAME",
    "POD_NAMESPACE",
    "SCHEME",
    "TARGET_PREFIX",
    "Engine",
    "address_of",
    "all_labels",
    "config_history",
    "container_attrs",
    "container_source",
    "current",
    "display_name",
    "endpoint_from_env",
    "engine_for",
    "image_attrs",
    "image_source",
    "normalized",
    "overlay_dirs",
    "resolve",
    "run_config",
    "split_namespace",
]
