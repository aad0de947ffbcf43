"""The folder of registry layers (drift/sources/registry/blobs.py), on real files."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest

from drift.errors import DriftError
from drift.sources.registry import blobs


def test_a_layer_that_would_fill_the_disk_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRIFT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("DRIFT_NO_CACHE", raising=False)
    with contextlib.ExitStack() as stack:
        store = blobs.Store(stack)
        assert store.persistent and store.folder == str(tmp_path / "cache" / "blobs" / "layers")
        store.check_space(1 << 20, "layer 1")  # this disk has more than RESERVE free
        vfs = os.statvfs(store.folder)
        monkeypatch.setattr(blobs, "RESERVE", vfs.f_bavail * vfs.f_frsize + (1 << 40))
        with pytest.raises(DriftError, match="decompression bomb"):
            store.check_space(1 << 20, "layer 1")


def test_a_kept_tar_is_used_only_while_unchanged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRIFT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("DRIFT_NO_CACHE", raising=False)
    diff_id = "sha256:" + "ab" * 32
    with contextlib.ExitStack() as stack:
        store = blobs.Store(stack)
        part = os.path.join(store.folder, ".part-x")
        with open(part, "wb") as fh:
            fh.write(b"x" * 2048)
            fh.flush()
            path = store.keep(diff_id, part, fh.fileno(), {"/etc/a": (512, 10)})
        assert store.kept(diff_id) == {"/etc/a": (512, 10)}
        st = os.stat(path)
        with open(path, "r+b") as fh:
            fh.write(b"y")
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # the mtime put back: the ctime still moved
        assert store.kept(diff_id) is None
        with open(os.path.join(store.folder, "ab" * 32 + ".json"), "w") as fh:
            fh.write("{not json")
        assert store.kept(diff_id) is None
    with contextlib.ExitStack() as stack:  # --no-cache: a temporary folder, removed at the end
        monkeypatch.setenv("DRIFT_NO_CACHE", "1")
        store = blobs.Store(stack)
        assert not store.persistent
        folder = store.folder
        assert os.path.isdir(folder)
    assert not os.path.exists(folder)
