"""Which Docker engine to talk to, chosen as the `docker` CLI chooses it.

1. `DOCKER_HOST` (with `DOCKER_TLS_VERIFY`/`DOCKER_CERT_PATH`), else
2. the context named by `DOCKER_CONTEXT`, else
3. `currentContext` in `$DOCKER_CONFIG/config.json` (`~/.docker/config.json`), else
4. the default socket, `unix:///var/run/docker.sock`; on a host without it, Podman's socket as
   Podman's own tools and the Docker-compatible clients find it: `CONTAINER_HOST`, then the
   rootless `$XDG_RUNTIME_DIR/podman/podman.sock` (for root, `/run/podman/podman.sock`).

A context is stored by the docker CLI in `$DOCKER_CONFIG/contexts/meta/<sha256 of its name>/meta.json`
(`Endpoints.docker.Host`, `SkipTLSVerify`), its TLS files in
`$DOCKER_CONFIG/contexts/tls/<sha256 of its name>/docker/{ca,cert,key}.pem`. Only files are read;
nothing is written.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass

from drift.errors import DriftError

DEFAULT_HOST = "unix:///var/run/docker.sock"
DEFAULT_CONTEXT = "default"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where one engine answers, and how it was chosen (for messages)."""

    context: str
    host: str
    chosen_by: str  # "DOCKER_HOST", "DOCKER_CONTEXT", "config.json currentContext", "default"
    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    skip_tls_verify: bool = False

    def describe(self) -> str:
        if not self.context:  # an engine named by its URL (drift report --host, drift.toml)
            return f"{self.host} (from {self.chosen_by})"
        if self.chosen_by == "DOCKER_HOST":
            return f"{self.host} (DOCKER_HOST)"
        if self.context == DEFAULT_CONTEXT and "no Docker socket" in self.chosen_by:
            return f"{self.host} ({self.chosen_by})"
        if self.context == DEFAULT_CONTEXT and self.chosen_by == "default":
            return f"{self.host} (the default socket; no DOCKER_HOST or Docker context chosen)"
        return f"{self.host} (Docker context {self.context!r}, from {self.chosen_by})"


def config_dir() -> str:
    return os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")


def _store_id(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def _read_json(path: str) -> dict[str, object]:
    try:
        with open(path, encoding="utf-8") as fh:
            value = json.load(fh)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise DriftError(f"cannot read {path}: {exc}; fix or remove it (the docker CLI would fail too)") from exc
    return value if isinstance(value, dict) else {}


def current_context() -> tuple[str, str]:
    """(name, chosen by) of the context the docker CLI would use; DOCKER_HOST is the 'default' context."""
    if os.environ.get("DOCKER_HOST"):
        return DEFAULT_CONTEXT, "DOCKER_HOST"
    if os.environ.get("DOCKER_CONTEXT"):
        return os.environ["DOCKER_CONTEXT"], "DOCKER_CONTEXT"
    name = _read_json(os.path.join(config_dir(), "config.json")).get("currentContext")
    if isinstance(name, str) and name:
        return name, "config.json currentContext"
    return DEFAULT_CONTEXT, "default"


def list_contexts() -> list[str]:
    """Every context the docker CLI knows: 'default' first, then the stored ones by name."""
    meta = os.path.join(config_dir(), "contexts", "meta")
    names = []
    try:
        entries = sorted(os.listdir(meta))
    except OSError:
        entries = []
    for entry in entries:
        name = _read_json(os.path.join(meta, entry, "meta.json")).get("Name")
        if isinstance(name, str) and name and _store_id(name) == entry:
            names.append(name)
    return [DEFAULT_CONTEXT, *sorted(names)]


def default_host(docker_socket: str = DEFAULT_HOST) -> tuple[str, str]:
    """(URL, how it was chosen) when nothing names an engine: Docker's socket, or on a host
    without one (a Podman host), the first Podman socket that exists."""
    if not os.path.exists(docker_socket.removeprefix("unix://")):
        from drift.sources.podman import sockets

        for url, found_by in sockets():
            if os.path.exists(url.removeprefix("unix://")):
                return url, f"{found_by}; no Docker socket"
    return docker_socket, "default"


def endpoint_for(context: str, chosen_by: str = "--context") -> Endpoint:
    """The docker endpoint of CONTEXT ('default' is DOCKER_HOST or the default socket)."""
    if context == DEFAULT_CONTEXT:
        if os.environ.get("DOCKER_HOST"):
            return Endpoint(DEFAULT_CONTEXT, os.environ["DOCKER_HOST"], "DOCKER_HOST")
        if chosen_by != "default":
            return Endpoint(DEFAULT_CONTEXT, DEFAULT_HOST, chosen_by)
        host, found_by = default_host()
        return Endpoint(DEFAULT_CONTEXT, host, found_by)
    store = _store_id(context)
    meta = _read_json(os.path.join(config_dir(), "contexts", "meta", store, "meta.json"))
    endpoints = meta.get("Endpoints")
    docker = endpoints.get("docker") if isinstance(endpoints, dict) else None
    if meta.get("Name") != context or not isinstance(docker, dict) or not docker.get("Host"):
        raise DriftError(f"no Docker context {context!r} (from {chosen_by}) in {config_dir()}: see 'docker context ls'")
    tls = os.path.join(config_dir(), "contexts", "tls", store, "docker")

    def pem(name: str) -> str | None:
        path = os.path.join(tls, f"{name}.pem")
        return path if os.path.isfile(path) else None

    return Endpoint(
        context,
        str(docker["Host"]),
        chosen_by,
        ca=pem("ca"),
        cert=pem("cert"),
        key=pem("key"),
        skip_tls_verify=bool(docker.get("SkipTLSVerify")),
    )


def current_endpoint() -> Endpoint:
    """The endpoint `docker` would talk to right now."""
    name, chosen_by = current_context()
    if chosen_by == "DOCKER_HOST":
        return Endpoint(DEFAULT_CONTEXT, os.environ["DOCKER_HOST"], "DOCKER_HOST")
    return endpoint_for(name, chosen_by)
