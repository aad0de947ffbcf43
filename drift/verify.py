"""Build a Dockerfile's folder on the engine, and compare the result with an original."""

from __future__ import annotations

import contextlib
from typing import Any

from drift.buildlog import build_failed
from drift.compare import compare_inventories
from drift.errors import BuildFailed
from drift.filediff import content_differences
from drift.inventory import Inspection, Scanner, inspect_target
from drift.model import Finding
from drift.progress import Status, status


def build_image(
    engine: Any,
    context: str,
    tag: str,
    *,
    network: str | None,
    buildargs: dict[str, str] | None = None,
    dockerfile: str = "Dockerfile",
) -> str:
    """Classic-builder build of CONTEXT; returns the image id. One-line error on failure."""
    api = engine.api
    log: list[str] = []
    image_id = None
    try:
        with status(f"docker build {tag}") as shown:
            image_id = _stream(api, context, tag, dockerfile, network, buildargs, log, shown)
    except BuildFailed:
        raise
    except Exception as exc:  # docker-py APIError, connection errors
        raise build_failed(context, str(exc), log, network) from exc
    if image_id is None:
        found = engine.find_image(tag)
        if found is None:
            raise BuildFailed(f"docker build of {context} produced no image")
        image_id = found["Id"]
    return image_id


def _stream(
    api: Any,
    context: str,
    tag: str,
    dockerfile: str,
    network: str | None,
    buildargs: dict[str, str] | None,
    log: list[str],
    shown: Status,
) -> str | None:
    """Follow the build's messages: its steps on the terminal's status line, its errors raised."""
    image_id = None
    stream = api.build(
        path=context,
        dockerfile=dockerfile,
        tag=tag,
        network_mode=network,
        buildargs=buildargs or {},
        rm=True,
        forcerm=True,
        decode=True,
    )
    for item in stream:
        if "stream" in item:
            log.append(item["stream"])
            if item["stream"].startswith("Step "):
                shown.update(item["stream"])
        if "aux" in item and "ID" in item["aux"]:
            image_id = item["aux"]["ID"]
        if "error" in item:
            raise build_failed(context, item["error"], log, network)
    return image_id


def verify_rebuild(
    original: Inspection,
    context: str,
    *,
    base: str,
    tag: str,
    network: str | None,
    buildargs: dict[str, str],
    scanner: Scanner | None = None,
) -> tuple[list[Finding], Inspection]:
    from drift.sources.docker import Engine

    engine = Engine()
    build_image(engine, context, tag, network=network, buildargs=buildargs)
    with contextlib.ExitStack() as stack:
        rebuilt = inspect_target(f"image:{tag}", stack, base=base, engine=engine, scanner=scanner)
        findings = content_differences(compare_inventories(original.inventory, rebuilt.inventory), original, rebuilt)
    return findings, rebuilt
