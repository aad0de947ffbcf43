"""Build a Dockerfile's folder on the engine, and compare the result with an original.

A build drift makes (`snapshot --verify`, `diff --build`) is removed once it has been
read, with the untagged parent images the classic builder made for each step, unless
the caller keeps it. Only images this build created are removed: the walk down the
parents stops at the first image that existed before the build.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from typing import Any

from drift.buildlog import build_failed
from drift.compare import compare_inventories
from drift.diff.file_lines import content_differences
from drift.errors import BuildFailed
from drift.inventory import Inspection, Scanner, inspect_target
from drift.model import Finding, short_id
from drift.progress import Status, status

_STEP = re.compile(r"^ ---> ([0-9a-f]{12,64})\s*$")


@dataclass(frozen=True, slots=True)
class Built:
    tag: str
    id: str
    created: tuple[str, ...]  # image ids this build made, top first
    tag_before: str | None  # the image TAG named before the build, if any


@dataclass(frozen=True, slots=True)
class Leftover:
    """What a build left on the engine: the kept image, or one drift could not remove."""

    tag: str
    id: str
    why: str

    def message(self) -> str:
        return f"left image {self.tag} ({short_id(self.id)}) on the engine: {self.why}"


def _image_ids(api: Any) -> set[str]:
    try:
        return set(api.images(all=True, quiet=True))
    except Exception:  # a listing failure only makes the clean-up more careful
        return set()


def _chain(api: Any, top: str | None, before: set[str]) -> tuple[str, ...]:
    """TOP and its parents down to the first image that existed before the build."""
    out: list[str] = []
    current = top
    while current and len(out) < 1000:
        try:
            attrs = api.inspect_image(current)
        except Exception:
            break
        if attrs["Id"] in before or not before:
            break
        out.append(attrs["Id"])
        current = attrs.get("Parent") or None
    return tuple(out)


def build_image(
    engine: Any,
    context: str,
    tag: str,
    *,
    network: str | None,
    buildargs: dict[str, str] | None = None,
    dockerfile: str = "Dockerfile",
    cache: bool = True,
) -> Built:
    """Classic-builder build of CONTEXT (CACHE: the engine's build cache may serve steps it has
    built before). One-line error on failure (and no image left)."""
    api = engine.api
    before = _image_ids(api)
    old = engine.find_image(tag)
    log: list[str] = []
    image_id = None
    try:
        with status(f"docker build {tag}") as shown:
            image_id = _stream(api, context, tag, dockerfile, network, buildargs, log, shown, cache)
    except BaseException as exc:
        _remove(api, None, _chain(api, image_id or _last_step(log), before))
        if isinstance(exc, BuildFailed) or not isinstance(exc, Exception):
            raise
        raise build_failed(context, str(exc), log, network) from exc
    if image_id is None:
        found = engine.find_image(tag)
        if found is None:
            raise BuildFailed(f"docker build of {context} produced no image")
        image_id = found["Id"]
    return Built(tag, image_id, _chain(api, image_id, before), old["Id"] if old else None)


def _last_step(log: list[str]) -> str | None:
    """The image of the last step the classic builder finished (its ' ---> ID' line)."""
    for line in reversed(log):
        step = _STEP.match(line)
        if step:
            return step.group(1)
    return None


def _remove(api: Any, tag: str | None, ids: tuple[str, ...]) -> list[str]:
    """Remove TAG, then IDS top first (never pruning further); returns what could not go."""
    problems = []
    if tag is not None:
        try:
            api.remove_image(tag, noprune=True)
        except Exception as exc:
            problems.append(" ".join(str(exc).split())[-200:])
    for image_id in ids:
        with contextlib.suppress(Exception):  # still used (a container, a child image): it stays
            api.remove_image(image_id, noprune=True)
    return problems


def remove_build(engine: Any, built: Built) -> Leftover | None:
    """Undo a build: its tag (given back to the image it named before) and the images it made."""
    api = engine.api
    if built.tag_before == built.id:
        return None  # the build made nothing new: the tag already named this image
    problems = _remove(api, built.tag, built.created)
    if built.tag_before is not None:
        repo, _, name = built.tag.rpartition(":")
        if not repo or "/" in name:
            repo, name = built.tag, "latest"
        with contextlib.suppress(Exception):
            api.tag(built.tag_before, repo, name)
    if problems:
        return Leftover(built.tag, built.id, f"drift could not remove it ({problems[0]})")
    return None


def _stream(
    api: Any,
    context: str,
    tag: str,
    dockerfile: str,
    network: str | None,
    buildargs: dict[str, str] | None,
    log: list[str],
    shown: Status,
    cache: bool = True,
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
        nocache=not cache,
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
    keep_image: bool = False,
) -> tuple[list[Finding], Inspection, Leftover | None]:
    """Build CONTEXT as TAG, compare it with ORIGINAL; the build is removed unless KEEP_IMAGE."""
    from drift.sources.engine_kinds import default

    engine = default()
    built = build_image(engine, context, tag, network=network, buildargs=buildargs)
    left: Leftover | None = Leftover(tag, built.id, "kept (--keep-image)") if keep_image else None
    try:
        with contextlib.ExitStack() as stack:
            rebuilt = inspect_target(f"image:{tag}", stack, base=base, engine=engine, scanner=scanner)
            findings = content_differences(
                compare_inventories(original.inventory, rebuilt.inventory), original, rebuilt
            )
    finally:
        if not keep_image:
            left = remove_build(engine, built)
    return findings, rebuilt, left
