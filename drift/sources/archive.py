"""`docker save` archives (plain, gzip or zstd, docker or OCI flavour) and OCI layout folders."""

from __future__ import annotations

import contextlib
import errno
import functools
import gzip
import hashlib
import json
import os
import re
import shutil
import stat
import tarfile
import tempfile
import zlib
from typing import Any, BinaryIO

from drift.errors import CorruptArchive, TargetNotFound, UnsafeArchive
from drift.model import ImageConfig, Target
from drift.sources.fs import Layer
from drift.sources.layers import window
from drift.sources.stack import RawHistory, Source
from drift.sources.tarlayer import TarLayer

_GZIP = b"\x1f\x8b"
_ZSTD = b"\x28\xb5\x2f\xfd"
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128}")
MAX_JSON = 16 << 20  # a manifest, index or image config larger than this is refused


def digest_path(digest: Any, where: str) -> str:
    """blobs/ALGO/HEX for a descriptor's digest; anything but sha256/sha512 of the right length is refused."""
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise UnsafeArchive(
            f"{where}: {str(digest)[:80]!r} is not a valid digest (sha256:<64 hex> or sha512:<128 hex>); "
            "refusing to use it as a path"
        )
    algo, _, hexd = digest.partition(":")
    return f"blobs/{algo}/{hexd}"


def _inside(name: Any, where: str) -> str:
    """A member name from manifest.json, checked to stay inside the archive."""
    if not isinstance(name, str) or not name:
        raise CorruptArchive(f"{where}: manifest.json names a layer or config that is not a file name")
    parts = name.removeprefix("./").split("/")
    if name.startswith("/") or ".." in parts or "\0" in name:
        raise UnsafeArchive(f"{where}: manifest.json names {name[:80]!r}, outside the archive; refusing to read it")
    return name.removeprefix("./")


def _shape(value: Any, kind: type, what: str, where: str) -> Any:
    if not isinstance(value, kind):
        raise CorruptArchive(
            f"{where}: {what} is not a JSON {'object' if kind is dict else 'list' if kind is list else 'string'}; "
            "not an image archive drift can read (recreate it with 'docker save')"
        )
    return value


def _diff_ids(config: dict[str, Any], where: str) -> list[str]:
    rootfs = config.get("rootfs")
    ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(ids, list) or not all(isinstance(d, str) for d in ids):
        raise CorruptArchive(f"{where}: the image config has no list of layer diff_ids (rootfs.diff_ids)")
    for d in ids:
        if not _DIGEST.fullmatch(d):
            raise UnsafeArchive(f"{where}: the image config lists {d[:80]!r}, which is not a valid layer digest")
    return ids


def _magic(path: str, n: int = 4) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(n)


def _plain_copy(path: str, stack: contextlib.ExitStack, *, zstd: bool = False) -> str:
    """A gzipped or zstd-compressed archive is decompressed once into a temporary file (random access)."""
    tmpdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="drift-"))
    out = os.path.join(tmpdir, "archive.tar")
    kind = "zstd" if zstd else "gzip"
    try:
        with open(path, "rb") as raw, _inflating(raw, path, zstd) as src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    except (OSError, EOFError, zlib.error, ValueError) as exc:
        raise CorruptArchive(f"{path} is a corrupt or truncated {kind} archive ({exc}); recreate it") from exc
    return out


def _inflating(raw: BinaryIO, path: str, zstd: bool) -> Any:
    if zstd:
        from drift.sources import zstd as zstd_stream  # only for a zstd archive

        return zstd_stream.reader(raw, path)
    return gzip.GzipFile(fileobj=raw)


