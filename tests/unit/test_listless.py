"""dpkg's file lists deleted after an install (`rm -rf /var/lib/dpkg/info/*`): one unknown, the
files written with those packages are "unknown" (not hand-made), Debian's Python distributions
keep an apt owner; what a later layer (or /usr/local) holds is still hand-made."""

from __future__ import annotations

import dataclasses

from drift.compare import compare_files
from drift.dockerfile.audit_files import listless_findings
from drift.dockerfile.declared import declare
from drift.dockerfile.parse import parse
from drift.inventory import apt, files, pip
from drift.model import FileChange, ImageConfig, Inventory, Target, Unknown
from drift.sources.fs import View, touched_paths
from tests.unit.helpers import tar_layer


def _para(name: str, version: str = "1.0") -> str:
    return f"Package: {name}\nStatus: install ok installed\nArchitecture: amd64\nVersion: {version}\n\n"


BASE_STATUS = _para("bash")
INSTALLED = BASE_STATUS + _para("python3-pip", "23.0.1") + _para("jq", "1.6")
META = "usr/lib/python3/dist-packages/pip-23.0.1.dist-info"
HAND_META = "usr/lib/python3/dist-packages/evil-1.0.dist-info"


def _layers(*, lists_gone: bool = True, hand_layer: bool = True) -> list:  # type: ignore[type-arg]
    base = tar_layer(
        {
            "usr": None,
            "usr/bin": None,
            "usr/bin/bash": "elf",
            "var/lib/dpkg/status": BASE_STATUS,
            "var/lib/dpkg/info/bash.list": "/.\n/usr/bin/bash\n",
        }
    )
    install: dict[str, bytes | str | None] = {
        "var/lib/dpkg/status": INSTALLED,
        "usr/bin/jq": "elf jq",
        "usr/bin/pip": "#!/usr/bin/python3\n",
        "usr/lib/python3/dist-packages": None,
        META: None,
        f"{META}/METADATA": "Name: pip\nVersion: 23.0.1\n",  # Debian's: no INSTALLER
        f"{META}/RECORD": "pip/__init__.py,,\n",
        "usr/lib/python3/dist-packages/pip/__init__.py": "",
        "usr/local/bin/tool": "#!/bin/sh\necho by hand in the install's RUN line\n",
    }
    if lists_gone:
        install["var/lib/dpkg/info/.wh.bash.list"] = ""
    else:
        install["var/lib/dpkg/info/jq.list"] = "/.\n/usr/bin/jq\n"
        install["var/lib/dpkg/info/python3-pip.list"] = f"/.\n/usr/bin/pip\n/{META}\n"
    layers = [base, tar_layer(install)]
    if hand_layer:  # a later `docker commit`: a file and a pip install by hand
        layers.append(
            tar_layer(
                {
                    "etc/evil.conf": "by hand",
                    HAND_META: None,
                    f"{HAND_META}/METADATA": "Name: evil\nVersion: 1.0\n",
                    f"{HAND_META}/INSTALLER": "pip\n",
                    "usr/lib/python3/dist-packages/evil.py": "",
                }
            )
        )
    return layers


def _inspect(layers: list) -> tuple[apt.AptResult, pip.PipResult, dict[str, FileChange]]:  # type: ignore[type-arg]
    scans = [layer.scan() for layer in layers]
    base, top = View(scans[:1], layers[:1]), View(scans, layers)
    result = apt.collect(top)
    dists = pip.collect(top, result.owners_for, result.listless_owner)
    ex = files.Explainers(
        owners=result.owners_for(top.entries),
        base_owners={},
        records=dists.records,
        base_records={},
        alternatives={},
        apt_changed=frozenset({"jq", "python3-pip"}),
        pip_changed=frozenset(),
        venvs_created=(),
        scripts={},
        listless_layers=result.listless_layers,
    )
    changes = files.raw_changes(base, top, touched_paths(scans[1:]))
    return result, dists, {f.path: f for f in files.classify(changes, base, top, ex)}


