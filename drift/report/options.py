"""What one `drift report` run is asked to do, and the small services it is given."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from drift.report.engines import EngineSpec
from drift.report.scan import DockerfileMap
from drift.report.targets import Selection

DEFAULT_FAIL_ON = ("new", "updated")
FAIL_ON_CHOICES = ("new", "updated", "persisting", "stale", "resolved", "removed", "open", "none")


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class Options:
    selection: Selection = field(default_factory=Selection)
    fail_on: tuple[str, ...] = DEFAULT_FAIL_ON
    fail_on_first_run: bool = False
    ignore: tuple[str, ...] = ()
    ignore_folders: tuple[str, ...] = (".",)
    dockerfiles: tuple[DockerfileMap, ...] = ()
    store: str | None = None
    lock_timeout: float = 300.0
    no_cache: bool = False
    keep: float | None = None  # seconds of detail to keep (prune after the run)
    engine_name: str = "default"
    project: str = "."  # drift.toml's folder (else the current one): image labels may name files here only
    engines: tuple[EngineSpec, ...] = ()  # none: the engine of the current Docker context
    jobs: int = 4  # engines scanned at once
    engine_timeout: float = 120.0  # seconds an engine may take to answer one request
    sbom: bool = False  # a CycloneDX BOM of each target read (-o cyclonedx:DIR): every target is read

    def to_json(self) -> dict[str, Any]:
        sel = self.selection
        return {
            "targets": list(sel.names),
            "all": sel.all,
            "filters": list(sel.filters),
            "images": sel.images,
            "fail_on": list(self.fail_on),
            "fail_on_first_run": self.fail_on_first_run,
            "ignore": list(self.ignore),
            "dockerfiles": [{"image": d.image, "path": d.path} for d in self.dockerfiles],
            "engines": [{"name": e.name, "endpoint": e.endpoint.host} for e in self.engines],
        }
