"""Names with a newline or bytes that are not UTF-8: inspect and snapshot do not crash.

A name that is not UTF-8 is left out of a snapshot and reported (a Dockerfile is UTF-8 text and
BuildKit refuses such a name in a build context); a newline in a name is copied exactly (only
`COPY files/ /` names it). JSON keeps such names reversibly (`\\udcXX`); tables show `\\xNN`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from drift.dockerfile import escape
from tests.hostile import make_corpus as mc


def archives(folder: Path) -> None:
    top = mc.tar(mc.folder("opt"), mc.member("opt/bad\nname", b"x\n"), mc.member(b"opt/caf\xe9", b"y\n"))
    mc.docker_archive(folder / "base.tar", [mc.base_layer()])
    mc.docker_archive(folder / "odd.tar", [mc.base_layer(), top])


def drift(*args: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "drift", *args], capture_output=True, cwd=cwd, timeout=120)


def test_snapshot_leaves_out_a_name_that_is_not_utf8_and_says_so(tmp_path: Path) -> None:
    archives(tmp_path)
    proc = drift("snapshot", "odd.tar", "--base", "base.tar", "-o", "out", cwd=tmp_path)
    err = proc.stderr.decode()  # strict: stderr is UTF-8
    assert proc.returncode == 0, err
    assert "drift: left out /opt/caf\\xe9: its name is not UTF-8" in err and len(err.splitlines()) == 2, err
    out = tmp_path / "out"
    assert sorted(os.listdir(os.fsencode(out / "files" / "opt"))) == [b"bad\nname"]
    dockerfile = (out / "Dockerfile").read_bytes().decode()  # strict UTF-8
    assert "#   /opt/caf\\xe9: its name is not UTF-8" in dockerfile
    inventory = json.loads((out / "drift-inventory.json").read_bytes().decode())
    paths = {os.fsencode(f["path"]) for f in inventory["files"]}
    assert {b"/opt/bad\nname", b"/opt/caf\xe9"} <= paths  # reversible


def test_inspect_json_is_utf8_and_reversible(tmp_path: Path) -> None:
    archives(tmp_path)
    proc = drift("inspect", "odd.tar", "--base", "base.tar", "-f", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout.decode()  # strict
    assert '"/opt/caf\\udce9"' in text
    assert {os.fsencode(f["path"]) for f in json.loads(text)["files"]} >= {b"/opt/bad\nname", b"/opt/caf\xe9"}


@pytest.mark.parametrize("fmt", ["table", "markdown"])
def test_inspect_tables_show_one_row_per_name(tmp_path: Path, fmt: str) -> None:
    archives(tmp_path)
    proc = drift("inspect", "odd.tar", "--base", "base.tar", "-f", fmt, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.decode().splitlines()  # strict
    assert any(line.rstrip(" |").endswith("/opt/bad\\x0aname") for line in lines), lines
    assert any(line.rstrip(" |").endswith("/opt/caf\\xe9") for line in lines), lines
    assert not any(line.strip(" |") == "name" for line in lines)


def test_escape_never_writes_a_byte_that_is_not_utf8() -> None:
    assert escape.comment("caf\udce9\n") == "caf\\xe9\\x0a"
    for write in (escape.sh, escape.word, lambda v: escape.copy(v, "/x"), lambda v: escape.json_list([v])):
        with pytest.raises(escape.Unsafe):
            write("caf\udce9")
