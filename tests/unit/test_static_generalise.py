"""The static audit's generalising fixes (commits 4d46684, 8bdafc3), each at fixture level:
classic-builder WORKDIR layers and glued COPY flags in the history, findings the history
explains, relative operands of file commands, a builder stage's pip uninstall, pip --user as
any USER, Debian's pip shadowed by an upgrade, and a deleted dpkg database or dist-info.

New names (`USER_SITE`, `_history_explains`, ...) are only reached through the functions the
fixes changed, so each test fails on its own against the code before them."""

from __future__ import annotations

from pathlib import Path

from drift.dockerfile import stages
from drift.dockerfile.audit import audit
from drift.dockerfile.audit_apt import apt_findings
from drift.dockerfile.audit_pip import pip_findings
from drift.dockerfile.declared import Declaration, declare
from drift.dockerfile.evidence import Evidence, Made, from_inspection, layer_rows, match
from drift.dockerfile.parse import parse
from drift.dockerfile.resolve import resolve
from drift.dockerfile.shell import analyse
from drift.inventory import Inspection
from drift.model import AccountChange, AptPackage, Finding, HistoryEntry, Inventory, PipPackage, Target
from drift.sources import RawHistory, Source
from drift.sources.fs import Entry, LayerScan, View
from tests.unit.helpers import tar_layer, view_of

# -- helpers ---------------------------------------------------------------------------------


def _rows(items: list[tuple[str, bool]]) -> list[RawHistory]:
    return [RawHistory("", text, "", None, empty) for text, empty in items]


def _decl(text: str) -> Declaration:
    return declare(parse(text, "Dockerfile"), base_config=None, build_args={}, known_venvs=set())


def _inventory(
    *,
    apt: tuple[AptPackage, ...] = (),
    pip: tuple[PipPackage, ...] = (),
    accounts: tuple[AccountChange, ...] = (),
    history: tuple[HistoryEntry, ...] = (),
) -> Inventory:
    return Inventory(
        target=Target("image", "test", "test"),
        base=None,
        apt=apt,
        pip=pip,
        environments=(),
        files=(),
        config=None,
        base_config=None,
        config_changes=(),
        package_changes=(),
        history=history,
        accounts=accounts,
    )


def _insp(inv: Inventory, top: View | None = None, source: Source | None = None) -> Inspection:
    return Inspection(inv, source=source, top=top or View([]), base=None)  # type: ignore[arg-type]


def _apt(name: str, version: str = "1.0") -> AptPackage:
    return AptPackage(name, version, "amd64", name, version, manual=True)


def _pip(name: str, version: str, site: str, environment: str, apt_owner: str | None = None) -> PipPackage:
    meta = f"{site}/{name}-{version}.dist-info/METADATA"
    return PipPackage(name, version, site, True, environment, meta, apt_owner=apt_owner)


def _entry(kind: str = "file") -> Entry:
    return Entry(kind, 0o755 if kind == "dir" else 0o644, 0, 0, 1, 0)


def _brief(findings: list[Finding]) -> set[tuple[str, str | None, str, int | None]]:
    return {(f.category, f.manager, f.name, f.line) for f in findings}


# -- 1. history: classic WORKDIR layers, glued COPY flags ------------------------------------

# `docker history --no-trunc` of a classic build: WORKDIR recorded with size 0 though it made
# the folder's layer; the COPY's --chown glued to its source (`noogle-userdir:<hash>`)
HASH = "39fc971d902fd7d4ba7196ceaf84854deadf8325dd1523422ebaab8be65ff5b9"
GLUED_COPY = f"/bin/sh -c #(nop) COPY --chown=noogle-user:noogle-userdir:{HASH} in .venv "
WORKDIR_DF = """\
FROM python:3.11-slim
WORKDIR /app/
COPY --chown=noogle-user:noogle-user x .venv
RUN pip install six
"""
WORKDIR_HISTORY = [
    ("", False),
    ("/bin/sh -c #(nop) WORKDIR /app/", True),
    (GLUED_COPY, False),
    ("/bin/sh -c pip install six", False),
]


