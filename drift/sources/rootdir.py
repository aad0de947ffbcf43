"""A root filesystem folder (an extracted `docker export`, a debootstrap, a chroot)."""

from __future__ import annotations

import os

from drift.errors import TargetNotFound
from drift.model import Target
from drift.sources.layers import DirLayer
from drift.sources.stack import Source


def dir_source(path: str, *, resolved_by: str) -> Source:
    if not os.path.isdir(path):
        raise TargetNotFound(f"{path!r} is not a folder: give the root filesystem's folder")
    root = os.path.abspath(path)
    layer = DirLayer(root, digest=None, overlay=False, description=f"folder {root}")
    target = Target(kind="dir", name=path, resolved_by=resolved_by, id=None)
    return Source(target=target, layers=[layer], layer_ids=[], config=None)
