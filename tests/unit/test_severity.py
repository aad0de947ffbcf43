"""drift.severity: every rule of the table, by cases built as the collectors build findings."""

from __future__ import annotations

from typing import Any

import pytest

from drift import severity
from drift.compare import delta_file_finding
from drift.diff.modes import from_delta
from drift.model import FileChange, Finding, Inventory, Target


def file(path: str, change: str = "added", mode: str = "0644", kind: str = "file", **extra: Any) -> Finding:
    """A file finding as drift.diff.from_delta makes it (plus the optional keys of the contract)."""
    actual = {"change": change, "kind": kind, "mode": mode, "size": 10, **extra}
    return Finding("file", None, path, None, actual, detail=change)


def user(name: str, detail: str = "added", expected: dict[str, Any] | None = None, **now: Any) -> Finding:
    actual = {"uid": 1000, "gid": 1000, "home": f"/home/{name}", "shell": "/bin/bash", "groups": [], **now}
    actual["password"] = now.get("password", "locked")
    gone = detail == "removed"
    return Finding(
        "account", None, f"user {name}", actual if gone else expected, None if gone else actual, detail=detail
    )


def group(name: str, members: list[str], detail: str = "added", before: list[str] | None = None) -> Finding:
    expected = {"gid": 27, "members": before} if before is not None else None
    return Finding("account", None, f"group {name}", expected, {"gid": 27, "members": members}, detail=detail)


def pkg_file(path: str, mode: str = "0644", **extra: Any) -> Finding:
    pf = {"package": "apt:libc6", "algorithm": "md5", "recorded": "a" * 32, "actual": "b" * 32}
    return file(path, "modified", mode, package_file=pf, **extra)