def test_classic_workdir_row_gets_the_layer_that_holds_only_its_folder() -> None:
    asked: list[tuple[int, str]] = []

    def folders_only(index: int, path: str) -> bool:
        asked.append((index, path))
        return index == 1 and path == "/app"

    assert layer_rows(_rows(WORKDIR_HISTORY), 4, folders_only) == [0, 1, 2, 3]
    assert asked == [(1, "/app")]  # the trailing slash cleaned
    # the layer holds more than the folder: the rows do not add up to the 4 layers
    assert layer_rows(_rows(WORKDIR_HISTORY), 4, lambda i, p: False) is None
    # the sized rows already fill the layers: the WORKDIR row gets none, whatever is said of it
    assert layer_rows(_rows(WORKDIR_HISTORY), 3, lambda i, p: True) == [0, None, 1, 2]


def test_classic_copy_with_glued_chown_matches_its_line() -> None:
    # a WORKDIR that made no layer: only the COPY's glued flags stand between it and its line
    hist = _rows(WORKDIR_HISTORY)
    ev = match(hist, 1, 3, resolve(parse(WORKDIR_DF), base_config=None, build_args={}))
    assert ev.stop is None
    assert {k: (m.line, m.keyword, m.dest) for k, m in ev.made.items()} == {
        1: (3, "COPY", "/app/.venv"),
        2: (4, "RUN", None),
    }


def test_match_ties_the_classic_workdir_copy_and_run_layers() -> None:
    hist = _rows(WORKDIR_HISTORY)
    rows = layer_rows(hist, 4, lambda i, p: i == 1 and p == "/app")
    ev = match(hist, 1, 4, resolve(parse(WORKDIR_DF), base_config=None, build_args={}), rows)
    assert ev.stop is None
    assert ev.made == {
        1: Made(1, 2, "WORKDIR", "/app"),
        2: Made(2, 3, "COPY", "/app/.venv"),
        3: Made(3, 4, "RUN", None),
    }


def _workdir_inspection(workdir_layer: dict[str, Entry]) -> Inspection:
    scans = [
        LayerScan(None, {"/usr": _entry("dir"), "/usr/bin": _entry("dir"), "/usr/bin/python3": _entry()}),
        LayerScan(None, workdir_layer),
        LayerScan(None, {"/app/.venv": _entry("dir"), "/app/.venv/pyvenv.cfg": _entry()}),
        LayerScan(None, {"/usr/local/lib/python3.11/site-packages/six.py": _entry()}),
    ]
    hist = _rows(WORKDIR_HISTORY)
    source = Source(Target("image", "test", "test"), [None] * 4, ["l0", "l1", "l2", "l3"], None, history=hist)  # type: ignore[list-item]
    entries = tuple(
        HistoryEntry(h.created, h.created_by, h.comment, h.size, h.empty_layer, "build", i == 0)
        for i, h in enumerate(hist)
    )
    return _insp(_inventory(history=entries), View(scans), source)


def test_from_inspection_reads_the_workdir_layer_from_the_view() -> None:
    df = parse(WORKDIR_DF)
    insp = _workdir_inspection({"/app": _entry("dir")})
    ev = from_inspection(insp, df, {})
    assert ev.stop is None
    assert {k: (m.line, m.keyword) for k, m in ev.made.items()} == {1: (2, "WORKDIR"), 2: (3, "COPY"), 3: (4, "RUN")}
    # a layer that holds a file besides the folder is not the WORKDIR's mkdir
    other = from_inspection(_workdir_inspection({"/app": _entry("dir"), "/app/x": _entry()}), df, {})
    assert other.made == {} and other.stop is not None and "4 layers" in other.stop


# -- 2. audit: what the history explains -----------------------------------------------------

PASSWD = "root:x:0:0:root:/root:/bin/bash\n"
GROUP = "root:x:0:\n"
SITE = "/usr/local/lib/python3.11/site-packages"
EXPLAINED_DF = """\
FROM debian:bookworm
RUN conda install -y whatever
RUN apt-get install -y vim=2:9.0.1378-2 jq && apt-get purge -y nano
"""


