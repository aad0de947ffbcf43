"""Accounts (issue 15, items 5 and 7): users and groups as changes of their own, the account
files and homes they touch grouped under them, account commands read as getopt reads them."""

from __future__ import annotations

import io
import json
import tarfile

from drift.compare import compare_accounts
from drift.diff.modes import from_delta
from drift.dockerfile.shell import analyse
from drift.dockerfile.shell_accounts import TABLES, getopt_long, read
from drift.inventory import accounts, files, users
from drift.model import AccountChange, Inventory, Target
from drift.sources.fs import View
from drift.sources.tarlayer import TarLayer

PASSWD = "root:x:0:0:root:/root:/bin/bash\nbin:x:2:2:bin:/bin:/usr/sbin/nologin\n"
GROUP = "root:x:0:\nbin:x:2:\nsudo:x:27:\n"
SHADOW = "root:*:19000:0:99999:7:::\nbin:*:19000:0:99999:7:::\n"
HASH = "$y$j9T$abcdefgh$0123456789abcdefghijklmnopqrstuvwxyzABCDEF"
SKEL = "# ~/.bashrc\n"


def layer(members: dict[str, tuple[str | None, int]]) -> TarLayer:
    """path -> (content or None for a folder, uid)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, (data, uid) in members.items():
            info = tarfile.TarInfo(name.lstrip("/"))
            info.mtime, info.uid, info.gid = 1, uid, uid
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                raw = data.encode()
                info.size, info.mode = len(raw), 0o644
                tar.addfile(info, io.BytesIO(raw))
    blob = buf.getvalue()
    return TarLayer(lambda: io.BytesIO(blob), digest=None, description="test layer")


def base_layer() -> TarLayer:
    return layer(
        {
            "etc": (None, 0),
            "etc/passwd": (PASSWD, 0),
            "etc/group": (GROUP, 0),
            "etc/shadow": (SHADOW, 0),
            "etc/gshadow": ("root:*::\nbin:*::\nsudo:*::\n", 0),
            "etc/subuid": ("", 0),
            "etc/skel": (None, 0),
            "etc/skel/.bashrc": (SKEL, 0),
            "home": (None, 0),
        }
    )


def inspect(upper: dict[str, tuple[str | None, int]], scripts: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    lower, top_layer = base_layer(), layer(upper)
    scans = [lower.scan(), top_layer.scan()]
    base, top = View(scans[:1], [lower]), View(scans, [lower, top_layer])
    touched = set(scans[1].entries) | set(scans[1].whiteouts)
    changes = files.raw_changes(base, top, touched)
    ex = files.Explainers({}, {}, {}, {}, {}, frozenset(), frozenset(), (), scripts or {})
    classified = files.classify(changes, base, top, ex)
    d = users.delta(base, top)
    d.changes = users.explain(d.changes, scripts or {})
    grouped, changes_ = accounts.group(classified, d, base, top)
    return {f.path: f for f in grouped}, {c.label: c for c in changes_}


EVE_ADDED = {
    "etc/passwd": (PASSWD + "eve:x:1000:1000::/home/eve:/bin/bash\n", 0),
    "etc/group": ("root:x:0:\nbin:x:2:\nsudo:x:27:eve\neve:x:1000:\n", 0),
    "etc/shadow": (SHADOW + f"eve:{HASH}:19500:0:99999:7:::\n", 0),
    "etc/gshadow": ("root:*::\nbin:*::\nsudo:*::eve\neve:!::\n", 0),
    "etc/subuid": ("eve:100000:65536\n", 0),
    "etc/passwd-": (PASSWD, 0),
    "home/eve": (None, 1000),
    "home/eve/.bashrc": (SKEL, 1000),
    "home/eve/notes.txt": ("mine\n", 1000),
}


def test_useradd_is_a_user_added_and_its_files_are_grouped_under_it() -> None:
    found, accs = inspect(EVE_ADDED)
    eve = accs["user eve"]
    assert eve.change == "added" and eve.home_created
    assert eve.after == {
        "uid": 1000,
        "gid": 1000,
        "gecos": "",
        "home": "/home/eve",
        "shell": "/bin/bash",
        "groups": ["eve", "sudo"],  # the primary group and the group that lists eve
        "password": "set",
    }
    assert accs["group eve"].change == "added"
    assert "group sudo" not in accs  # its new member is eve's change (groups), not one of its own
    for path in ("/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow", "/etc/subuid", "/etc/passwd-"):
        assert found[path].klass == "account", path
        assert "user eve" in (found[path].reason or "")
    assert found["/home/eve"].klass == "account" and found["/home/eve/.bashrc"].klass == "account"
    assert found["/home/eve/notes.txt"].klass == "unexplained"  # what a person wrote there is still theirs


def test_the_hash_never_leaves_shadow() -> None:
    found, accs = inspect(EVE_ADDED)
    inv = Inventory(Target("dir", "x", "test"), None, (), (), (), tuple(found.values()), None, None, (), (), ())
    inv = Inventory(**{**{k: getattr(inv, k) for k in inv.__dataclass_fields__}, "accounts": tuple(accs.values())})
    text = json.dumps(inv.to_json()) + json.dumps([f.to_json() for f in from_delta(inv)]) + repr(accs)
    assert HASH not in text and "$y$" not in text and "abcdefgh" not in text


def test_password_states() -> None:
    assert users._shadow("")[0] == "none"
    assert users._shadow("!")[0] == "locked"
    assert users._shadow("*")[0] == "locked"
    assert users._shadow("!" + HASH)[0] == "locked"
    assert users._shadow(HASH)[0] == "set"
    locked = {"etc/shadow": (SHADOW.replace("bin:*:", "bin::"), 0)}
    _, accs = inspect(locked)
    assert accs["user bin"].fields == ("password",) and accs["user bin"].after["password"] == "none"  # type: ignore[index]


def test_a_changed_hash_is_a_password_change_without_the_hash() -> None:
    before = {"etc/shadow": (SHADOW + f"eve:{HASH}:1::::::\n", 0), "etc/passwd": (PASSWD, 0)}
    del before["etc/passwd"]
    _, accs = inspect({"etc/shadow": (SHADOW.replace("root:*:", f"root:{HASH}:"), 0)})
    root = accs["user root"]
    assert root.fields == ("password",) and root.before["password"] == "locked"  # type: ignore[index]
    assert root.after["password"] == "set"  # type: ignore[index]


def test_membership_by_usermod_is_the_users_change() -> None:
    _, accs = inspect({"etc/group": (GROUP.replace("sudo:x:27:", "sudo:x:27:bin"), 0)})
    assert set(accs) == {"user bin"}
    assert accs["user bin"].fields == ("groups",) and accs["user bin"].after["groups"] == ["bin", "sudo"]  # type: ignore[index]


def test_a_hand_edit_of_passwd_that_is_no_account_change_stays_a_file() -> None:
    found, accs = inspect({"etc/passwd": ("# edited\n" + PASSWD, 0)})
    assert not accs and found["/etc/passwd"].klass == "unexplained"
    found, accs = inspect({"etc/passwd": ("# edited\n" + EVE_ADDED["etc/passwd"][0], 0)})
    assert "user eve" in accs and found["/etc/passwd"].klass == "unexplained"  # beyond eve's line


def test_accounts_made_by_a_package_are_explained_one_by_one() -> None:
    upper = {
        "etc/passwd": (
            PASSWD + "sshd:x:100:65534::/run/sshd:/usr/sbin/nologin\neve:x:1000:1000::/home/eve:/bin/sh\n",
            0,
        ),
    }
    found, accs = inspect(upper, {"openssh-server": "adduser --quiet --system --home /run/sshd sshd"})
    assert accs["user sshd"].explained_by == "apt:openssh-server"
    assert accs["user eve"].explained_by is None  # not all-or-nothing
    assert found["/etc/passwd"].klass == "account"
    only_sshd = {"etc/passwd": (PASSWD + "sshd:x:100:65534::/run/sshd:/usr/sbin/nologin\n", 0)}
    found, _ = inspect(only_sshd, {"openssh-server": "adduser --system sshd"})
    assert (found["/etc/passwd"].klass, found["/etc/passwd"].owner) == ("package", "apt:openssh-server")
    _, accs = inspect(only_sshd, {"other": "echo sshd_config"})  # a word, not a part of one
    assert accs["user sshd"].explained_by is None


def test_from_delta_gives_account_findings_for_hand_made_accounts_only() -> None:
    a = AccountChange("user", "eve", "added", None, {"uid": 1000}, explained_by=None)
    b = AccountChange("user", "sshd", "added", None, {"uid": 100}, explained_by="apt:openssh-server")
    inv = Inventory(Target("dir", "x", "t"), None, (), (), (), (), None, None, (), (), (), accounts=(a, b))
    got = [(f.category, f.name, f.detail) for f in from_delta(inv)]
    assert got == [("account", "user eve", "added")]


def test_compare_accounts_by_state() -> None:
    def inv(*accs: AccountChange) -> Inventory:
        return Inventory(Target("dir", "x", "t"), None, (), (), (), (), None, None, (), (), (), accounts=accs)

    state = {"uid": 1000, "gid": 1000, "shell": "/bin/bash"}
    same = AccountChange("user", "eve", "added", None, state)
    assert compare_accounts(inv(same), inv(same)) == []
    other = AccountChange("user", "eve", "added", None, {**state, "shell": "/bin/sh"})
    (f,) = compare_accounts(inv(same), inv(other))
    assert (f.category, f.name, f.detail) == ("account", "user eve", "changed: shell")
    (f,) = compare_accounts(inv(same), inv())
    assert f.actual is None and f.detail == "removed"


def test_hostile_account_files_are_bounded_and_never_crash() -> None:
    huge = "a" * 20000
    weird = (
        f"{huge}:x:1:1::/:/bin/sh\n"  # a name too long
        "bad\x1bname:x:5:5::/:/bin/sh\n"  # control characters
        "n:x:99999999999999999999999:1::/:/bin/sh\n"  # an id too large
        "short:x\n::::::\n:x:1:1::/:/bin/sh\n"
        "dup:x:7:7::/a:/bin/sh\ndup:x:8:8::/b:/bin/sh\n" + "x" * 100000 + "\n"
    )
    _, accs = inspect(
        {"etc/passwd": (PASSWD + weird, 0), "etc/group": (GROUP + "g:x:1:" + ",".join(["m"] * 50000) + "\n", 0)}
    )
    assert set(accs) == {"user dup", "group g"}
    assert accs["group g"].after == {"gid": 1, "members": ["m"]}
    assert accs["user dup"].after["uid"] == 7  # type: ignore[index]  # the first entry wins, as getpwnam's


def test_too_large_account_file_is_an_unknown_not_a_removal(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(users, "MAX_FILE", 10)
    lower, upper = base_layer(), layer({"etc/passwd": (PASSWD + "eve:x:1:1::/:/bin/sh\n", 0)})
    scans = [lower.scan(), upper.scan()]
    d = users.delta(View(scans[:1], [lower]), View(scans, [lower, upper]))
    assert d.changes == [] and any(u.where == "/etc/passwd" for u in d.unknowns)


# -- reading account commands as getopt_long does -------------------------------------------


def test_getopt_long_forms() -> None:
    t = TABLES["useradd"]
    assert getopt_long(["-mU", "-s", "/bin/bash", "app"], t) == (
        [("create-home", None), ("user-group", None), ("shell", "/bin/bash")],
        ["app"],
    )
    assert getopt_long(["-ms", "/bin/bash", "app"], t)[0] == [("create-home", None), ("shell", "/bin/bash")]
    assert getopt_long(["-s/bin/sh", "app"], t)[0] == [("shell", "/bin/sh")]
    assert getopt_long(["--shell=/bin/zsh", "app"], t)[0] == [("shell", "/bin/zsh")]
    assert getopt_long(["--create", "--home-dir", "/srv/a", "a"], t)[0] == [
        ("create-home", None),
        ("home-dir", "/srv/a"),
    ]  # a unique prefix is the option
    assert getopt_long(["-k", "/etc/skel2", "-m", "app"], t)[0] == [("skel", "/etc/skel2"), ("create-home", None)]
    assert getopt_long(["app", "-m"], t) == ([("create-home", None)], ["app"])  # operands first, options after
    assert getopt_long(["-m", "--", "-odd"], t) == ([("create-home", None)], ["-odd"])
    assert getopt_long(["-c", "-m", "app"], t) == ([("comment", "-m")], ["app"])  # -c takes the next word


def test_account_commands_name_their_accounts_and_homes() -> None:
    assert read(["useradd", "-mU", "-s", "/bin/bash", "app"]).home == "/home/app"
    assert read(["useradd", "-ms", "/bin/bash", "app"]).home == "/home/app"
    assert read(["useradd", "-s/bin/sh", "app"]).home is None
    assert read(["useradd", "--create-home", "-b", "/srv", "app"]).home == "/srv/app"
    assert read(["useradd", "-c", "-m", "app"]).home is None  # "-m" is the comment
    assert read(["useradd", "-m", "-d", "/opt/x/", "app"]).home == "/opt/x"
    assert ("group", "sudo") in read(["useradd", "-G", "sudo,adm", "-g", "100", "eve"]).names
    assert read(["usermod", "-aG", "sudo", "eve"]).names == [("user", "eve"), ("group", "sudo")]
    assert read(["usermod", "-L", "eve"]).names == [("user", "eve")]
    assert read(["passwd", "-l", "eve"]).names == [("user", "eve")]
    assert read(["groupadd", "-g", "999", "-r", "pg"]).names == [("group", "pg")]
    assert read(["gpasswd", "-a", "eve", "docker"]).names == [("user", "eve"), ("group", "docker")]
    assert read(["adduser", "--disabled-password", "--gecos", "", "bob"]).home == "/home/bob"
    assert read(["adduser", "--system", "--no-create-home", "x"]).home is None
    assert read(["adduser", "--system", "x"]).home is None  # /nonexistent
    assert read(["adduser", "--home=/srv/y", "y"]).home == "/srv/y"
    assert read(["adduser", "bob", "sudo"]).names == [("user", "bob"), ("group", "sudo")]
    assert read(["addgroup", "--system", "grp"]).names == [("group", "grp")]
    assert read(["useradd", "-m", "$u"]).names[0] == ("user", "*") and read(["useradd", "-m", "$u"]).home is None
    assert read(["chpasswd"]).names == [("user", "*")]


def test_analyse_keeps_account_names_per_run_line() -> None:
    found = analyse("useradd -mU -s /bin/bash app && usermod -aG sudo app && echo ok")
    assert found.accounts and ("user", "app") in found.account_names and ("group", "sudo") in found.account_names
    assert "/home/app" in found.paths


def test_a_loop_over_literal_names_declares_each_account() -> None:
    """`for user in a b; do useradd "$user"; done` (tests/corpus/realworld/python-worker) names a and b;
    a loop over anything else names accounts decided at build time."""
    from drift.dockerfile.shell import analyse

    looped = analyse('for user in worker scheduler; do useradd --system -s /usr/sbin/nologin "$user"; done')
    assert set(looped.account_names) == {("user", "worker"), ("group", "worker"), ("user", "scheduler"),
                                         ("group", "scheduler")}  # fmt: skip
    built = analyse('for user in $(cat /users); do useradd "$user"; done')
    assert ("user", "*") in built.account_names
