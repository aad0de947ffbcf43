"""Which image a target is compared against.

In order: `--base REF` (for a registry: target, a REF without prefix is read from its registry
too); a container's own image; an image's Parent chain up to the first
tagged ancestor (a commit's parent is the image it was made on; a classic build's parents
are untagged intermediates that lead to the FROM image); the longest local image whose
layers are a prefix of the target's layers.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from typing import Any

from drift.errors import BaseNotFound, DriftError, EngineUnreachable
from drift.model import BaseRef, ImageConfig, Unknown, short_id
from drift.sources import Source, resolve, split_prefix


@dataclass(slots=True)
class BaseChoice:
    ref: BaseRef
    prefix: int | None  # layers shared with the target; None when the base is not a prefix
    source: Source | None  # the base's own layers, needed when it is not a prefix
    config: ImageConfig | None
    history_len: int


def _tagged(attrs: dict[str, Any]) -> bool:
    return any(t != "<none>:<none>" for t in attrs.get("RepoTags") or ())


def _name(attrs: dict[str, Any]) -> str:
    """An image's name: one of its tags, the same whatever order the engine lists them in; a
    name of this machine's (no registry host) before a copy tagged for a registry."""
    tags = [t for t in attrs.get("RepoTags") or () if t != "<none>:<none>"]
    if not tags:
        return short_id(attrs["Id"])
    return min(tags, key=lambda t: (_repository(t).split("/", 1)[0] != "docker.io" and "/" in t, t))


def _layers(attrs: dict[str, Any]) -> list[str]:
    return list((attrs.get("RootFS") or {}).get("Layers") or [])


def _is_prefix(short: list[str], long: list[str]) -> bool:
    return len(short) <= len(long) and long[: len(short)] == short


def _choice_from_image(
    engine: Any,
    source: Source,
    attrs: dict[str, Any],
    reason: str,
    stack: contextlib.ExitStack,
    name: str | None = None,
) -> BaseChoice:
    from drift.sources import containerd, docker

    layers = _layers(attrs)
    history = len(engine.history(attrs["Id"]))
    if name is None or re.fullmatch(r"(sha256:)?[0-9a-f]{12,64}", name):
        name = _name(attrs)
    ref = BaseRef(
        name=name, id=attrs["Id"], reason=reason, layers=len(layers), digest=repo_digest(name, attrs.get("RepoDigests"))
    )
    config = ImageConfig.from_docker(attrs.get("Config"))
    if _is_prefix(layers, source.layer_ids):
        return BaseChoice(ref, len(layers), None, config, history)
    make = containerd.image_source if isinstance(engine, containerd.Engine) else docker.image_source
    base_source = make(engine, ref.name, stack, resolved_by="base", attrs=attrs)
    return BaseChoice(ref, None, base_source, config, history)


def _repository(ref: str) -> str:
    """A reference's repository as Docker spells it in full (docker.io/library/debian)."""
    repo = ref.split("@", 1)[0]
    if ":" in repo.rsplit("/", 1)[-1]:
        repo = repo.rsplit(":", 1)[0]
    first = repo.split("/", 1)[0]
    if "/" not in repo or not ("." in first or ":" in first or first == "localhost"):
        repo = "docker.io/" + (repo if "/" in repo else "library/" + repo)
    return repo


def repo_digest(name: str, digests: Any) -> str | None:
    """The manifest digest NAME's own repository knows the image by: an image pushed elsewhere
    too (tagged 127.0.0.1:5000/x and pushed) has that registry's digest as well, which means
    nothing under NAME (`FROM NAME@that` would look it up in NAME's registry)."""
    repo = _repository(name)
    for entry in digests or ():
        if isinstance(entry, str) and "@" in entry and _repository(entry) == repo:
            return entry.split("@", 1)[1]
    return None


def scratch_base() -> BaseChoice:
    """An empty base: everything in the target is its own."""
    return BaseChoice(BaseRef(name="scratch", id=None, reason="FROM scratch", layers=0), 0, None, ImageConfig(), 0)


def find_base(
    source: Source, engine: Any, stack: contextlib.ExitStack, override: str | None, unknowns: list[Unknown]
) -> BaseChoice | None:
    if override:
        return _override(source, engine, stack, override)
    if source.base_layers is not None and source.base_id:
        attrs = engine.find_image(source.base_id)
        if attrs is not None:
            return _choice_from_image(engine, source, attrs, "the container's image", stack, name=source.base_name)
    if source.parent:
        found = _from_parent(source, engine, stack)
        if found:
            return found
    if source.target.kind == "dir":
        unknowns.append(Unknown("files", "a root folder has no base: pass --base REF to compare files"))
        return None
    try:
        found = _from_prefix(source, engine, stack)
    except EngineUnreachable:
        unknowns.append(Unknown("files", "no engine to look for a base image in: pass --base REF to compare files"))
        return None
    if found is None:
        unknowns.append(
            Unknown("files", "no local image is a base of this one (no Parent, no layer prefix): pass --base REF")
        )
    return found


def _override(source: Source, engine: Any, stack: contextlib.ExitStack, override: str) -> BaseChoice:
    where = override
    if source.target.kind == "registry" and split_prefix(override)[0] is None and not os.path.exists(override):
        where = f"registry:{override}"  # a registry image's base is read from a registry too: no engine needed
    try:
        base_source = resolve(where, stack, engine=engine)
    except DriftError as exc:
        raise BaseNotFound(f"--base {override}: {exc}") from exc
    ref = BaseRef(
        name=override,
        id=base_source.target.id,
        reason="--base",
        layers=len(base_source.layer_ids) or len(base_source.layers),
    )
    history = len(base_source.history)
    if base_source.layer_ids and _is_prefix(base_source.layer_ids, source.layer_ids):
        return BaseChoice(ref, len(base_source.layer_ids), None, base_source.config, history)
    return BaseChoice(ref, None, base_source, base_source.config, history)


def _from_parent(source: Source, engine: Any, stack: contextlib.ExitStack) -> BaseChoice | None:
    first: dict[str, Any] | None = None
    parent = source.parent
    seen = set()
    while parent and parent not in seen:
        seen.add(parent)
        attrs = engine.find_image(parent)
        if attrs is None:
            break
        first = first or attrs
        if _tagged(attrs):
            return _choice_from_image(engine, source, attrs, "Parent chain (first tagged ancestor)", stack)
        parent = attrs.get("Parent") or None
    if first is not None:
        return _choice_from_image(engine, source, first, "the image's Parent field", stack)
    return None


def _from_prefix(source: Source, engine: Any, stack: contextlib.ExitStack) -> BaseChoice | None:
    own = source.layer_ids
    if not own:
        return None
    best: dict[str, Any] | None = None
    for attrs in engine.images():
        if attrs["Id"] == source.target.id:
            continue
        layers = _layers(attrs)
        if not layers or not _is_prefix(layers, own):
            continue
        if len(layers) == len(own) and (
            source.target.kind != "image" or attrs.get("Created", "") >= source.raw.get("Created", "")
        ):
            continue  # the same image saved, or a later image with our layers: not a base
        # Among images with the same layers (an image and its retags, or images that only add
        # ENV/LABEL on top of it), the oldest is the one the others were made from.
        if best is not None:
            key, best_key = (len(layers), _tagged(attrs)), (len(_layers(best)), _tagged(best))
            if key < best_key or (key == best_key and attrs.get("Created", "") >= best.get("Created", "")):
                continue
        best = attrs
    if best is None:
        return None
    return _choice_from_image(engine, source, best, "longest local image whose layers are a prefix", stack)