def _explained_view() -> View:
    base = tar_layer({"/etc/passwd": PASSWD, "/etc/group": GROUP, "/var/lib/dpkg/status": ""})
    by_line = tar_layer(
        {
            "/var/lib/dpkg/info/curl:amd64.list": "/usr/bin/curl\n",
            "/var/lib/dpkg/info/vim:amd64.list": "/usr/bin/vim\n",
            "/var/lib/dpkg/info/nano:amd64.list": "/usr/bin/nano\n",
            f"{SITE}/six-1.16.0.dist-info/METADATA": "Name: six\n",
            "/etc/passwd": PASSWD + "app:x:1000:1000::/home/app:/bin/sh\nwww-data:x:33:33::/var/www:/bin/sh\n",
        }
    )
    by_hand = tar_layer(  # a layer no line made (a `docker commit`)
        {
            "/var/lib/dpkg/info/wget:amd64.list": "/usr/bin/wget\n",
            f"{SITE}/attrs-23.1.0.dist-info/METADATA": "Name: attrs\n",
            "/etc/group": GROUP + "hand:x:1001:\n",
        }
    )
    return view_of(base, by_line, by_hand)


def _explained_inspection() -> Inspection:
    inv = _inventory(
        apt=(_apt("curl"), _apt("vim", "2:9.1.0016-1"), _apt("nano"), _apt("wget")),
        pip=(_pip("six", "1.16.0", SITE, "/usr/local"), _pip("attrs", "23.1.0", SITE, "/usr/local")),
        accounts=(
            AccountChange("user", "app", "added", None, {"uid": 1000}),
            AccountChange("group", "hand", "added", None, {"gid": 1001}),
            AccountChange(
                "user", "www-data", "changed", {"shell": "/usr/sbin/nologin"}, {"shell": "/bin/sh"}, ("shell",)
            ),
        ),
    )
    return _insp(inv, _explained_view())


def test_history_drops_what_a_run_line_made_never_what_the_dockerfile_contradicts() -> None:
    insp, decl = _explained_inspection(), _decl(EXPLAINED_DF)
    before = _brief(audit(insp, decl, context=None, dockerfile="Dockerfile"))
    # without history each is a finding (the check below is not vacuous)
    for item in [
        ("undocumented", "apt", "curl", None),
        ("undocumented", "pip", "six", None),
        ("account", None, "user app", None),
    ]:
        assert item in before
    ev = Evidence({1: Made(1, 2, "RUN")}, "layer 3 matches no line of the Dockerfile")
    after = _brief(
        audit(_explained_inspection(), _decl(EXPLAINED_DF), context=None, dockerfile="Dockerfile", history=ev)
    )
    # what line 2's layer holds (a package manager drift does not read) is that line's
    assert ("undocumented", "apt", "curl", None) not in after
    assert ("undocumented", "pip", "six", None) not in after
    assert ("account", None, "user app", None) not in after
    # what a layer no line made holds stays a finding
    assert ("undocumented", "apt", "wget", None) in after
    assert ("undocumented", "pip", "attrs", None) in after
    assert ("account", None, "group hand", None) in after
    # findings with an expectation are the Dockerfile's word: never taken from the history
    assert ("version", "apt", "vim", 3) in after  # pinned 2:9.0.1378-2, its list in line 2's layer
    assert ("undocumented", "apt", "nano", 3) in after  # "line 3 removes it", its list in line 2's layer
    assert ("missing", "apt", "jq", 3) in after
    assert ("account", None, "user www-data", None) in after  # changed: before is set


def test_history_explains_an_account_only_through_a_run_layer() -> None:
    insp, decl = _explained_inspection(), _decl(EXPLAINED_DF)
    ev = Evidence({1: Made(1, 2, "COPY", "/srv")})  # line 2's layer, but a COPY's: it runs no useradd
    found = _brief(audit(insp, decl, context=None, dockerfile="Dockerfile", history=ev))
    assert ("account", None, "user app", None) in found
    assert ("undocumented", "apt", "curl", None) in found  # /var/lib/dpkg is outside the COPY's /srv


UNREAD_DF = """\
FROM debian:bookworm
RUN ./install.sh
RUN /opt/other.sh
"""


def test_an_unread_line_the_history_ties_to_a_layer_is_not_unknown() -> None:
    insp, decl = _explained_inspection(), _decl(UNREAD_DF)
    assert [a.line for a in decl.unknowns] == [2, 3]
    ev = Evidence({1: Made(1, 2, "RUN")}, "layer 3 matches no line of the Dockerfile")
    found = audit(insp, decl, context=None, dockerfile="Dockerfile", history=ev)
    lines = {f.name for f in found if f.category == "unknown" and f.manager is None}
    assert "line 2" not in lines  # its layer is known: what it holds is judged as line 2's
    assert "line 3" in lines  # no layer tied to it: still unread
    unknown = _brief([f for f in found if f.category == "unknown" and f.manager is not None])
    assert ("unknown", "apt", "curl", 2) not in unknown  # in line 2's layer
    assert ("unknown", "apt", "wget", 2) in unknown  # may still come from an unread line


