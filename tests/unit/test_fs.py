from __future__ import annotations

import pytest

from drift.errors import UnsafeArchive
from drift.sources.fs import normalize, touched_paths
from tests.unit.helpers import tar_layer, view_of


def test_normalize() -> None:
    assert normalize("./etc/passwd") == "/etc/passwd"
    assert normalize("/etc//x/") == "/etc/x"
    assert normalize("a/b/../c") == "/a/c"
    assert normalize("../etc/passwd") is None
    assert normalize("a/../../etc") is None
    assert normalize("./") == "/"


def test_whiteouts_and_opaque_folders() -> None:
    lower = tar_layer({"etc": None, "etc/a": "1", "etc/b": "2", "opt": None, "opt/app": None, "opt/app/x": "x"})
    upper = tar_layer({"etc/.wh.a": "", "opt/app/.wh..wh..opq": "", "opt/app/y": "y", "etc/c": "3"})
    view = view_of(lower, upper)
    assert "/etc/a" not in view.entries
    assert view.read("/etc/b") is None or view.exists("/etc/b")
    assert view.exists("/etc/c") and view.exists("/opt/app/y")
    assert not view.exists("/opt/app/x")  # hidden by the opaque folder
    assert view.listdir("/opt/app") == ["/opt/app/y"]
    assert touched_paths([upper.scan()]) == {"/etc/a", "/opt/app", "/opt/app/y", "/etc/c"}


def test_whiteout_of_a_folder_removes_its_tree() -> None:
    lower = tar_layer({"srv": None, "srv/d": None, "srv/d/f": "1", "srv/d/g": None, "srv/d/g/h": "2"})
    upper = tar_layer({"srv/.wh.d": ""})
    view = view_of(lower, upper)
    assert [p for p in view.entries if p.startswith("/srv/")] == []


def test_resolve_stays_inside_the_root() -> None:
    layer = tar_layer(
        {"usr": None, "usr/lib": None, "usr/lib/x": "x", "etc": None},
        links={"lib": "usr/lib", "etc/up": "../../../../usr", "etc/abs": "/usr/lib"},
    )
    view = view_of(layer)
    assert view.resolve("/lib/x") == "/usr/lib/x"
    assert view.resolve("/etc/up/lib/x") == "/usr/lib/x"
    assert view.resolve("/etc/abs/x") == "/usr/lib/x"


def test_captured_content_and_md5() -> None:
    view = view_of(tar_layer({"var/lib/dpkg/status": "Package: a\n", "etc/x.conf": "abc", "usr/big": "zzz"}))
    assert view.scans[0].blobs["/var/lib/dpkg/status"] == b"Package: a\n"
    assert view.md5("/etc/x.conf") == "900150983cd24fb0d6963f7d28e17f72"
    assert "/usr/big" not in view.scans[0].blobs
    assert view.read("/usr/big") == b"zzz"  # read on demand from the layer


def test_escaping_member_is_refused() -> None:
    with pytest.raises(UnsafeArchive):
        tar_layer({"../outside": "x"}).scan()