CASES: list[tuple[str, Finding, str, str]] = [
    # critical
    ("uid 0 not root", user("toor", uid=0), "critical", "second-root"),
    ("uid changed to 0", user("app", "changed: uid", uid=0, shell="/usr/sbin/nologin"), "critical", "second-root"),
    ("ld.so.preload added", file("/etc/ld.so.preload"), "critical", "ld-preload"),
    ("ld.so.preload modified", file("/etc/ld.so.preload", "modified"), "critical", "ld-preload"),
    ("setuid root added", file("/usr/local/bin/x", mode="4755", executable=True), "critical", "setuid-root"),
    (
        "setuid root by mode change",
        file("/usr/bin/find", "modified", "4755", base_mode="0755", owner="0:0"),
        "critical",
        "setuid-root",
    ),
    # high
    ("cron.d", file("/etc/cron.d/job"), "high", "trust-path"),
    ("crontab", file("/etc/crontab", "modified"), "high", "trust-path"),
    ("spool cron", file("/var/spool/cron/crontabs/root"), "high", "trust-path"),
    ("systemd /lib", file("/lib/systemd/system/evil.service"), "high", "trust-path"),
    ("systemd /usr/lib", file("/usr/lib/systemd/system/evil.service"), "high", "trust-path"),
    (
        "systemd /etc",
        file("/etc/systemd/system/multi-user.target.wants/x.service", kind="symlink"),
        "high",
        "trust-path",
    ),
    ("init.d", file("/etc/init.d/x"), "high", "trust-path"),
    ("rc2.d", file("/etc/rc2.d/S01x", kind="symlink"), "high", "trust-path"),
    ("profile.d", file("/etc/profile.d/x.sh"), "high", "trust-path"),
    ("bash.bashrc", file("/etc/bash.bashrc", "modified"), "high", "trust-path"),
    ("root bashrc", file("/root/.bashrc", "modified"), "high", "trust-path"),
    ("home profile", file("/home/app/.profile"), "high", "trust-path"),
    ("odd home bash_profile", file("/srv/app/.bash_profile"), "high", "trust-path"),
    ("ld.so.conf.d", file("/etc/ld.so.conf.d/x.conf"), "high", "trust-path"),
    ("authorized_keys", file("/root/.ssh/authorized_keys"), "high", "trust-path"),
    ("sshd_config", file("/etc/ssh/sshd_config", "modified"), "high", "trust-path"),
    ("sudoers.d", file("/etc/sudoers.d/app"), "high", "trust-path"),
    ("pam.d deleted", file("/etc/pam.d/common-auth", "deleted"), "high", "trust-path"),
    ("pam module /lib", file("/lib/x86_64-linux-gnu/security/pam_x.so"), "high", "trust-path"),
    ("pam module /usr/lib", file("/usr/lib/x86_64-linux-gnu/security/pam_x.so"), "high", "trust-path"),
    ("ca store", file("/usr/local/share/ca-certificates/corp.crt"), "high", "trust-path"),
    ("ssl certs", file("/etc/ssl/certs/corp.pem", kind="symlink"), "high", "trust-path"),
    ("ca-certificates.conf", file("/etc/ca-certificates.conf", "modified"), "high", "trust-path"),
    (
        "conffile of pam",
        Finding("file", "apt", "/etc/pam.d/su", "as packaged", "modified", detail="conffile of util-linux: modified"),
        "high",
        "trust-path",
    ),
    ("setgid added", file("/usr/local/bin/g", mode="2755"), "high", "setid-added"),
    ("setuid on a non-root owner", file("/opt/x", mode="4755", owner="1000:1000"), "high", "setid-added"),
    ("new ELF", file("/usr/local/bin/tool", mode="0755", executable=True), "high", "executable"),
    ("changed script", file("/opt/app/run", "modified", "0755", executable=True), "high", "executable"),
    ("package .so", pkg_file("/usr/lib/x86_64-linux-gnu/libz.so.1.2.13"), "high", "package-code"),
    ("package .py", pkg_file("/usr/lib/python3/dist-packages/x/__init__.py"), "high", "package-code"),
    ("package binary", pkg_file("/usr/bin/ls", "0755", executable=True), "high", "package-code"),
    ("user with a shell", user("eve"), "high", "login-account"),
    ("root's password set", user("root", "changed: password", uid=0, password="set"), "high", "login-account"),
    (
        "added to sudo",
        user("svc", "changed: groups", expected={"groups": []}, shell="/usr/sbin/nologin", groups=["sudo"]),
        "high",
        "privileged-group",
    ),
    ("docker group member", group("docker", ["app"], "changed: members", before=[]), "high", "privileged-group"),
    ("runs as root", Finding("config", None, "User", "app", ""), "high", "runs-as-root"),
    # medium
    ("etc edit", file("/etc/hosts.allow", "modified"), "medium", "etc"),
    ("etc deleted", file("/etc/motd", "deleted"), "medium", "etc"),
    (
        "conffile",
        Finding(
            "file", "apt", "/etc/default/useradd", "as packaged", "modified", detail="conffile of passwd: modified"
        ),
        "medium",
        "etc",
    ),
    ("package README", pkg_file("/usr/share/doc/libc6/README"), "medium", "package-file"),
    ("config", Finding("config", None, "Env.DEBUG", None, "1"), "medium", "config"),
    ("undocumented", Finding("undocumented", "apt", "netcat", None, "1.2"), "medium", "package"),
    ("missing", Finding("missing", "pip", "requests", "2.0", None), "medium", "package"),
    ("system user", user("svc", shell="/usr/sbin/nologin"), "medium", "account"),
    ("plain group", group("app", []), "medium", "account"),
    # low
    ("user removed", user("old", "removed"), "low", "account-removed"),
    ("version", Finding("version", "apt", "openssl", "3.0.15", "3.0.17"), "low", "version"),
    ("plain file", file("/srv/data/x.json"), "low", "file"),
    ("setuid already there", file("/usr/bin/x", "modified", "4755", base_mode="4755"), "low", "file"),
    ("deleted setuid", file("/usr/local/bin/x", "deleted", "4755"), "low", "file"),
    ("setgid folder", file("/var/local/x", mode="2775", kind="dir"), "low", "file"),
    ("deleted executable", file("/usr/local/bin/x", "deleted", "0755", executable=True), "low", "file"),
    ("dockerfile", Finding("dockerfile", None, "FROM", detail="unpinned base"), "low", "dockerfile"),
    # info
    ("mark", Finding("mark", "apt", "curl", "auto", "manual"), "info", "info"),
    ("unknown", Finding("unknown", None, "/etc/pam.d/x", None, {"change": "added"}), "info", "info"),
]


