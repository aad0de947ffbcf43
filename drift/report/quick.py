"""A container that has not changed since its last full scan is not read again.

On a local overlay2 engine (or containerd's overlayfs snapshotter), a container's own changes
are its upper folder. Its signature
is every entry's path, type, mode, owner, size, inode, mtime and ctime (ctime cannot be set
from user space: any write, chmod, chown, rename or xattr change moves it), plus the
container and image ids, drift's version and the ignore rules. The same signature as at the
last successful scan means the same findings, so the run carries them over as they are
(`persisting`) without reading a layer. Anything else (API reads, an unreadable folder)
gives no signature and a full scan.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

from drift import __version__


def signature(attrs: dict[str, Any], extra: str) -> str | None:
    if os.environ.get("DRIFT_READ", "auto") == "api":
        return None
    driver = attrs.get("GraphDriver") or {}
    upper = (driver.get("Data") or {}).get("UpperDir")
    if driver.get("Name") not in ("overlay2", "overlayfs") or not upper:  # Docker's, containerd's
        return None
    digest = hashlib.sha256(f"{__version__}|{attrs.get('Id')}|{attrs.get('Image')}|{extra}".encode())
    try:
        _walk(upper, digest)
    except OSError:
        return None
    return digest.hexdigest()


def _raise(exc: OSError) -> None:
    raise exc


def _walk(root: str, digest: Any) -> None:
    st = os.lstat(root)
    digest.update(f".|{st.st_mode}|{st.st_mtime_ns}|{st.st_ctime_ns}\n".encode())
    for top, dirs, files in os.walk(root, onerror=_raise):
        dirs.sort()
        for name in sorted(dirs + files):
            path = os.path.join(top, name)
            st = os.lstat(path)
            rel = os.path.relpath(path, root)
            digest.update(
                f"{rel}|{st.st_mode}|{st.st_uid}|{st.st_gid}|{st.st_size}|{st.st_ino}|"
                f"{st.st_mtime_ns}|{st.st_ctime_ns}\n".encode("utf-8", "surrogateescape")
            )


def image_signature(image_id: str, extra: str) -> str:
    return hashlib.sha256(f"{__version__}|image|{image_id}|{extra}".encode()).hexdigest()