def archive_source(path: str, stack: contextlib.ExitStack, *, resolved_by: str, name: str | None = None) -> Source:
    if not os.path.isfile(path):
        raise TargetNotFound(f"no archive at {path!r}: give a file made by 'docker save -o FILE IMAGE'")
    head = _magic(path)
    plain = _plain_copy(path, stack, zstd=head.startswith(_ZSTD)) if head.startswith((_GZIP, _ZSTD)) else path
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

    def read_bytes(member_name: str) -> bytes:
        member = members.get(member_name)
        if member is not None and member.size > MAX_JSON:
            raise CorruptArchive(f"{path}: {member_name} is {member.size} bytes, too large for image metadata")
        with opener(member_name)() as fh:
            return fh.read()

    def read_json(member_name: str) -> Any:
        return _parse_json(read_bytes(member_name), f"{path}: {member_name}")

    label = name or path
    if "manifest.json" in members:
        manifest = _shape(read_json("manifest.json"), list, "manifest.json", path)
        if not manifest:
            raise CorruptArchive(f"{path}: manifest.json lists no image")
        entry = _shape(manifest[0], dict, "the first entry of manifest.json", path)
        config_name = _inside(entry.get("Config"), path)
        config_bytes = read_bytes(config_name)
        config = _shape(_parse_json(config_bytes, f"{path}: {config_name}"), dict, "the image config", path)
        layer_names = [_inside(n, path) for n in _shape(entry.get("Layers") or [], list, "Layers", path)]
        tags = (
            tuple(t for t in entry.get("RepoTags") or () if isinstance(t, str))
            if isinstance(entry.get("RepoTags"), list)
            else ()
        )
        image_id = "sha256:" + hashlib.sha256(config_bytes).hexdigest()  # what the image id is, not what a name says
        diff_ids = _diff_ids(config, path)
        if len(diff_ids) != len(layer_names):
            raise CorruptArchive(
                f"{path}: manifest.json lists {len(layer_names)} layer(s) but the image config {len(diff_ids)}"
            )
        layers: list[Layer] = []
        for i, layer_name in enumerate(layer_names):
            size = members[layer_name].size if layer_name in members else 0
            layers.append(
                TarLayer(
                    opener(layer_name),
                    digest=diff_ids[i],
                    description=f"{path} layer {i + 1}",
                    cache_salt=str(size),
                    verify=True,
                )
            )
        return _source_from_config(label, "archive", resolved_by, image_id, tags, config, layers, diff_ids)
    if "index.json" in members:
        return _oci(label, "archive", resolved_by, lambda rel: opener(rel)(), path)
    raise CorruptArchive(f"{path} holds neither manifest.json nor index.json: not a 'docker save' archive")


def oci_source(path: str, stack: contextlib.ExitStack, *, resolved_by: str) -> Source:
    if not os.path.isfile(os.path.join(path, "index.json")):
        raise TargetNotFound(f"{path!r} is not an OCI image layout (no index.json)")

    def open_rel(rel: str) -> BinaryIO:
        return _open_in_layout(path, rel)

    return _oci(path, "oci", resolved_by, open_rel, path)