@pytest.mark.parametrize(("finding", "want", "rule_id"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rule(finding: Finding, want: str, rule_id: str) -> None:
    assert severity.rule(finding).id == rule_id
    assert finding.severity == want
    assert finding.to_json()["severity"] == want
    assert severity.rate_json(finding.to_json()) == want  # as read back from the report store


def test_every_rule_has_a_case() -> None:
    covered = {c[3] for c in CASES}
    assert {r.id for r in severity.RULES} <= covered


def test_setuid_compared_with_the_expected_image() -> None:
    """Two images: a setuid bit in both is not added; one in the actual only is."""
    both = Finding("file", None, "/usr/bin/x", {"change": "added", "kind": "file", "mode": "4755", "owner": "0:0"},
                   {"change": "added", "kind": "file", "mode": "4755", "owner": "0:0"}, detail="sha256")  # fmt: skip
    assert both.severity == "low"
    new = Finding("file", None, "/usr/bin/x", {"change": "added", "kind": "file", "mode": "0755", "owner": "0:0"},
                  {"change": "added", "kind": "file", "mode": "4755", "owner": "0:0"}, detail="mode")  # fmt: skip
    assert new.severity == "critical"


def test_merged_paths() -> None:
    assert severity.merged("/lib/systemd/x") == "/usr/lib/systemd/x"
    assert severity.merged("/sbin/init") == "/usr/sbin/init"
    assert severity.merged("/library/x") == "/library/x"
    assert severity.merged("/usr/lib/x") == "/usr/lib/x"


def test_order_and_floor() -> None:
    assert severity.SEVERITIES == ("critical", "high", "medium", "low", "info")
    assert severity.at_least("critical", "high") and severity.at_least("high", "high")
    assert not severity.at_least("medium", "high")
    assert severity.split_fail_on(["file", "severity:HIGH"]) == (("file",), "high")
    with pytest.raises(ValueError, match="critical, high, medium, low, info"):
        severity.split_fail_on(["severity:urgent"])
    with pytest.raises(ValueError, match="twice"):
        severity.split_fail_on(["severity:high", "severity:low"])


def test_category_severities_cover_every_category() -> None:
    from drift.model import FINDING_CATEGORIES

    table = severity.category_severities()
    assert set(table) == set(FINDING_CATEGORIES)
    assert table["mark"] == ("info",) and table["file"] == ("critical", "high", "medium", "low")


def test_markdown_table() -> None:
    text = severity.markdown_table()
    assert text.startswith("| # | severity | finding | why |")
    assert text.count("\n") == len(severity.RULES) + 4  # header, rule line, rules, blank, paths
    assert "`/etc/pam.d/*`" in text
    assert "**critical**" in text and "`mark, unknown`" in text


def _change(path: str, change: str = "added", mode: int = 0o644, klass: str = "unexplained") -> FileChange:
    return FileChange(path, change, "file", 1, mode, 0, 0, klass)  # type: ignore[arg-type]


def test_inspect_rates_a_file_change_as_diff_rates_its_finding() -> None:
    """`drift inspect` (FileChange.severity) and `drift diff` TARGET mode (from_delta) agree."""
    changes = (
        _change("/etc/pam.d/common-auth", "deleted"),
        _change("/usr/local/bin/su2", mode=0o4755),
        _change("/etc/motd", "modified"),
        _change("/srv/x"),
        _change("/usr/bin/ls", "modified", 0o755, "package"),
    )
    inv = Inventory(Target("image", "x", "test"), None, (), (), (), changes, None, None, (), (), ())
    by_path = {f.name: f.severity for f in from_delta(inv) if f.category == "file"}
    assert by_path == {c.path: c.severity for c in changes if c.klass == "unexplained"}
    assert by_path == {"/etc/pam.d/common-auth": "high", "/usr/local/bin/su2": "critical", "/etc/motd": "medium",
                       "/srv/x": "low"}  # fmt: skip
    assert changes[-1].severity is None and changes[-1].to_json()["severity"] is None
    assert changes[0].to_json()["severity"] == "high"
    assert delta_file_finding(changes[1]).to_json() == from_delta(inv)[1].to_json()
