"""An image in a registry, read through the OCI distribution API: no engine involved.

`registry:HOST[:PORT]/REPO:TAG` or `registry:HOST[:PORT]/REPO@sha256:...` becomes a `Source`
like an OCI layout does: the manifest (an index or manifest list is resolved for the wanted
platform, `--platform` / DRIFT_PLATFORM, linux/amd64 by default), the image config, and one
`RegistryLayer` per layer: a `TarLayer` over the layer's uncompressed tar, fetched only when it is
needed (streamed: the blob counted and hashed, inflated, the tar hashed, written and scanned in
one pass, never whole in memory) into the folder beside the layer cache (`blobs.py`), kept under
its diff_id once both digests match. Manifests given by digest and
every blob are checked against their digests; a tag's manifest is what the registry says over
verified TLS, as for `docker pull`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from typing import Any

from drift.errors import CorruptArchive, DriftError, TargetNotFound
from drift.sources.archive import MAX_JSON, _descriptor, _diff_ids, _shape, _source_from_config, digest_path
from drift.sources.fs import Layer
from drift.sources.registry.blobs import RegistryLayer, Store
from drift.sources.registry.client import Client
from drift.sources.registry.reference import Reference, parse
from drift.sources.stack import Source

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
ACCEPT = ", ".join((OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST))
LAYER_TYPES = {
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.docker.image.rootfs.diff.tar.zstd",
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd",
}
PLATFORM_ENV = "DRIFT_PLATFORM"
DEFAULT_PLATFORM = "linux/amd64"
__all__ = ["Reference", "parse", "registry_source"]


def platform() -> tuple[str, str, str | None, bool]:
    """(os, architecture, variant, whether the user chose it) from --platform / DRIFT_PLATFORM."""
    text = os.environ.get(PLATFORM_ENV) or ""
    parts = (text or DEFAULT_PLATFORM).split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise DriftError(f"--platform {text!r} is not OS/ARCH[/VARIANT] (e.g. linux/amd64, linux/arm64, linux/arm/v7)")
    return parts[0], parts[1], parts[2] if len(parts) == 3 else None, bool(text)


def registry_source(text: str, stack: contextlib.ExitStack, *, resolved_by: str) -> Source:
    ref = parse(text)
    client = Client(ref)
    stack.callback(client.close)
    manifest, digest, index_digest = _image_manifest(client, ref)
    config_desc = _descriptor(manifest.get("config"), "the config descriptor", str(ref))
    descs = [
        _descriptor(d, "a layer descriptor", str(ref)) for d in _shape(manifest.get("layers"), list, "layers", str(ref))
    ]
    config_bytes = client.blob_bytes(config_desc["digest"], MAX_JSON)
    config = _shape(_json(config_bytes, f"{ref}: the image config"), dict, "the image config", str(ref))
    _check_platform(config, ref)
    diff_ids = _diff_ids(config, str(ref))
    if len(diff_ids) != len(descs):
        raise CorruptArchive(f"{ref}: the manifest lists {len(descs)} layer(s) but the image config {len(diff_ids)}")
    store = Store(stack)
    layers: list[Layer] = []
    for i, desc in enumerate(descs):
        media = desc.get("mediaType")
        if media not in LAYER_TYPES:
            raise CorruptArchive(
                f"{ref}: layer {i + 1} is a {str(media)[:80]!r} blob, which drift does not read "
                "(a foreign, non-distributable or encrypted layer)"
            )
        size = desc.get("size")
        layers.append(
            RegistryLayer(
                store,
                client,
                desc["digest"],
                size if isinstance(size, int) and size >= 0 else None,
                digest=diff_ids[i],
                description=f"{ref} layer {i + 1}",
            )
        )
    source = _source_from_config(
        str(ref), "registry", resolved_by, config_desc["digest"], (str(ref),), config, layers, diff_ids
    )
    source.target = _with_digest(source, f"{ref.host}/{ref.repository}@{index_digest or digest}")
    return source


def _with_digest(source: Source, repo_digest: str) -> Any:
    import dataclasses

    return dataclasses.replace(source.target, digest=repo_digest)


def _json(data: bytes, what: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise CorruptArchive(f"{what} is not valid JSON ({str(exc)[:100]})") from None


def _fetch(client: Client, ref: Reference, reference: str) -> tuple[dict[str, Any], str, str]:
    body, media = client.manifest(reference, ACCEPT, MAX_JSON)
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    if reference.startswith("sha256:") and digest != reference:
        raise CorruptArchive(f"{ref}: the manifest {reference} the registry sent hashes to {digest}; refused")
    doc = _shape(_json(body, f"{ref}: the manifest"), dict, "the manifest", str(ref))
    if doc.get("schemaVersion") == 1 or "signatures" in doc:
        raise CorruptArchive(
            f"{ref} has a schema 1 manifest, which drift does not read: push it again with a current docker"
        )
    return doc, str(doc.get("mediaType") or media), digest


def _image_manifest(client: Client, ref: Reference) -> tuple[dict[str, Any], str, str | None]:
    """The image manifest for the platform, its digest, and the index's digest when there was one."""
    doc, media, digest = _fetch(client, ref, ref.reference)
    if media not in (OCI_INDEX, DOCKER_LIST) and "manifests" not in doc:
        return doc, digest, None
    index_digest = digest
    os_, arch, variant, _ = platform()
    entries = [e for e in _shape(doc.get("manifests"), list, "manifests", str(ref)) if isinstance(e, dict)]
    offered: list[str] = []
    chosen = None
    for entry in entries:
        plat = entry.get("platform")
        if not isinstance(plat, dict) or plat.get("os") == "unknown":
            continue  # attestations (unknown/unknown) and entries without a platform
        name = "/".join(str(p) for p in (plat.get("os"), plat.get("architecture"), plat.get("variant")) if p)
        offered.append(name)
        same = plat.get("os") == os_ and plat.get("architecture") == arch
        if same and (variant is None or plat.get("variant") == variant):
            chosen = chosen or entry
    if chosen is None:
        wanted = "/".join(p for p in (os_, arch, variant) if p)
        raise TargetNotFound(
            f"{ref} has no {wanted} image (it has: {', '.join(sorted(set(offered))) or 'none'}): pass --platform"
        )
    desc = _descriptor(chosen, "a manifest descriptor", str(ref))
    digest_path(desc["digest"], str(ref))
    inner, media, digest = _fetch(client, ref, desc["digest"])
    if media in (OCI_INDEX, DOCKER_LIST) or "manifests" in inner:
        raise CorruptArchive(f"{ref}: the index names another index for its platform; drift reads one level")
    return inner, digest, index_digest


def _check_platform(config: dict[str, Any], ref: Reference) -> None:
    os_, arch, variant, chosen = platform()
    have_os, have_arch = config.get("os"), config.get("architecture")
    if chosen and (have_os, have_arch) != (os_, arch) and have_os and have_arch:
        raise TargetNotFound(
            f"{ref} is a {have_os}/{have_arch} image, not {os_}/{arch}{'/' + variant if variant else ''}: "
            "drop --platform or name another image"
        )
