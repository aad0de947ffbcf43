"""Tiny root filesystems and layers built in tests."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from drift.sources.fs import View
from drift.sources.layers import DirLayer
from drift.sources.tarlayer import TarLayer

FIXTURES = Path(__file__).parent / "fixtures"


def make_root(root: Path, files: dict[str, bytes | str]) -> Path:
    for rel, data in files.items():
        path = root / rel.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
    return root


def root_view(root: Path) -> View:
    layer = DirLayer(str(root), digest=None, overlay=False, description="test root")
    return View([layer.scan()], [layer])


def tar_layer(members: dict[str, bytes | str | None], *, links: dict[str, str] | None = None) -> TarLayer:
    """A layer from a dict: path -> content (None makes a folder)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name.lstrip("/"))
            info.mtime = 1
            if data is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
            else:
                raw = data.encode() if isinstance(data, str) else data
                info.size = len(raw)
                info.mode = 0o644
                tar.addfile(info, io.BytesIO(raw))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name.lstrip("/"))
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
    blob = buf.getvalue()
    return TarLayer(lambda: io.BytesIO(blob), digest=None, description="test layer")


def view_of(*layers: TarLayer) -> View:
    return View([layer.scan() for layer in layers], list(layers))
