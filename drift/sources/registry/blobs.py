"""Registry layer blobs on disk, keyed by digest, and the layers read from them.

Blobs live in `blobs/sha256/HEX` of the layer cache's folder (DRIFT_CACHE_DIR ...), written
whole to a temporary name first and renamed once their size and digest are checked, so a
blob under its name is always the content its digest names. `drift cache clear` removes
them. With --no-cache (DRIFT_NO_CACHE=1), or when the cache folder is not drift's to trust
(drift/trust.py), they go to a temporary folder removed at the end of the run.

A layer's scan is cached under its diff_id (the hash of its uncompressed tar) like any other
layer's. A cache hit for a layer whose digest is only claimed is normally checked by hashing
the layer again (`TarLayer.check`); here drift records, once it has hashed a blob's content
itself, which diff_id that blob holds (`blobs/diffids/HEX`), and a later run that finds the
same blob digest and diff_id in a manifest and config needs neither the download nor the hash.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from typing import BinaryIO

from drift import cache, say
from drift.sources.registry.client import Client
from drift.sources.tarlayer import TarLayer
from drift.trust import distrust


class Blobs:
    def __init__(self, stack: contextlib.ExitStack) -> None:
        self.persistent = False
        root = None
        if os.environ.get("DRIFT_NO_CACHE") != "1":
            folder = cache.cache_dir()
            bad = distrust(folder)
            if bad is None:
                root = os.path.join(folder, "blobs")
                try:
                    for sub in ("", "sha256", "diffids"):
                        os.makedirs(os.path.join(root, sub), mode=0o700, exist_ok=True)
                    self.persistent = distrust(root) is None
                except OSError as exc:
                    say.warning(f"registry blobs cannot be kept in {root} ({exc.strerror}); using a temporary folder")
                    root = None
        if root is None:
            root = stack.enter_context(tempfile.TemporaryDirectory(prefix="drift-blobs-"))
            os.makedirs(os.path.join(root, "sha256"), mode=0o700)
            os.makedirs(os.path.join(root, "diffids"), mode=0o700)
        self.root = root
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def path(self, digest: str) -> str:
        return os.path.join(self.root, "sha256", digest.removeprefix("sha256:"))

    def fetch(self, client: Client, digest: str, size: int | None, what: str) -> str:
        """The blob's file, downloaded (and checked) unless it is already here."""
        with self._guard:
            lock = self._locks.setdefault(digest, threading.Lock())
        with lock:
            final = self.path(digest)
            if os.path.isfile(final) and (size is None or os.path.getsize(final) == size):
                return final
            fd, tmp = tempfile.mkstemp(prefix=".part-", dir=os.path.dirname(final))
            try:
                with os.fdopen(fd, "wb") as out:
                    client.blob_to(digest, size, out, what)
                os.replace(tmp, final)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
            return final

    def holds(self, blob: str) -> str | None:
        """The diff_id drift found blob BLOB to hold, when it hashed it before."""
        if not self.persistent:
            return None
        try:
            with open(os.path.join(self.root, "diffids", blob.removeprefix("sha256:")), encoding="ascii") as fh:
                return fh.read(80).strip()
        except (OSError, UnicodeDecodeError):
            return None

    def remember(self, blob: str, diff_id: str) -> None:
        if not self.persistent:
            return
        final = os.path.join(self.root, "diffids", blob.removeprefix("sha256:"))
        with contextlib.suppress(OSError):
            fd, tmp = tempfile.mkstemp(prefix=".part-", dir=os.path.dirname(final))
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(diff_id)
            os.replace(tmp, final)


class RegistryLayer(TarLayer):
    """A TarLayer over a registry blob, fetched the first time it is opened."""

    def __init__(
        self,
        blobs: Blobs,
        client: Client,
        blob: str,
        size: int | None,
        *,
        digest: str,
        description: str,
    ) -> None:
        super().__init__(
            self._open_blob,
            digest=digest,
            description=description,
            cache_salt=f"{blob}:{size if size is not None else ''}",  # as an OCI layout's layer: one scan for both
            verify=True,
        )
        self.blobs, self.client, self.blob, self.size = blobs, client, blob, size

    def _open_blob(self) -> BinaryIO:
        path = self.blobs.fetch(self.client, self.blob, self.size, self.description)
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        return os.fdopen(fd, "rb")

    def scan(self):  # type: ignore[no-untyped-def]
        scan = super().scan()
        if self.verified and self.digest:
            self.blobs.remember(self.blob, self.digest)
        return scan

    def check(self) -> None:
        if self.digest and self.blobs.holds(self.blob) == self.digest:
            return  # drift hashed this very blob before and found this diff_id
        super().check()
        if self.digest:
            self.blobs.remember(self.blob, self.digest)
