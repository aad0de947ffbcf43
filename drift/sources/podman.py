"""Podman, through its Docker-compatible API (`podman system service`): the Docker engine client
(docker.py) talks to it; what differs is here, and nothing above sources/ asks which it is.

- who it is: Podman answers `info` with a new random ID on every call, so a service is known by
  its host name and storage root ("podman:HOST:/var/lib/containers/storage");
- what it adds to every container that is not the user's doing (run defaults);
- where its socket is when nothing names one.
"""

from __future__ import annotations

import os
from typing import Any

ID_PREFIX = "podman:"


def is_podman(version: Any) -> bool:
    """Whether a `version` answer is Podman's: it names the "Podman Engine" component (as
    `docker version` shows it)."""
    components = (version.get("Components") or []) if isinstance(version, dict) else []
    return any(isinstance(c, dict) and str(c.get("Name", "")).startswith("Podman") for c in components)


def identity(info: dict[str, Any]) -> str:
    """A Podman service's stable ID (its `info` ID changes at every call)."""
    return f"{ID_PREFIX}{info.get('Name') or '?'}:{info.get('DockerRootDir') or '?'}"


# What Podman adds to every container's config that its image did not set (and `podman
# commit` does not keep, or keeps as the image's): the engine's doing, not the user's.
_RUN_ENV = {"container": ("podman", "oci"), "TERM": ("xterm",), "HOME": None, "HOSTNAME": None}


def without_run_defaults(config: dict[str, Any] | None, image: dict[str, Any] | None) -> dict[str, Any] | None:
    """A Podman container's config without the defaults Podman puts in every one: env
    `container=podman`, `TERM=xterm`, `HOME` and `HOSTNAME` (the container's host name), and
    StopSignal 15 (SIGTERM, the default), each only when its image does not set it."""
    if not isinstance(config, dict):
        return config
    image = image or {}
    image_env = {str(e).split("=", 1)[0] for e in image.get("Env") or ()}
    env = []
    for item in config.get("Env") or ():
        key, _, value = str(item).partition("=")
        if key in _RUN_ENV and key not in image_env:
            allowed = _RUN_ENV[key]
            if key == "HOSTNAME":
                allowed = (str(config.get("Hostname") or ""),)
            if allowed is None or value in allowed:
                continue
        env.append(item)
    out = {**config, "Env": env}
    if str(config.get("StopSignal") or "") in ("15", "SIGTERM") and not image.get("StopSignal"):
        out["StopSignal"] = None
    return out


def sockets() -> list[tuple[str, str]]:
    """(URL, how it was found) of Podman's API socket for this user, in the order Podman's own
    clients look: CONTAINER_HOST, then the rootless socket under XDG_RUNTIME_DIR (else
    /run/user/UID), then the rootful /run/podman/podman.sock (root only)."""
    out = []
    if os.environ.get("CONTAINER_HOST", "").startswith("unix://"):
        out.append((os.environ["CONTAINER_HOST"], "CONTAINER_HOST"))
    runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    out.append((f"unix://{runtime}/podman/podman.sock", "the rootless Podman socket"))
    if os.getuid() == 0:
        out.append(("unix:///run/podman/podman.sock", "the Podman socket"))
    return out
