from __future__ import annotations

from drift.inventory import files
from tests.unit.helpers import tar_layer


def _explainers(**kw):  # type: ignore[no-untyped-def]
    base = dict(
        owners={},
        base_owners={},
        records={},
        base_records={},
        alternatives={},
        apt_changed=frozenset(),
        pip_changed=frozenset(),
        venvs_created=(),
        scripts={},
    )
    base.update(kw)
    return files.Explainers(**base)  # type: ignore[arg-type]


def test_delta_and_classes() -> None:
    lower = tar_layer({"etc": None, "etc/keep": "k", "etc/gone": "g", "etc/edit": "1", "usr": None, "usr/bin": None})
    upper = tar_layer(
        {
            "etc/.wh.gone": "",
            "etc/edit": "22",
            "etc/new.conf": "n",
            "usr/bin/jq": "elf",
            "var": None,
            "var/cache": None,
            "var/cache/apt.bin": "c",
            "etc/inputrc": "written by postinst",
        }
    )
    scans = [lower.scan(), upper.scan()]
    from drift.sources.fs import View

    base, top = View(scans[:1]), View(scans)
    changes = files.raw_changes(base, top, files_touched := set(scans[1].entries) | set(scans[1].whiteouts))
    assert files_touched
    ex = _explainers(
        owners={"/usr/bin/jq": "jq"},
        apt_changed=frozenset({"jq", "readline-common"}),
        scripts={"readline-common": "cp x /etc/inputrc"},
    )
    out = {c.path: (c.change, c.klass, c.owner) for c in files.classify(changes, base, top, ex)}
    assert out["/etc/gone"] == ("deleted", "unexplained", None)
    assert out["/etc/edit"] == ("modified", "unexplained", None)
    assert out["/etc/new.conf"] == ("added", "unexplained", None)
    assert out["/usr/bin/jq"] == ("added", "package", "apt:jq")
    assert out["/var/cache/apt.bin"][1] == "noise"
    assert out["/var"][1] == "noise"  # a folder takes the class of what it holds
    assert out["/etc/inputrc"] == ("added", "package", "apt:readline-common")
    assert "/etc/keep" not in out and "/etc" not in out


def test_owned_by_unchanged_package_is_still_hand_made() -> None:
    lower = tar_layer({"etc": None, "etc/bash.bashrc": "a"})
    upper = tar_layer({"etc/bash.bashrc": "ab"})
    from drift.sources.fs import View

    scans = [lower.scan(), upper.scan()]
    base, top = View(scans[:1]), View(scans)
    changes = files.raw_changes(base, top, set(scans[1].entries))
    out = files.classify(changes, base, top, _explainers(owners={"/etc/bash.bashrc": "bash"}))
    assert [(c.path, c.klass) for c in out] == [("/etc/bash.bashrc", "unexplained")]