def test_packages_without_file_lists_are_one_unknown_and_their_layer() -> None:
    result, _, _ = _inspect(_layers())
    assert result.listless == {"bash", "jq", "python3-pip"}
    assert result.listless_layers == {0, 1}  # the layers whose status installed them; not the hand layer
    [unknown] = [u for u in result.unknowns if u.where == apt.INFO]
    assert unknown.reason.startswith("dpkg file lists of 3 installed package(s) are gone (/var/lib/dpkg/info deleted")


def test_files_written_with_them_are_unknown_and_later_ones_hand_made() -> None:
    _, _, changes = _inspect(_layers())
    assert changes["/usr/bin/jq"].klass == "unknown" and changes["/usr/bin/jq"].sha256  # --build compares it
    assert changes["/usr/bin/pip"].klass == "unknown"
    assert changes["/usr/local/bin/tool"].klass == "unexplained"  # no Debian package ships a file in /usr/local
    assert changes["/etc/evil.conf"].klass == "unexplained"  # a later layer installed no such package
    assert changes[f"/{HAND_META}/METADATA"].klass == "unexplained"


def test_debian_distributions_keep_an_apt_owner_pip_installs_do_not() -> None:
    _, dists, _ = _inspect(_layers())
    owners = {p.name: p.apt_owner for p in dists.packages}
    assert owners == {"pip": "python3-pip", "evil": None}  # INSTALLER pip: a pip install, whatever the folder


def test_with_file_lists_nothing_changes() -> None:
    result, dists, changes = _inspect(_layers(lists_gone=False, hand_layer=False))
    assert result.listless == frozenset() and result.listless_layers == frozenset()
    assert changes["/usr/bin/jq"].klass == "package" and changes["/usr/bin/jq"].owner == "apt:jq"
    assert {p.name: p.apt_owner for p in dists.packages} == {"pip": "python3-pip"}


def _inv(changes: list[FileChange], unknowns: tuple[Unknown, ...] = ()) -> Inventory:
    inv = Inventory(Target("image", "x", "test"), None, (), (), (), (), None, None, (), (), ())
    return dataclasses.replace(inv, files=tuple(changes), unknowns=unknowns)


def test_static_audit_names_the_line_that_deleted_the_lists() -> None:
    _, _, changes = _inspect(_layers())
    text = (
        "FROM debian\n"
        "RUN apt-get update && apt-get install -y jq python3-pip && rm -rf /var/lib/apt/lists/* /var/lib/dpkg/info/*\n"
    )
    decl = declare(parse(text), base_config=ImageConfig(), build_args={}, known_venvs=set())
    inv = _inv(list(changes.values()), (Unknown(apt.INFO, "dpkg file lists of 3 installed package(s) are gone"),))
    [finding] = listless_findings(inv, decl)
    assert (finding.category, finding.name, finding.line) == ("unknown", apt.INFO, 2)
    assert finding.actual == {"files": sum(1 for f in changes.values() if f.klass == "unknown")}
    assert listless_findings(_inv([]), decl) == []  # no lists gone: nothing to say


def test_lists_gone_in_the_base_only_say_nothing() -> None:
    decl = declare(
        parse("FROM debian\nRUN apt-get install -y jq\n"), base_config=ImageConfig(), build_args={}, known_venvs=set()
    )
    inv = _inv([], (Unknown(apt.INFO, "dpkg file lists of 1 installed package(s) are gone"),))
    assert listless_findings(inv, decl) == []


def test_build_compares_unknown_files_with_each_other_only() -> None:
    f = FileChange("/usr/bin/jq", "added", "file", 3, 0o755, 0, 0, "unknown", sha256="a")
    edited = dataclasses.replace(f, sha256="b")
    assert compare_files(_inv([f]), _inv([f])) == []
    assert [x.name for x in compare_files(_inv([f]), _inv([edited]))] == ["/usr/bin/jq"]
    assert compare_files(_inv([f]), _inv([])) == []  # the rebuilt one's package file: nothing said
    hand = dataclasses.replace(f, klass="unexplained")
    assert [x.name for x in compare_files(_inv([]), _inv([hand]))] == ["/usr/bin/jq"]