def _parse_json(data: bytes, what: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise CorruptArchive(f"{what} is not valid JSON ({str(exc)[:100]})") from None


def _open_in_layout(root: str, rel: str) -> BinaryIO:
    """A file of an OCI layout folder, never through a symlink (a layout may come from anyone)."""
    where = root
    for part in rel.split("/")[:-1]:
        where = os.path.join(where, part)
        if not stat.S_ISDIR(_lstat(where, root, rel).st_mode):
            raise UnsafeArchive(f"{root}: {rel} goes through {where}, which is not a folder; refusing to read it")
    full = os.path.join(root, rel)
    try:
        fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafeArchive(f"{root}: {rel} is a symbolic link, not a regular file; refusing to read it") from exc
        raise CorruptArchive(
            f"{root}: blob {rel} is missing from the OCI layout or unreadable ({exc.strerror})"
        ) from exc
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UnsafeArchive(f"{root}: {rel} is not a regular file; refusing to read it")
    return os.fdopen(fd, "rb")


def _lstat(path: str, root: str, rel: str) -> os.stat_result:
    try:
        return os.lstat(path)
    except OSError as exc:
        raise CorruptArchive(f"{root}: blob {rel} is missing from the OCI layout ({exc.strerror})") from exc


def _descriptor(value: Any, what: str, where: str) -> dict[str, Any]:
    desc = _shape(value, dict, what, where)
    digest_path(desc.get("digest"), where)
    return desc  # type: ignore[no-any-return]


def _oci(label: str, kind: str, resolved_by: str, open_rel: Any, where: str) -> Source:
    def load(rel: str) -> Any:
        with open_rel(rel) as fh:
            data = fh.read(MAX_JSON + 1)
        if len(data) > MAX_JSON:
            raise CorruptArchive(f"{where}: {rel} is larger than {MAX_JSON >> 20} MB, too large for image metadata")
        return _parse_json(data, f"{where}: {rel}")

    manifest = _shape(load("index.json"), dict, "index.json", where)
    tags: tuple[str, ...] = ()
    for _ in range(4):  # follow nested indexes to the first image manifest
        entries = manifest.get("manifests")
        if not entries:
            break
        desc = _descriptor(_shape(entries, list, "manifests", where)[0], "a manifest descriptor", where)
        annotations = desc.get("annotations")
        if not isinstance(annotations, dict):
            annotations = {}
        ref = annotations.get("io.containerd.image.name") or annotations.get("org.opencontainers.image.ref.name")
        if isinstance(ref, str) and ref and not tags:
            tags = (ref,)
        manifest = _shape(load(digest_path(desc["digest"], where)), dict, "an image manifest", where)
    if "layers" not in manifest or "config" not in manifest:
        raise CorruptArchive(f"{where}: no image manifest found in index.json")
    config_desc = _descriptor(manifest["config"], "the config descriptor", where)
    descs = [_descriptor(d, "a layer descriptor", where) for d in _shape(manifest["layers"], list, "layers", where)]
    config = _shape(load(digest_path(config_desc["digest"], where)), dict, "the image config", where)
    diff_ids = _diff_ids(config, where)
    if len(diff_ids) != len(descs):
        raise CorruptArchive(f"{where}: the manifest lists {len(descs)} layer(s) but the image config {len(diff_ids)}")
    layers: list[Layer] = []
    for i, desc in enumerate(descs):
        layers.append(
            TarLayer(
                functools.partial(open_rel, digest_path(desc["digest"], where)),
                digest=diff_ids[i],
                description=f"{where} layer {i + 1}",
                cache_salt=f"{desc['digest']}:{desc.get('size', '')}",
                verify=True,
            )
        )
    image_id = config_desc["digest"]
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
            created_by=_text(h.get("created_by")),
            comment=_text(h.get("comment")),
            size=None,
            empty_layer=bool(h.get("empty_layer", False)),
        )
        for h in _list(config.get("history"))
        if isinstance(h, dict)
    ]
    settings = config.get("config")
    _check_settings(settings, label)
    target = Target(kind=kind, name=label, resolved_by=resolved_by, id=image_id, tags=tags)  # type: ignore[arg-type]
    return Source(
        target=target,
        layers=layers,
        layer_ids=diff_ids,
        config=ImageConfig.from_docker(settings),
        history=history,
        raw=config,
    )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


_SETTINGS: dict[str, tuple[type, ...]] = {
    "Env": (list,),
    "Cmd": (list, str),
    "Entrypoint": (list, str),
    "Shell": (list, str),
    "WorkingDir": (str,),
    "User": (str,),
    "StopSignal": (str,),
    "ExposedPorts": (dict,),
    "Volumes": (dict,),
    "Labels": (dict,),
}


def _check_settings(settings: Any, where: str) -> None:
    """The image config's settings have the types Docker writes, or the archive is refused."""
    if settings is None:
        return
    if not isinstance(settings, dict):
        raise CorruptArchive(f"{where}: the image config's 'config' is not a JSON object")
    for key, kinds in _SETTINGS.items():
        value = settings.get(key)
        if value is None:
            continue
        ok = isinstance(value, kinds)
        if ok and isinstance(value, list):
            ok = all(isinstance(v, str) for v in value)
        if ok and isinstance(value, dict) and key == "Labels":
            ok = all(isinstance(v, str) for v in value.values())
        if not ok:
            raise CorruptArchive(f"{where}: the image config's {key} has the wrong type ({type(value).__name__})")


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
