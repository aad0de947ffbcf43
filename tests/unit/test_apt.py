from __future__ import annotations

import hashlib
from pathlib import Path

from drift.inventory import apt
from tests.unit.helpers import FIXTURES, make_root, root_view


def _root(tmp_path: Path, **extra: bytes | str) -> Path:
    files: dict[str, bytes | str] = {
        "/var/lib/dpkg/status": (FIXTURES / "status").read_bytes(),
        "/var/lib/apt/extended_states": (FIXTURES / "extended_states").read_bytes(),
        "/etc/skel/.bashrc": b"unchanged",
        "/var/lib/dpkg/info/bash.list": "/.\n/bin/bash\n/etc/bash.bashrc\n",
        "/var/lib/dpkg/info/libpython3.11-minimal:amd64.list": "/usr/lib/python3.11/os.py\n",
        "/var/lib/dpkg/info/tzdata.list": "/.\n/usr/share/zoneinfo\n",  # dpkg writes one per package
    }
    files.update(extra)
    return make_root(tmp_path, files)


def test_installed_packages_only_with_fields(tmp_path: Path) -> None:
    result = apt.collect(root_view(_root(tmp_path)))
    names = [p.name for p in result.packages]
    assert names == ["bash", "libpython3.11-minimal", "tzdata"]  # config-files and unpacked are not installed
    bash = result.packages[0]
    assert bash.version == "5.2.15-2+b2" and bash.architecture == "amd64" and bash.source == "bash"
    assert bash.pre_depends == ("libc6 (>= 2.36)", "libtinfo6 (>= 6)")
    assert bash.recommends == ("bash-completion (>= 20060301-0)",)
    py = result.packages[1]
    assert py.source == "python3.11" and py.source_version == "3.11.2-6+deb12u8"
    assert py.depends == ("libc6 (>= 2.14)", "libssl3 (>= 3.0.0)")
    assert [u.reason for u in result.unknowns] == ["a paragraph without a Package field was skipped"]


def test_manual_marks_follow_extended_states(tmp_path: Path) -> None:
    result = apt.collect(root_view(_root(tmp_path)))
    manual = {p.name: p.manual for p in result.packages}
    # tzdata is Architecture: all, recorded by apt under the native architecture
    assert manual == {"bash": True, "libpython3.11-minimal": False, "tzdata": False}


def test_no_extended_states_means_all_manual(tmp_path: Path) -> None:
    root = _root(tmp_path)
    (root / "var/lib/apt/extended_states").unlink()
    assert all(p.manual for p in apt.collect(root_view(root)).packages)


def test_conffiles_modified_and_missing(tmp_path: Path) -> None:
    bashrc = b"# system-wide bashrc\n"
    root = _root(tmp_path, **{"/etc/bash.bashrc": bashrc})
    status = (
        (root / "var/lib/dpkg/status")
        .read_bytes()
        .replace(b"89269e1298235f1b12b4c16e4065ad0d", hashlib.md5(bashrc).hexdigest().encode())
    )
    (root / "var/lib/dpkg/status").write_bytes(status)
    bash = apt.collect(root_view(root)).packages[0]
    # bash.bashrc matches its md5, skel/.bashrc differs, obsolete old.conf is ignored
    assert [(c.path, c.state) for c in bash.conffiles_changed] == [("/etc/skel/.bashrc", "modified")]
    (root / "etc/skel/.bashrc").unlink()
    bash = apt.collect(root_view(root)).packages[0]
    assert [(c.path, c.state) for c in bash.conffiles_changed] == [("/etc/skel/.bashrc", "missing")]


def test_owners_strip_arch_and_resolve_usrmerge(tmp_path: Path) -> None:
    root = _root(tmp_path)
    (root / "usr/bin").mkdir(parents=True)
    (root / "bin").symlink_to("usr/bin")
    result = apt.collect(root_view(root))
    owners = result.owners_for(["/usr/bin/bash", "/usr/lib/python3.11/os.py", "/etc/nothing"])
    assert owners == {"/usr/bin/bash": "bash", "/usr/lib/python3.11/os.py": "libpython3.11-minimal"}


def test_distroless_status_d(tmp_path: Path) -> None:
    status = (FIXTURES / "status").read_text().split("\n\n")
    root = make_root(
        tmp_path,
        {
            "/var/lib/dpkg/status.d/bash": status[0] + "\n",
            "/var/lib/dpkg/status.d/tzdata": status[2].replace("Status: install ok installed\n", "") + "\n",
            "/var/lib/dpkg/status.d/tzdata.md5sums": "abc  usr/share/zoneinfo/UTC\n",
        },
    )
    result = apt.collect(root_view(root))
    assert [(p.name, p.database) for p in result.packages] == [
        ("bash", "/var/lib/dpkg/status.d/bash"),
        ("tzdata", "/var/lib/dpkg/status.d/tzdata"),
    ]


def test_empty_and_corrupt_databases(tmp_path: Path) -> None:
    assert apt.collect(root_view(make_root(tmp_path / "a", {"/etc/hostname": "x"}))).has_dpkg is False
    empty = apt.collect(root_view(make_root(tmp_path / "b", {"/var/lib/dpkg/status": ""})))
    assert empty.has_dpkg and empty.packages == []
    garbage = apt.collect(root_view(make_root(tmp_path / "c", {"/var/lib/dpkg/status": b"\xff\xfe\x00garbage\n\n"})))
    assert garbage.packages == []
    assert garbage.unknowns  # reported, not crashed


def test_alternatives_links(tmp_path: Path) -> None:
    root = make_root(
        tmp_path,
        {
            "/var/lib/dpkg/status": "",
            "/var/lib/dpkg/alternatives/awk": "auto\n/usr/bin/awk\nawk.1.gz\n/usr/share/man/man1/awk.1.gz\n\n"
            "/usr/bin/mawk\n5\n/usr/share/man/man1/mawk.1.gz\n",
        },
    )
    links = apt.collect(root_view(root)).alternatives
    assert links["/usr/bin/awk"] == "awk"
    assert links["/usr/share/man/man1/awk.1.gz"] == "awk"
    assert links["/etc/alternatives/awk.1.gz"] == "awk"