ONE_UNREAD_DF = """\
FROM debian:bookworm
RUN ./install.sh
"""


def test_a_package_above_the_build_is_undocumented_when_every_unread_line_has_its_layer() -> None:
    """An image built FROM the Dockerfile's image (or a commit) adds a layer no line made: what
    it installs cannot come from the unread line, whose own layer the history knows."""
    insp = _explained_inspection()
    ev = Evidence({1: Made(1, 2, "RUN")}, "layer 3 matches no line of the Dockerfile")
    found = _brief(audit(insp, _decl(ONE_UNREAD_DF), context=None, dockerfile="Dockerfile", history=ev))
    assert ("undocumented", "apt", "wget", None) in found  # in layer 3, above the build
    assert ("undocumented", "pip", "attrs", None) in found
    assert not [f for f in found if f[0] == "unknown" and f[1] in ("apt", "pip")]
    # without the history, the unread line may have installed them: unknown, not a finding
    bare = _brief(audit(insp, _decl(ONE_UNREAD_DF), context=None, dockerfile="Dockerfile", history=None))
    assert ("unknown", "apt", "wget", 2) in bare and ("undocumented", "apt", "wget", None) not in bare


# -- 3. shell: relative operands in the WORKDIR ----------------------------------------------


def test_rm_of_a_relative_file_in_the_root_workdir() -> None:
    assert analyse("rm requirements.txt", workdir="/").paths == ["/requirements.txt"]


def test_rm_rf_of_a_relative_folder_in_the_workdir() -> None:
    assert analyse("rm -rf build", workdir="/app").paths == ["/app/build"]


def test_chown_names_its_file_not_the_owner() -> None:
    found = analyse("chown user:group file", workdir="/app")
    assert found.meta_paths == ["/app/file"]
    assert not any("user" in p for p in found.paths + found.meta_paths)


def test_chmod_names_its_file_not_the_mode() -> None:
    found = analyse("chmod 755 x", workdir="/app")
    assert found.meta_paths == ["/app/x"]
    assert "/app/755" not in found.paths + found.meta_paths


def test_variables_and_globs_are_not_relative_operands() -> None:
    found = analyse("rm -f $HOME/x ${DIR} *.pyc a?b [ab]c keep.txt", workdir="/app")
    assert found.paths == ["/app/keep.txt"]


def test_the_working_directory_itself_is_never_written_by_a_copy_from_it() -> None:
    # `cp -r . /opt/app` reads the WORKDIR: declaring "/" written would explain every file
    assert analyse("cp -r . /opt/app", workdir="/").paths == ["/opt/app"]
    assert analyse("mv .. /x", workdir="/app").paths == ["/x"]


def test_option_values_are_not_paths() -> None:
    assert analyse("mkdir -m 700 data", workdir="/app").paths == ["/app/data"]
    assert analyse("touch -d 2020-01-01 x", workdir="/app").paths == ["/app/x"]
    found = analyse("install -m 0755 -o root -g root tool /usr/bin/tool", workdir="/")
    assert found.paths == ["/usr/bin/tool"]  # not /0755, /root, nor the source read


def test_cp_writes_only_its_destination() -> None:
    assert analyse("cp settings.example settings.py", workdir="/app").paths == ["/app/settings.py"]


# -- 4. stages: a builder's pip uninstall ----------------------------------------------------

UNINSTALL_DF = """\
FROM python:3.11 AS builder
RUN pip install poetry==1.8.3 six==1.16.0
RUN pip uninstall --yes poetry
FROM python:3.11-slim
COPY --from=builder /usr/local /usr/local
"""


def test_a_builder_stage_uninstall_is_not_carried() -> None:
    moved = stages.carried(_decl(UNINSTALL_DF))
    assert [(c.line, c.source) for c in moved] == [(5, "builder")]
    values = [item.value for item in moved[0].items if item.kind == "pip"]
    assert "six==1.16.0" in values
    assert not any(v.startswith("poetry") for v in values)


