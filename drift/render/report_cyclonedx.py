"""`drift report -o cyclonedx:DIR`: one CycloneDX BOM per target read, written into DIR as
ENGINE_KIND_NAME.cdx.json (drift/render/cyclonedx.py builds each, from the target's inventory
and its findings of this run). A file name is made of safe characters only: a target's name
never makes a path."""

from __future__ import annotations

import hashlib
import os
import re

from drift.errors import OutputError

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def file_name(key: str) -> str:
    """ENGINE/KIND/NAME as a file name of its own (a short hash keeps apart names that differ
    only by characters that are replaced)."""
    safe = _UNSAFE.sub("_", key.replace("/", "_", 2)).strip("._") or "target"
    if safe != key.replace("/", "_", 2):
        safe += "-" + hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return safe[:200] + ".cdx.json"


def write(folder: str, boms: dict[str, str]) -> list[str]:
    """Each BOM written whole (atomically); FOLDER is made when missing. Returns the paths."""
    from drift.output import write_text

    if os.path.lexists(folder) and not os.path.isdir(folder):
        raise OutputError(f"{folder} is not a folder: cyclonedx:DIR writes one BOM per target into a folder")
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot make the folder {folder}: {exc.strerror}") from exc
    out = []
    for key in sorted(boms):
        path = os.path.join(folder, file_name(key))
        write_text(path, boms[key])
        out.append(path)
    return out
