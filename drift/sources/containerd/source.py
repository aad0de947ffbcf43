"""A containerd container (or image) as a `Source`: its snapshot's folders read in place, its
image's config and history from the content store."""

from __future__ import annotations

import contextlib
import os
import tempfile
from typing import Any

from drift.errors import DriftError, TargetNotFound
from drift.model import ImageConfig, Target
from drift.sources.containerd.describe import config_history, split_namespace
from drift.sources.containerd.engine import Engine
from drift.sources.fs import Layer
from drift.sources.layers import DirLayer
from drift.sources.stack import Source
from drift.sources.tarlayer import TarLayer

TARGET_PREFIX = "containerd:"  # a target: containerd:[NAMESPACE/]ID or containerd:[NAMESPACE/]POD-NS/POD/CONTAINER


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
    snapshotter = attrs["GraphDriver"]["Name"]
    if snapshotter != "overlayfs":
        # another snapshotter's folder is a whole root filesystem, not layers: compared with the
        # image's tar layers it would differ by its hardlinks alone (as the native snapshotter showed)
        raise DriftError(
            f"container {name}: its snapshotter is {snapshotter!r}; drift reads containerd's overlayfs "
            "snapshots only (the default, and the kubelet's)"
        )
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