def test_a_reinstall_after_the_uninstall_is_carried() -> None:
    text = UNINSTALL_DF.replace("FROM python:3.11-slim", "RUN pip install poetry==1.8.4\nFROM python:3.11-slim")
    moved = stages.carried(_decl(text))
    values = [item.value for item in moved[0].items if item.kind == "pip"]
    assert "poetry==1.8.4" in values and "poetry==1.8.3" not in values


# -- 5. pip: --user as any USER, Debian's shadowed pip, deleted metadata -----------------------

USER_DF = """\
FROM python:3.11
RUN useradd -m app
USER app
WORKDIR /home/app
COPY requirements.txt .
RUN pip install --user -r requirements.txt
"""


def test_pip_user_requirements_as_a_non_root_user(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("six==1.16.0\n")
    home = "/home/app/.local"
    inv = _inventory(pip=(_pip("six", "1.16.0", f"{home}/lib/python3.11/site-packages", home),))
    found = pip_findings(_insp(inv), _decl(USER_DF), str(tmp_path))
    assert [f for f in found if f.name == "six"] == []


def test_pip_user_does_not_match_the_system_site(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("six==1.16.0\n")
    inv = _inventory(pip=(_pip("six", "1.16.0", SITE, "/usr/local"),))
    found = pip_findings(_insp(inv), _decl(USER_DF), str(tmp_path))
    assert ("missing", "pip", "six", 6) in _brief(found)


DEBIAN_PIP_DF = """\
FROM debian:bookworm
RUN apt-get update && apt-get install -y python3-pip
RUN pip install --break-system-packages -U pip==24.0
"""


def test_pip_upgraded_over_debian_s_copy_is_no_version_finding() -> None:
    inv = _inventory(
        apt=(_apt("python3-pip", "23.0.1+dfsg-1"),),
        pip=(
            _pip("pip", "24.0", "/usr/local/lib/python3.11/dist-packages", "/usr/local"),
            _pip("pip", "23.0.1", "/usr/lib/python3/dist-packages", "/usr", apt_owner="python3-pip"),
        ),
    )
    found = pip_findings(_insp(inv), _decl(DEBIAN_PIP_DF), None)
    assert [f for f in found if f.name == "pip"] == []


def test_only_debian_s_pip_left_is_still_a_version_finding() -> None:
    inv = _inventory(pip=(_pip("pip", "23.0.1", "/usr/lib/python3/dist-packages", "/usr", apt_owner="python3-pip"),))
    found = pip_findings(_insp(inv), _decl(DEBIAN_PIP_DF), None)
    assert ("version", "pip", "pip", 3) in _brief(found)


DIST_INFO_DF = """\
FROM python:3.11-slim
RUN pip install six==1.16.0
RUN rm -rf /usr/local/lib/python3.11/dist-packages/*.dist-info
"""


def test_deleted_dist_info_makes_a_declared_package_unknown() -> None:
    found = pip_findings(_insp(_inventory()), _decl(DIST_INFO_DF), None)
    assert _brief(found) == {("unknown", "pip", "six", 3)}
    assert found[0].detail is not None and "line 3" in found[0].detail and "*.dist-info" in found[0].detail


def test_dist_info_deleted_before_the_install_still_leaves_it_missing() -> None:
    text = (
        "FROM python:3.11-slim\nRUN rm -rf /usr/local/lib/python3.11/dist-packages/*.dist-info\nRUN pip install six\n"
    )
    found = pip_findings(_insp(_inventory()), _decl(text), None)
    assert _brief(found) == {("missing", "pip", "six", 3)}


# -- 6. apt: a deleted dpkg database ---------------------------------------------------------

DPKG_GONE_DF = """\
FROM debian:bookworm
RUN apt-get update && apt-get install -y curl
RUN rm -rf var/lib/dpkg/
"""


def test_relative_rm_of_the_dpkg_database_makes_declared_packages_unknown() -> None:
    found = apt_findings(_insp(_inventory()), _decl(DPKG_GONE_DF))
    assert _brief(found) == {("unknown", "apt", "curl", 3)}
    assert found[0].detail is not None and "line 3" in found[0].detail and "line 2" in found[0].detail


def test_a_dpkg_database_still_there_leaves_the_package_missing() -> None:
    top = View([LayerScan(None, {"/var/lib/dpkg/status": _entry()})])
    found = apt_findings(_insp(_inventory(), top), _decl(DPKG_GONE_DF))
    assert _brief(found) == {("missing", "apt", "curl", 2)}
