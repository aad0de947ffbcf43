"""`docker save` archives (plain or gzipped, docker or OCI flavour) and OCI layout folders."""

from __future__ import annotations

import contextlib
import functools
import gzip
import json
import os
import shutil
import tarfile
import tempfile
import zlib
from typing import Any, BinaryIO

from drift.errors import CorruptArchive, TargetNotFound
from drift.model import ImageConfig, Target
from drift.sources import RawHistory, Source
from drift.sources.fs import Layer
from drift.sources.layers import TarLayer, window

_GZIP = b"\x1f\x8b"
_ZSTD = b"\x28\xb5\x2f\xfd"


def _magic(path: str, n: int = 4) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(n)


def _plain_copy(path: str, stack: contextlib.ExitStack) -> str:
    """A gzipped archive is decompressed once into a temporary file (random access)."""
    tmpdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="drift-"))
    out = os.path.join(tmpdir, "archive.tar")
    try:
        with gzip.open(path, "rb") as src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    except (OSError, EOFError, zlib.error) as exc:
        raise CorruptArchive(f"{path} is a corrupt or truncated gzip archive ({exc}); recreate it") from exc
    return out


def archive_source(path: str, stack: contextlib.ExitStack, *, resolved_by: str, name: str | None = None) -> Source:
    if not os.path.isfile(path):
        raise TargetNotFound(f"no archive at {path!r}: give a file made by 'docker save -o FILE IMAGE'")
    head = _magic(path)
    if head.startswith(_ZSTD):
        raise CorruptArchive(f"{path} is zstd-compressed, which drift cannot read: decompress it first (zstd -d)")
    plain = _plain_copy(path, stack) if head.startswith(_GZIP) else path
    try:
        with tarfile.open(plain, mode="r:") as outer:
            members = {m.name.removeprefix("./"): m for m in outer.getmembers()}
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise CorruptArchive(
            f"{path} is not a readable image archive ({exc}); make one with 'docker save -o FILE IMAGE'"
        ) from exc
    for member in members.values():
        if member.isfile() and member.offset_data + member.size > os.path.getsize(plain):
            raise CorruptArchive(
                f"{path} is truncated (member {member.name} is cut short); recreate it with 'docker save'"
            )

    def opener(member_name: str):  # type: ignore[no-untyped-def]
        member = members.get(member_name)
        if member is None or not member.isfile():
            raise CorruptArchive(f"{path}: the archive names {member_name!r} but does not hold it")
        return lambda: window(plain, member.offset_data, member.size)

    def read_json(member_name: str) -> Any:
        with opener(member_name)() as fh:
            try:
                return json.load(fh)
            except ValueError as exc:
                raise CorruptArchive(f"{path}: {member_name} is not valid JSON ({exc})") from exc

    label = name or path
    if "manifest.json" in members:
        manifest = read_json("manifest.json")
        if not isinstance(manifest, list) or not manifest:
            raise CorruptArchive(f"{path}: manifest.json lists no image")
        entry = manifest[0]
        config = read_json(entry["Config"])
        layer_names = list(entry.get("Layers") or [])
        tags = tuple(entry.get("RepoTags") or ())
        image_id = "sha256:" + os.path.basename(entry["Config"]).removesuffix(".json").removeprefix("sha256:")
        layers: list[Layer] = []
        diff_ids = list((config.get("rootfs") or {}).get("diff_ids") or [])
        for i, layer_name in enumerate(layer_names):
            digest = diff_ids[i] if i < len(diff_ids) else None
            size = members[layer_name].size if layer_name in members else 0
            layers.append(
                TarLayer(opener(layer_name), digest=digest, description=f"{path} layer {i + 1}", cache_salt=str(size))
            )
        return _source_from_config(label, "archive", resolved_by, image_id, tags, config, layers, diff_ids)
    if "index.json" in members:
        return _oci(label, "archive", resolved_by, lambda rel: opener(rel)(), path)
    raise CorruptArchive(f"{path} holds neither manifest.json nor index.json: not a 'docker save' archive")


def oci_source(path: str, stack: contextlib.ExitStack, *, resolved_by: str) -> Source:
    if not os.path.isfile(os.path.join(path, "index.json")):
        raise TargetNotFound(f"{path!r} is not an OCI image layout (no index.json)")

    def open_rel(rel: str) -> BinaryIO:
        full = os.path.join(path, rel)
        if not os.path.isfile(full):
            raise CorruptArchive(f"{path}: blob {rel} is missing from the OCI layout")
        return open(full, "rb")

    return _oci(path, "oci", resolved_by, open_rel, path)


def _oci(label: str, kind: str, resolved_by: str, open_rel: Any, where: str) -> Source:
    def blob(digest: str) -> str:
        algo, _, hexd = digest.partition(":")
        return f"blobs/{algo}/{hexd}"

    def load(rel: str) -> Any:
        with open_rel(rel) as fh:
            try:
                return json.load(fh)
            except ValueError as exc:
                raise CorruptArchive(f"{where}: {rel} is not valid JSON ({exc})") from exc

    index = load("index.json")
    manifest = index
    tags: tuple[str, ...] = ()
    for _ in range(4):  # follow nested indexes to the first image manifest
        entries = manifest.get("manifests")
        if not entries:
            break
        desc = entries[0]
        ref = (desc.get("annotations") or {}).get("io.containerd.image.name") or (desc.get("annotations") or {}).get(
            "org.opencontainers.image.ref.name"
        )
        if ref and not tags:
            tags = (ref,)
        manifest = load(blob(desc["digest"]))
    if "layers" not in manifest or "config" not in manifest:
        raise CorruptArchive(f"{where}: no image manifest found in index.json")
    config = load(blob(manifest["config"]["digest"]))
    diff_ids = list((config.get("rootfs") or {}).get("diff_ids") or [])
    layers: list[Layer] = []
    for i, desc in enumerate(manifest["layers"]):
        media = desc.get("mediaType", "")
        if "zstd" in media:
            raise CorruptArchive(f"{where}: layer {i + 1} is zstd-compressed, which drift cannot read")
        rel = blob(desc["digest"])
        digest = diff_ids[i] if i < len(diff_ids) else desc["digest"]
        layers.append(
            TarLayer(
                functools.partial(open_rel, rel),
                digest=digest,
                description=f"{where} layer {i + 1}",
                cache_salt=f"{desc['digest']}:{desc.get('size', '')}",
            )
        )
    image_id = manifest["config"]["digest"]
    return _source_from_config(label, kind, resolved_by, image_id, tags, config, layers, diff_ids)


def _source_from_config(
    label: str,
    kind: str,
    resolved_by: str,
    image_id: str,
    tags: tuple[str, ...],
    config: dict[str, Any],
    layers: list[Layer],
    diff_ids: list[str],
) -> Source:
    history = [
        RawHistory(
            created=str(h.get("created", "")),
            created_by=h.get("created_by", "") or "",
            comment=h.get("comment", "") or "",
            size=None,
            empty_layer=bool(h.get("empty_layer", False)),
        )
        for h in config.get("history") or []
    ]
    target = Target(kind=kind, name=label, resolved_by=resolved_by, id=image_id, tags=tags)  # type: ignore[arg-type]
    return Source(
        target=target,
        layers=layers,
        layer_ids=diff_ids,
        config=ImageConfig.from_docker(config.get("config")),
        history=history,
        raw=config,
    )
