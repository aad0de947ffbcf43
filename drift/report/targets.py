"""Choosing what a run looks at: containers like `docker ps`, images named or in use.

    select(engine, Selection) -> [Selected]   (light listing rows; each is inspected at its turn)

Docker's own filter syntax (`label=...`, `name=...`, `ancestor=...`, `status=...`) is passed
to the engine as it is, so it means exactly what it means to `docker ps`. Arguments name
containers or images, globs allowed. `drift.enable=false` on a container or image skips it.
"""

from __future__ import annotations

import fnmatch
import json
import sys
from dataclasses import dataclass, field
from typing import Any

from drift.errors import DriftError, EngineUnreachable
from drift.model import short_id

SKIP_LABEL = "drift.enable"
DOCKERFILE_LABEL = "drift.dockerfile"


@dataclass(frozen=True, slots=True)
class Selection:
    names: tuple[str, ...] = ()
    all: bool = False
    filters: tuple[str, ...] = ()
    images: bool = False

    def key(self) -> str:
        """What makes two runs 'the same selection' (for `previous_run` and `removed`)."""
        return json.dumps(
            {"names": sorted(self.names), "all": self.all, "filters": sorted(self.filters), "images": self.images},
            sort_keys=True,
        )

    def filter_dict(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for item in self.filters:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise DriftError(f"--filter {item!r}: use KEY=VALUE as docker does (label=app=web, name=^web-)")
            out.setdefault(key.strip(), []).append(value)
        return out


@dataclass(frozen=True, slots=True)
class Selected:
    kind: str  # container | image
    name: str
    id: str
    image: str | None = None
    image_id: str | None = None
    labels: dict[str, str] = field(default_factory=dict)


def _call(what: str, fn: Any) -> Any:
    try:
        return fn()
    except DriftError:
        raise
    except Exception as exc:
        # a refusal (the SDK's APIError, or drift's own socket reader's ApiError: both say why in
        # `explanation`); the SDK is never imported for this (a containerd report does not load it)
        errors = sys.modules.get("docker.errors")
        if hasattr(exc, "explanation") or (errors is not None and isinstance(exc, errors.APIError)):
            raise DriftError(f"the Docker engine refused to {what}: {getattr(exc, 'explanation', '') or exc}") from exc
        raise EngineUnreachable(f"lost the Docker engine while trying to {what}: {exc}") from exc


def _skipped(labels: dict[str, str] | None) -> bool:
    return (labels or {}).get(SKIP_LABEL, "").strip().lower() in ("false", "0", "no", "off")


def _matches(name: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def _container(row: dict[str, Any]) -> Selected:
    names = [n.lstrip("/") for n in row.get("Names") or ()]
    name = min(names, key=len) if names else short_id(row["Id"])
    return Selected(
        kind="container",
        name=name,
        id=row["Id"],
        image=row.get("Image"),
        image_id=row.get("ImageID"),
        labels=dict(row.get("Labels") or {}),
    )


def select(engine: Any, sel: Selection) -> list[Selected]:
    api = engine.api
    filters = sel.filter_dict()
    listed = _call("list containers", lambda: api.containers(all=sel.all or bool(sel.names), filters=filters))
    containers = [_container(r) for r in listed]
    if sel.names:
        containers = [c for c in containers if _matches(c.name, sel.names) or c.id.startswith(sel.names)]
    containers = sorted((c for c in containers if not _skipped(c.labels)), key=lambda c: c.name)
    images: dict[str, Selected] = {}
    if sel.names:
        taken = {c.name for c in containers}
        wanted = tuple(n for n in sel.names if n not in taken)
        for row in _call("list images", lambda: api.images()) if wanted else ():
            for tag in row.get("RepoTags") or ():
                if tag != "<none>:<none>" and (_matches(tag, wanted) or _matches(tag.removesuffix(":latest"), wanted)):
                    images[tag] = Selected(
                        "image", tag, row["Id"], image=tag, image_id=row["Id"], labels=dict(row.get("Labels") or {})
                    )
    if sel.images:
        for c in containers:
            if c.image and c.image_id and c.image not in images:
                name = c.image if not c.image.startswith("sha256:") else short_id(c.image)
                images[name] = Selected("image", name, c.image_id, image=name, image_id=c.image_id)
    picked = [i for i in images.values() if not _skipped(i.labels) and not _image_skipped(engine, i)]
    return containers + sorted(picked, key=lambda i: i.name)


def _image_skipped(engine: Any, image: Selected) -> bool:
    if image.labels:
        return False
    attrs = engine.find_image(image.id)
    return attrs is not None and _skipped((attrs.get("Config") or {}).get("Labels"))


def exists(engine: Any, kind: str, name: str) -> bool:
    """Whether the engine still has a target by this name (for `removed`)."""
    found = engine.find_container(name) if kind == "container" else engine.find_image(name, fresh=True)
    return found is not None


def missing_names(sel: Selection, found: list[Selected]) -> list[str]:
    """Arguments without glob characters that named nothing."""
    names = {f.name for f in found} | {f.name.removesuffix(":latest") for f in found}
    return [n for n in sel.names if not any(ch in n for ch in "*?[") and n not in names]
