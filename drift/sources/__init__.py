"""Where a filesystem comes from: container, image, docker-save archive, OCI layout, folder.

`resolve(name)` tries the sources in one explicit order (a prefix picks one) and returns a
`Source`: a stack of layer handles plus what the source knows of its image (config,
history, layer digests). Everything after this package sees only layers and views.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

from drift.errors import EngineUnreachable, TargetNotFound
from drift.sources.stack import RawHistory, Source

__all__ = ["PREFIXES", "RawHistory", "Source", "make_engine", "resolve", "split_prefix"]

PREFIXES = ("container", "containerd", "image", "archive", "oci", "dir", "registry")


def make_engine(endpoint: Any, *, timeout: float = 120) -> Any:
    """The engine at ENDPOINT: containerd's for containerd:///PATH, else a Docker (or Podman) engine."""
    from drift.sources import containerd, docker

    if endpoint.host.startswith(containerd.SCHEME):
        return containerd.Engine(endpoint, timeout=timeout)
    return docker.Engine(endpoint, timeout=timeout)


def split_prefix(name: str) -> tuple[str | None, str]:
    head, sep, rest = name.partition(":")
    if sep and head in PREFIXES and rest:
        return head, rest
    return None, name


def resolve(name: str, stack: contextlib.ExitStack, *, engine: Any = None) -> Source:
    """Resolve a target the user typed, in the documented order."""
    from drift.sources import archive, containerd, docker, rootdir

    prefix, rest = split_prefix(name)
    engine = engine or (None if prefix == "registry" else docker.Engine())
    if prefix == "container":
        return docker.container_source(engine, rest, stack, resolved_by="prefix container:")
    if prefix == "containerd":
        return containerd.resolve(rest, stack, engine, resolved_by="prefix containerd:")
    if prefix == "image":
        if isinstance(engine, containerd.Engine):
            return containerd.image_source(engine, rest, stack, resolved_by="prefix image: (of containerd)")
        return docker.image_source(engine, rest, stack, resolved_by="prefix image:")
    if prefix == "archive":
        return archive.archive_source(rest, stack, resolved_by="prefix archive:")
    if prefix == "oci":
        return archive.oci_source(rest, stack, resolved_by="prefix oci:")
    if prefix == "dir":
        return rootdir.dir_source(rest, resolved_by="prefix dir:")
    if prefix == "registry":
        from drift.sources import registry  # only for a registry target: no engine, no requests otherwise

        return registry.registry_source(rest, stack, resolved_by="prefix registry: (the OCI distribution API)")

    if prefix is None and isinstance(engine, containerd.Engine) and not os.path.exists(name):
        return containerd.resolve(name, stack, engine, resolved_by="container of the containerd given by -H")
    if os.path.exists(name):
        if os.path.isdir(name):
            if os.path.isfile(os.path.join(name, "oci-layout")):
                return archive.oci_source(name, stack, resolved_by="path (an OCI image layout)")
            return rootdir.dir_source(name, resolved_by="path (a root filesystem folder)")
        return archive.archive_source(name, stack, resolved_by="path (an image archive)")

    try:
        found = engine.find_container(name)
        if found is not None:
            return docker.container_source(engine, name, stack, resolved_by="container name or id", attrs=found)
        found_image = engine.find_image(name)
        if found_image is not None:
            return docker.image_source(
                engine, name, stack, resolved_by="image reference (no container by that name)", attrs=found_image
            )
    except EngineUnreachable as exc:
        raise EngineUnreachable(f"{name!r} is not a path, and {exc}") from exc
    raise TargetNotFound(
        f"no container, image or path named {name!r}: see 'docker ps -a' and 'docker images', "
        "or prefix it with container:, containerd:, image:, archive:, oci: or dir:"
    )
