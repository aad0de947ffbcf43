"""Where each package came from: the layer that last wrote its record, and the distribution
the image says it is (/etc/os-release). What an SBOM needs beside the inventory
(drift/render/cyclonedx.py); read from the view, nothing run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from drift.inventory import apt
from drift.model import Inventory
from drift.sources.fs import View

if TYPE_CHECKING:
    from drift.inventory import Inspection

OS_RELEASE = ("/etc/os-release", "/usr/lib/os-release")
MAX_OS_RELEASE = 64 << 10


@dataclass(frozen=True, slots=True)
class Provenance:
    """The facts of a target an inventory does not hold."""

    distro_id: str | None = None  # os-release ID (debian, ubuntu ...)
    distro_version: str | None = None  # os-release VERSION_ID (12, 22.04 ...)
    layer_ids: tuple[str, ...] = ()  # diff IDs in order (a container's own layer: container:ID)
    package_layers: tuple[tuple[str, int], ...] = ()  # "apt:KEY" / "pip:KEY" -> layer index

    def layer_of(self, key: str) -> int | None:
        return dict(self.package_layers).get(key)


def sbom_input(insp: Inspection) -> tuple[Inventory, Provenance]:
    """What a BOM is written from: the inventory as outputs show it (secrets redacted) and its
    provenance, read while the inspection's layers are open."""
    from drift.secrets import redact_inventory

    inv = redact_inventory(insp.inventory)
    return inv, provenance(insp.top, inv, insp.source.layer_ids)


def provenance(view: View, inv: Inventory, layer_ids: list[str]) -> Provenance:
    distro_id, distro_version = os_release(view)
    return Provenance(
        distro_id=distro_id,
        distro_version=distro_version,
        layer_ids=tuple(layer_ids),
        package_layers=tuple(sorted(package_layers(view, inv).items())),
    )


def os_release(view: View) -> tuple[str | None, str | None]:
    """ID and VERSION_ID of the image's os-release (the first of /etc and /usr/lib that is a file)."""
    for path in OS_RELEASE:
        data = view.read(view.resolve(path), MAX_OS_RELEASE)  # a link (Debian's) is resolved inside the root
        if data is not None:
            values = parse_os_release(data.decode("utf-8", errors="replace"))
            return values.get("ID"), values.get("VERSION_ID")
    return None, None


def parse_os_release(text: str) -> dict[str, str]:
    """os-release(5): KEY=VALUE lines, values optionally quoted (shell quoting, no expansion)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if not sep or not key.isidentifier():
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        out[key] = value
    return out


def package_layers(view: View, inv: Inventory) -> dict[str, int]:
    """The layer that last wrote each package's record: dpkg's file list `info/NAME[:ARCH].list`
    (rewritten on every install or upgrade; a status.d file for distroless), a distribution's
    METADATA (PKG-INFO for eggs). A package whose record is gone has none."""
    out: dict[str, int] = {}
    for p in inv.apt:
        where = [f"{apt.INFO}/{p.name}:{p.architecture}.list", f"{apt.INFO}/{p.name}.list"]
        if p.database != apt.STATUS:
            where.insert(0, p.database)
        index = _first_layer(view, where)
        if index is not None:
            out[f"apt:{p.key}"] = index
    for d in inv.pip:
        meta = d.metadata_path
        index = _first_layer(view, [f"{meta}/METADATA", f"{meta}/PKG-INFO", meta])
        if index is not None:
            out[f"pip:{d.key}"] = index
    return out


def _first_layer(view: View, paths: list[str]) -> int | None:
    for path in paths:
        index = view.layer_of.get(path)
        if index is not None:
            return index
    return None
