"""Table/markdown cells of findings and the build-failure message (fixture values, no engine)."""

from __future__ import annotations

from drift.buildlog import build_failed, offline, tail
from drift.model import Finding
from drift.render.findings import fold_dependencies, pair_cells


def test_pair_cells_never_cut_two_values_to_the_same_text() -> None:
    long = "a" * 80
    left, right = pair_cells(long + "1", long + "2")
    assert left != right and left.endswith("1") and right.endswith("2")
    assert pair_cells("same" * 30, "same" * 30)[0] == pair_cells("same" * 30, "same" * 30)[1]
    assert pair_cells("short", "other") == ("short", "other")
    left, right = pair_cells("x\ny", "x y")
    assert left != right and "\n" not in left


def test_dependencies_fold_under_their_root() -> None:
    root = Finding("undocumented", "apt", "curl", None, "7.88")
    deps = [Finding("undocumented", "apt", f"lib{i}", None, "1", explained_by="apt:curl") for i in range(4)]
    orphan = Finding("undocumented", "apt", "old", None, "1", explained_by="apt:(orphan: nothing installed needs it)")
    stray = Finding("undocumented", "pip", "idna", None, "3", explained_by="pip:requests")  # root not a row
    rows, folded = fold_dependencies([root, *deps, orphan, stray])
    assert folded == 4
    assert rows == [(root, 4), (orphan, 0), (stray, 0)]


def test_offline_build_messages() -> None:
    apt = [
        "W: Failed to fetch http://deb.debian.org/debian/dists/bookworm/InRelease  "
        "Temporary failure resolving 'deb.debian.org'\n"
    ]
    pip = [
        "WARNING: Retrying (Retry(total=4)) after connection broken by "
        "'NewConnectionError('<pip._vendor.urllib3.connection.HTTPSConnection>: "
        "Failed to establish a new connection: [Errno -3] Temporary failure in name resolution')'\n",
        "ERROR: Could not find a version that satisfies the requirement six (from versions: none)\n",
    ]
    assert offline(apt) and offline(pip)
    assert not offline(["E: Unable to locate package nosuch\n"])
    exc = build_failed("/ctx", "The command '/bin/sh -c pip install six' returned a non-zero code: 1", pip, None)
    assert "retry with --network host" in str(exc) and "\n" not in str(exc)
    assert build_failed("/ctx", "boom", pip, "host").args[0].count("--network host") == 0
    assert tail([f"line {i}\n" for i in range(40)]) == tuple(f"line {i}" for i in range(25, 40))
    assert tail(["W", ": split\n"]) == ("W: split",)
    assert tail(["\x1b[91mE: Unable\n", "\x1b[0m\n", "bad \x1b]0;title\x07\n"]) == (
        "E: Unable",
        "bad \\x1b]0;title\\x07",
    )
