"""Package files against their records (drift/inventory/verify.py), on tiny root folders."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

import pytest

from drift.inventory import verify
from drift.model import PipPackage
from drift.sources.fs import View
from drift.sources.layers import DirLayer
from tests.unit.helpers import make_root

LIB = "usr/lib/python3/dist-packages/mod"
SITE = "/usr/local/lib/python3.11/dist-packages"


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def record(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def image(tmp_path: Path, *, edited: bool, digest: str | None = "sha256:" + "1" * 64) -> View:
    """One layer: an apt package `mod` (md5sums) and a pip distribution `req` (RECORD)."""
    good = b"print('ok')\n"
    files = {
        f"{LIB}/a.py": good,
        f"{LIB}/b.py": good + (b"# hot fix\n" if edited else b""),
        "var/lib/dpkg/info/mod.list": f"/{LIB}/a.py\n/{LIB}/b.py\n",
        "var/lib/dpkg/info/mod.md5sums": f"{md5(good)}  {LIB}/a.py\n{md5(good)}  {LIB}/b.py\n",
        f"{SITE[1:]}/req/api.py": good + (b"x" if edited else b""),
        f"{SITE[1:]}/req-1.0.dist-info/RECORD": f"req/api.py,{record(good)},{len(good)}\nreq/__pycache__/x.pyc,,\n",
    }
    root = make_root(tmp_path / ("edited" if edited else "clean"), files)
    os.utime(root / f"{LIB}/b.py", (1, 1))  # an mtime older than the install: only a hash can tell
    layer = DirLayer(str(root), digest=digest, overlay=False, description="test")
    return View([layer.scan()], [layer])


def pkg() -> PipPackage:
    return PipPackage("req", "1.0", SITE, True, "/usr/local", f"{SITE}/req-1.0.dist-info")


def records(view: View) -> dict[str, list[verify.Recorded]]:
    out = verify.apt_records(view, None, None)
    for path, recs in verify.pip_records(view, [pkg()], None).items():
        out.setdefault(path, []).extend(recs)
    return out


def test_full_check_finds_each_edit_and_nothing_else(tmp_path: Path) -> None:
    clean = image(tmp_path, edited=False)
    assert verify.check(clean, records(clean), full=True).modified == {}
    view = image(tmp_path, edited=True)
    found = verify.check(view, records(view), full=True).modified
    assert set(found) == {f"/{LIB}/b.py", f"{SITE}/req/api.py"}
    assert found[f"/{LIB}/b.py"].package == "apt:mod" and found[f"/{LIB}/b.py"].algorithm == "md5"
    assert found[f"{SITE}/req/api.py"].package == "pip:req" and found[f"{SITE}/req/api.py"].algorithm == "sha256"


def test_the_screen_hashes_only_what_size_mtime_or_layer_point_at(tmp_path: Path) -> None:
    view = image(tmp_path, edited=True)
    screened = verify.check(view, records(view), full=False)
    # the pip file's size differs from RECORD's; the apt file's mtime was put back: the screen misses it
    assert set(screened.modified) == {f"{SITE}/req/api.py"}
    assert screened.hashed < screened.checked


def test_a_diverted_path_is_not_checked(tmp_path: Path) -> None:
    view = image(tmp_path, edited=True)
    assert f"/{LIB}/b.py" not in verify.check(view, records(view), full=True, skip={f"/{LIB}/b.py"}).modified


def test_image_layer_digests_are_kept_and_a_container_layer_never(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRIFT_CACHE_DIR", str(tmp_path / "cache"))
    verify.configure("full", cache=True)
    try:
        view = image(tmp_path, edited=True)
        first = verify.check(view, records(view), full=True)
        again = verify.check(view, records(view), full=True)
        assert first.hashed == 3 and first.remembered == 0
        assert again.hashed == 0 and again.remembered == 3 and again.modified == first.modified
        # a file whose size or mtime is not the remembered one is hashed again
        root = tmp_path / "edited"
        os.utime(root / f"{LIB}/a.py", (5, 5))
        layer = DirLayer(str(root), digest="sha256:" + "1" * 64, overlay=False, description="test")
        touched = View([layer.scan()], [layer])
        assert verify.check(touched, records(touched), full=True).hashed == 1
        # a layer without a digest (a container's own) is never remembered
        own = image(tmp_path / "own", edited=True, digest=None)
        assert verify.check(own, records(own), full=True).remembered == 0
        assert verify.check(own, records(own), full=True).remembered == 0
    finally:
        verify.configure("screen")


def test_a_crafted_record_is_data(tmp_path: Path) -> None:
    """A RECORD row with a 60,000-digit size or a bad digest, an md5sums line of 1 MB: read, not a crash."""
    good = b"x = 1\n"
    root = make_root(
        tmp_path / "crafted",
        {
            f"{SITE[1:]}/req/api.py": good,
            f"{SITE[1:]}/req-1.0.dist-info/RECORD": f"req/api.py,{record(good)},{'9' * 60000}\nreq/b.py,sha256=!!,1\n",
            "var/lib/dpkg/info/mod.md5sums": "0" * (1 << 20) + "  x\n",
        },
    )
    layer = DirLayer(str(root), digest=None, overlay=False, description="test")
    view = View([layer.scan()], [layer])
    recs = records(view)
    assert recs[f"{SITE}/req/api.py"][0].size is None
    assert verify.check(view, recs, full=True).modified == {}
