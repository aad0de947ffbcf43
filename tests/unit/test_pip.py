from __future__ import annotations

from pathlib import Path

from drift.inventory import pip
from tests.unit.helpers import FIXTURES, make_root, root_view

SYS = "/usr/lib/python3/dist-packages"
LOCAL = "/usr/local/lib/python3.11/dist-packages"
VENV = "/opt/venv/lib/python3.11/site-packages"


def test_parse_metadata_ignores_body() -> None:
    name, version, requires = pip.parse_metadata((FIXTURES / "METADATA").read_bytes())
    assert (name, version) == ("requests", "2.31.0")
    assert requires == ("charset-normalizer", "idna", "urllib3", "certifi", "PySocks")


def test_requires_txt_stops_at_sections() -> None:
    assert pip.parse_requires_txt((FIXTURES / "requires.txt").read_bytes()) == ("six", "packaging")


def test_direct_url_kinds() -> None:
    vcs = pip.parse_direct_url(b'{"url": "https://g/x.git", "vcs_info": {"vcs": "git", "commit_id": "abc"}}')
    assert vcs is not None and vcs.kind == "vcs" and vcs.commit == "abc"
    local = pip.parse_direct_url(b'{"url": "file:///src", "dir_info": {"editable": true}}')
    assert local is not None and local.kind == "dir" and local.editable
    assert pip.parse_direct_url(b"{not json") is None


def _root(tmp_path: Path) -> Path:
    meta = (FIXTURES / "METADATA").read_bytes()
    return make_root(
        tmp_path,
        {
            f"{LOCAL}/requests-2.31.0.dist-info/METADATA": meta,
            f"{LOCAL}/requests-2.31.0.dist-info/REQUESTED": "",
            f"{LOCAL}/requests-2.31.0.dist-info/INSTALLER": "pip\n",
            f"{LOCAL}/requests-2.31.0.dist-info/RECORD": "requests/__init__.py,sha256=x,1\n../../../bin/x,,\n",
            f"{LOCAL}/idna-3.4.dist-info/METADATA": "Name: idna\nVersion: 3.4\n\n",
            f"{SYS}/pip-23.0.1.dist-info/METADATA": "Name: pip\nVersion: 23.0.1\n\n",
            f"{SYS}/wheel-0.38.4.egg-info/PKG-INFO": "Name: wheel\nVersion: 0.38.4\n\n",
            f"{SYS}/wheel-0.38.4.egg-info/requires.txt": "[test]\npytest\n",
            f"{SYS}/six-1.16.0.egg-info": "Name: six\nVersion: 1.16.0\n\n",
            f"{SYS}/broken-1.0.dist-info/METADATA": "Summary: no name here\n\n",
            "/usr/lib/python3.11/os.py": "",
            "/usr/lib/python3.11/EXTERNALLY-MANAGED": "[externally-managed]\n",
            "/opt/venv/pyvenv.cfg": "home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.11.2\n",
            f"{VENV}/six-1.16.0.dist-info/METADATA": "Name: six\nVersion: 1.16.0\n\n",
            f"{VENV}/six-1.16.0.dist-info/REQUESTED": "",
            "/srv/empty/pyvenv.cfg": "version = 3.11.2\n",
            "/srv/empty/lib/python3.11/site-packages/.keep": "",
        },
    )


def test_environments_and_distributions(tmp_path: Path) -> None:
    view = root_view(_root(tmp_path))
    owned = {f"{SYS}/pip-23.0.1.dist-info": "python3-pip"}
    result = pip.collect(view, lambda paths: {p: owned[p] for p in paths if p in owned})
    got = {(p.name, p.version, p.location, p.requested, p.environment) for p in result.packages}
    assert got == {
        ("requests", "2.31.0", LOCAL, True, "/usr/local"),
        ("idna", "3.4", LOCAL, False, "/usr/local"),
        ("pip", "23.0.1", SYS, False, "/usr"),
        ("wheel", "0.38.4", SYS, False, "/usr"),
        ("six", "1.16.0", SYS, False, "/usr"),
        ("six", "1.16.0", VENV, True, "/opt/venv"),
    }
    envs = {e.path: e for e in result.environments}
    assert set(envs) == {"/usr", "/usr/local", "/opt/venv", "/srv/empty"}
    assert envs["/usr/local"].externally_managed and not envs["/opt/venv"].externally_managed
    assert envs["/opt/venv"].python == "3.11.2" and envs["/srv/empty"].kind == "venv"
    by_name = {(p.name, p.location): p for p in result.packages}
    assert by_name[("pip", SYS)].apt_owner == "python3-pip"
    assert by_name[("requests", LOCAL)].installer == "pip"
    assert by_name[("wheel", SYS)].requires == ()
    assert [u.where for u in result.unknowns] == [f"{SYS}/broken-1.0.dist-info"]
    assert result.records[f"{LOCAL}/requests/__init__.py"].startswith("requests@")
    assert result.records["/usr/local/bin/x"].startswith("requests@")


def test_no_python_is_empty(tmp_path: Path) -> None:
    result = pip.collect(root_view(make_root(tmp_path, {"/etc/hostname": "x"})), lambda paths: {})
    assert result.packages == [] and result.environments == []
