"""Engine kinds behind one interface: the Docker engine API (docker.py, with Podman's service
through the same API: podman.py) and containerd (containerd/). Everything above sources/ goes
through here and the engine object it gets: which URL schemes exist, the endpoint a URL names,
the engine for an endpoint or a target, and an engine's stable identity and kind (its
`identity(info)` and `kind`). Nothing above sources/ asks which kind it holds.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlparse

from drift.sources.contexts import Endpoint

SCHEMES = ("unix", "tcp", "ssh", "npipe", "containerd")
_CONTAINERD = "containerd://"


def host_name(url: str) -> str | None:
    """A short, stable name for an engine URL (host[:port], or the socket's path); None for a
    scheme no kind reads."""
    parsed = urlparse(url)
    if parsed.scheme not in SCHEMES:
        return None
    if parsed.scheme in ("unix", "npipe", "containerd"):
        return parsed.path or url
    return parsed.netloc or url


def special_endpoint(url: str, chosen_by: str) -> Endpoint | None:
    """The endpoint of a URL that is no Docker engine's (containerd's socket), else None."""
    if url.startswith(_CONTAINERD):
        from drift.sources.containerd import SCHEME, address_of

        return Endpoint("", SCHEME + address_of(url), chosen_by)
    return None


def on_host(url: str, target: str, endpoint: Endpoint) -> str:
    """-H URL for one command: the environment the engine kind's own tools honour is set
    (DOCKER_HOST, or CONTAINERD_ADDRESS), and the target as that kind names it (with
    containerd's, a target without prefix that is no path is its container)."""
    from drift.sources import split_prefix

    if endpoint.host.startswith(_CONTAINERD):
        from drift.sources import containerd

        os.environ[containerd.ADDRESS_ENV] = containerd.address_of(endpoint.host)
        prefix, _ = split_prefix(target)
        return target if prefix or os.path.exists(target) else containerd.TARGET_PREFIX + target
    os.environ["DOCKER_HOST"] = url
    return target


def engine_for(target: str, engine: Any) -> Any:
    """The engine a target lives on: containerd's for `containerd:NAME`, else ENGINE (or the
    Docker engine the docker CLI would pick)."""
    from drift.sources.containerd import TARGET_PREFIX

    if target.startswith(TARGET_PREFIX):
        from drift.sources.containerd import engine_for as containerd_engine

        return containerd_engine(target, engine)
    return default() if engine is None else engine


def default() -> Any:
    """The engine the docker CLI would pick (DOCKER_HOST, the context, the default socket); the
    one that builds (`diff --build`, `snapshot --verify`: the classic builder)."""
    from drift.sources.docker import Engine

    return Engine()


def identity(engine: Any, info: dict[str, Any]) -> str | None:
    """Who ENGINE is, stable from run to run (each kind says: `engine.identity(info)`)."""
    ask = getattr(engine, "identity", None)
    return ask(info) if ask is not None else (info.get("ID") or None)


def kind_of(engine: Any) -> str:
    return str(getattr(engine, "kind", "Docker engine"))


def comparable(known_id: str, new_id: str) -> bool:
    """IDs that can be compared: a Podman service recorded before drift knew Podman's IDs
    change at every call has a random one on record, which tells nothing."""
    from drift.sources.podman import ID_PREFIX

    return known_id.startswith(ID_PREFIX) == new_id.startswith(ID_PREFIX)
