"""How serious a finding is: one ordered rule table, the first rule that matches wins.

Every output reads a finding's severity from here (`Finding.severity` calls `rate`), so the
table below is the whole policy: `critical` for a second root or code forced into every
process, `high` for what runs, persists or decides who may log in, `medium` for other
configuration and undeclared software, `low` for versions and plain files, `info` for what
only describes. `markdown_table()` writes it for the README.

Rules read the finding's JSON shape only (category, name, expected, actual, detail, as
documented for `drift.diff/v1`), never Docker or the store, so a finding read back from the
report store is rated exactly as a fresh one.
"""

from __future__ import annotations

import fnmatch
import functools
import posixpath
import re
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from drift.model import Finding

Severity = Literal["critical", "high", "medium", "low", "info"]
SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low", "info")  # most serious first
RANK: dict[str, int] = {s: i for i, s in enumerate(SEVERITIES)}

# SARIF `properties.security-severity`, a number as a string (GitHub code scanning's scale:
# >= 9.0 critical, >= 7.0 high, >= 4.0 medium, > 0 low).
SECURITY_SEVERITY: dict[str, str] = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "0.0"}
# SARIF `level`: what a result viewer shows as error, warning or note.
SARIF_LEVEL: dict[str, str] = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}


# ---- what a rule looks at ----------------------------------------------------------------------

# usrmerge: /bin, /sbin and /lib* are links into /usr, so one pattern covers both spellings.
_MERGED = ("/bin/", "/sbin/", "/lib/", "/lib32/", "/lib64/", "/libx32/")

# Paths that persist code, run it at login or boot, or decide who is trusted (fnmatch, `*`
# crosses `/`; written with /usr/lib, which also matches /lib).
TRUST_PATHS: tuple[str, ...] = (
    # scheduled jobs
    "/etc/crontab",
    "/etc/cron.*",
    "/etc/anacrontab",
    "/var/spool/cron/*",
    # services started at boot
    "/etc/systemd/*",
    "/usr/lib/systemd/*",
    "/usr/local/lib/systemd/*",
    "/etc/init.d/*",
    "/etc/rc.local",
    "/etc/rc*.d/*",
    "/etc/init/*",
    # shell startup files
    "/etc/profile",
    "/etc/profile.d/*",
    "/etc/bash.bashrc",
    "/etc/environment",
    "*/.bashrc",
    "*/.profile",
    "*/.bash_profile",
    "*/.bash_login",
    "*/.bash_logout",
    "*/.zshrc",
    "*/.zprofile",
    # the dynamic loader's search path
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d/*",
    # who may log in, and as whom
    "*/.ssh/authorized_keys",
    "*/.ssh/authorized_keys2",
    "/etc/ssh/sshd_config",
    "/etc/ssh/sshd_config.d/*",
    "/etc/sudoers",
    "/etc/sudoers.d/*",
    "/etc/pam.conf",
    "/etc/pam.d/*",
    "/etc/security/*",
    "/usr/lib/security/*",
    "/usr/lib/*/security/*",
    "/usr/lib64/security/*",
    # the CA store: whom TLS trusts
    "/etc/ssl/certs/*",
    "/etc/ca-certificates.conf",
    "/etc/ca-certificates/*",
    "/usr/local/share/ca-certificates/*",
    "/usr/share/ca-certificates/*",
    "/etc/pki/*",
)
PRELOAD_PATHS: tuple[str, ...] = ("/etc/ld.so.preload",)
CODE_SUFFIXES: tuple[str, ...] = (
    ".so",
    ".py",
    ".pyc",
    ".pl",
    ".pm",
    ".rb",
    ".js",
    ".mjs",
    ".cjs",
    ".sh",
    ".bash",
    ".php",
    ".lua",
    ".jar",
    ".class",
)
NO_LOGIN_SHELLS = frozenset({"", "nologin", "false", "true", "sync", "halt", "shutdown"})
PRIVILEGED_GROUPS = frozenset({"root", "sudo", "wheel", "admin", "adm", "shadow", "disk", "docker", "staff"})
ROOT_USERS = frozenset({"", "root", "0", "0:0", "root:root"})


def merged(path: str) -> str:
    """The path as a usrmerge system spells it: /lib/x -> /usr/lib/x."""
    path = posixpath.normpath("/" + path.lstrip("/")) if path else path
    return "/usr" + path if path.startswith(_MERGED) else path


@functools.cache
def _pattern(patterns: tuple[str, ...]) -> re.Pattern[str]:
    """The patterns as one regular expression (a finding is rated several times per output)."""
    return re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in patterns))


def _matches(path: str, patterns: tuple[str, ...]) -> bool:
    return _pattern(patterns).match(path) is not None


def _mode(value: Any) -> int | None:
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value, 8)
        except ValueError:
            return None
    return None


def _is_code(path: str) -> bool:
    name = posixpath.basename(path)
    return name.endswith(CODE_SUFFIXES) or ".so." in name


def _login_shell(shell: Any) -> bool:
    return isinstance(shell, str) and posixpath.basename(shell.strip()) not in NO_LOGIN_SHELLS


@dataclass(slots=True)  # not frozen: made once per rating, and a frozen init costs
class Facts:
    """What the rules read of one finding, worked out once."""

    category: str
    manager: str | None
    name: str
    path: str  # `name` as a usrmerge path (files); else `name`
    change: str | None  # added, modified, deleted (files; None when unsaid: a content difference)
    kind: str | None
    setid_added: bool  # a setuid or setgid bit the file did not have before (regular files)
    setuid_root: bool  # ... and it is setuid, owned by root (or by an owner not said)
    exec_bit: bool
    executable: bool  # ELF or `#!` with an exec bit
    package_file: dict[str, Any] | None
    conffile: bool
    detail: str
    expected: Any
    actual: Any


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def facts(f: Finding) -> Facts:
    actual, expected = _dict(f.actual), _dict(f.expected)
    change = actual.get("change")
    if f.category == "file" and f.actual is None and f.expected is not None:
        change = "deleted"  # there before (or in the expected image), not now
    elif change is None and f.category == "file" and not isinstance(f.actual, dict):
        change = "deleted" if f.actual in ("missing", "deleted") else "modified"
    mode = _mode(actual.get("mode"))
    old = _mode(actual.get("base_mode")) if "base_mode" in actual else _mode(expected.get("mode"))
    kind = actual.get("kind") or expected.get("kind")
    regular = kind in (None, "file", "hardlink")
    setid = stat.S_ISUID | stat.S_ISGID
    added_bits = 0 if mode is None or change == "deleted" else mode & setid & ~(old or 0)
    owner = str(actual.get("owner") or "")
    return Facts(
        category=f.category,
        manager=f.manager,
        name=f.name,
        path=merged(f.name) if f.category == "file" else f.name,
        change=change,
        kind=kind,
        setid_added=regular and bool(added_bits),
        setuid_root=regular and bool(added_bits & stat.S_ISUID) and owner.split(":", 1)[0] in ("", "0"),
        exec_bit=mode is not None and bool(mode & 0o111),
        executable=actual.get("executable") is True,
        package_file=actual.get("package_file") if isinstance(actual.get("package_file"), dict) else None,
        conffile=f.category == "file" and (f.detail or "").startswith("conffile of "),
        detail=f.detail or "",
        expected=f.expected,
        actual=f.actual,
    )


# ---- accounts ------------------------------------------------------------------------------------


def _account(x: Facts) -> tuple[str, str, dict[str, Any]]:
    """("user" | "group", name, the account as it is now, else as it was)."""
    what, _, name = x.name.partition(" ")
    return what, name, _dict(x.actual) or _dict(x.expected)


def _second_root(x: Facts) -> bool:
    what, name, now = _account(x)
    return what == "user" and not x.detail.startswith("removed") and str(now.get("uid")) == "0" and name != "root"


def _can_log_in(x: Facts) -> bool:
    """An added user who can log in, or a user whose shell, password or uid changed and who can."""
    what, _, now = _account(x)
    if what != "user" or x.detail.startswith("removed") or not _login_shell(now.get("shell")):
        return False
    if x.detail.startswith("added") or str(now.get("uid")) == "0":
        return True
    return any(field in x.detail for field in ("shell", "password", "uid"))


def _privileged_group(x: Facts) -> bool:
    """A user put in, or a group given, root's powers: sudo, wheel, adm, shadow, docker ..."""
    what, name, now = _account(x)
    if x.detail.startswith("removed"):
        return False
    if what == "group":
        before = set(_dict(x.expected).get("members") or ())
        return name in PRIVILEGED_GROUPS and bool(set(now.get("members") or ()) - before)
    before = set(_dict(x.expected).get("groups") or ())
    return bool((set(now.get("groups") or ()) - before) & PRIVILEGED_GROUPS)


# ---- the table -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    severity: Severity
    categories: tuple[str, ...]  # the finding categories it can match
    when: str  # what it matches, for a person
    reason: str  # why that severity, one line
    test: Callable[[Facts], bool]

    def matches(self, x: Facts) -> bool:
        return x.category in self.categories and self.test(x)


def _changed(x: Facts) -> bool:
    return x.change != "deleted"


RULES: tuple[Rule, ...] = (
    Rule("second-root", "critical", ("account",), "a user other than root with uid 0",
         "a second root account: full control under a name nobody watches", _second_root),
    Rule("ld-preload", "critical", ("file",), "/etc/ld.so.preload added or changed",
         "its libraries are loaded into every program started",
         lambda x: _changed(x) and _matches(x.path, PRELOAD_PATHS)),
    Rule("setuid-root", "critical", ("file",), "a setuid bit added on a file owned by root",
         "any user who runs it runs it as root", lambda x: x.setuid_root),
    Rule("trust-path", "high", ("file",),
         "cron, systemd/init units, shell startup files, ld.so.conf, authorized_keys, sshd_config, sudoers, "
         "PAM (config and modules), the CA store: added, changed or deleted",
         "code that runs at boot or login, or who may log in and whom TLS trusts; deleting one can switch a check off",
         lambda x: _matches(x.path, TRUST_PATHS)),
    Rule("setid-added", "high", ("file",), "a setuid or setgid bit added",
         "runs with its owner's or group's rights whoever starts it", lambda x: x.setid_added),
    Rule("executable", "high", ("file",),
         "an executable (ELF or #! with an exec bit) added or changed that is no package's file",
         "code no package accounts for", lambda x: _changed(x) and x.executable and x.package_file is None),
    Rule("package-code", "high", ("file",),
         "a package's file changed that is executable or code (.so, .py, .pl, .pm, .rb, .js, .sh ...)",
         "the package's code is not what the package shipped",
         lambda x: x.package_file is not None and (x.executable or x.exec_bit or _is_code(x.path))),
    Rule("login-account", "high", ("account",), "a user added (or whose shell, password or uid changed) who can log in",
         "a new way in: an account with a login shell", _can_log_in),
    Rule("privileged-group", "high", ("account",),
         "a user added to a privileged group (root, sudo, wheel, adm, shadow, disk, docker, staff)",
         "membership that grants root's powers", _privileged_group),
    Rule("runs-as-root", "high", ("config",), "the config's User changed to root",
         "the container's processes run as root, unlike what was expected",
         lambda x: x.name == "User" and str(x.actual or "") in ROOT_USERS and str(x.expected or "") not in ROOT_USERS),
    Rule("etc", "medium", ("file",), "any other file under /etc added, changed or deleted; a changed conffile",
         "configuration of the system's software", lambda x: x.conffile or x.path.startswith("/etc/")),
    Rule("package-file", "medium", ("file",), "a package's file changed (not code)",
         "the package's data is not what it shipped", lambda x: x.package_file is not None),
    Rule("config", "medium", ("config",), "an image config setting differs (ENV, CMD, ENTRYPOINT, USER, ...)",
         "changes what the container runs or how", lambda x: True),
    Rule("package", "medium", ("undocumented", "missing"), "a package installed that nothing declares, or one missing",
         "software nobody reviewed, or software expected and absent", lambda x: True),
    Rule("account-removed", "low", ("account",), "a user or group removed",
         "one fewer way in; worth knowing", lambda x: x.detail.startswith("removed")),
    Rule("account", "medium", ("account",), "any other account change (a system user without a shell, a group)",
         "who owns files and processes", lambda x: True),
    Rule("version", "low", ("version",), "a package at another version",
         "the same software, another release", lambda x: True),
    Rule("file", "low", ("file",), "any other file added, changed or deleted",
         "data, not code or configuration", lambda x: True),
    Rule("dockerfile", "low", ("dockerfile",), "a problem in the Dockerfile itself",
         "about the description, not the image", lambda x: True),
    Rule("info", "info", ("mark", "unknown"), "a manual/auto mark; what could not be decided",
         "describes, changes nothing that runs", lambda x: True),
)  # fmt: skip
_FALLBACK = Rule("other", "low", (), "anything else", "no rule above says more", lambda x: True)


_BY_CATEGORY: dict[str, tuple[Rule, ...]] = {
    c: tuple(r for r in RULES if c in r.categories) for r in RULES for c in r.categories
}


def rule(f: Finding) -> Rule:
    """The first rule of RULES that matches the finding."""
    x = facts(f)
    return next((r for r in _BY_CATEGORY.get(x.category, ()) if r.test(x)), _FALLBACK)


def rate(f: Finding) -> Severity:
    return rule(f).severity


def reason(f: Finding) -> str:
    return rule(f).reason


@dataclass(frozen=True, slots=True)
class _Stored:
    """What the rules read of a finding, for one given as JSON (drift.model is not imported:
    its findings ask this module for their severity)."""

    category: str
    manager: str | None
    name: str
    expected: Any
    actual: Any
    detail: str | None


def rate_json(data: dict[str, Any]) -> Severity:
    """The severity of a finding given as its JSON (a stored report finding)."""
    stored = _Stored(
        str(data.get("category") or "unknown"),
        data.get("manager"),
        str(data.get("name") or ""),
        data.get("expected"),
        data.get("actual"),
        data.get("detail"),
    )
    return rate(stored)  # type: ignore[arg-type]  # the rules read only these fields


def at_least(severity: str | None, floor: str) -> bool:
    """Whether SEVERITY is FLOOR or more serious."""
    return RANK.get(severity or "info", len(SEVERITIES)) <= RANK[floor]


def category_severities() -> dict[str, tuple[str, ...]]:
    """For each category, the severities a rule can give it (most serious first): the
    series a metrics output writes zeros for."""
    out: dict[str, set[str]] = {}
    for r in RULES:
        for c in r.categories:
            out.setdefault(c, set()).add(r.severity)
    return {c: tuple(s for s in SEVERITIES if s in sevs) for c, sevs in out.items()}


# ---- --fail-on severity:LEVEL --------------------------------------------------------------------

FAIL_ON_PREFIX = "severity:"


def split_fail_on(values: Iterable[str]) -> tuple[tuple[str, ...], str | None]:
    """(the other --fail-on values, the severity floor or None). Raises ValueError with the
    message for a level that is not one, or for a floor given twice."""
    others: list[str] = []
    floor: str | None = None
    for value in values:
        if not value.startswith(FAIL_ON_PREFIX):
            others.append(value)
            continue
        level = value[len(FAIL_ON_PREFIX) :].strip().lower()
        if level not in RANK:
            raise ValueError(f"--fail-on {value}: the level is one of {', '.join(SEVERITIES)}")
        if floor is not None and floor != level:
            raise ValueError(f"--fail-on: severity given twice ({floor}, {level}); give one minimum")
        floor = level
    return tuple(others), floor


def markdown_table() -> str:
    """The rule table as Markdown (README): first match wins."""
    lines = ["| # | severity | finding | why |", "|---:|---|---|---|"]
    for i, r in enumerate(RULES, 1):
        cats = ", ".join(r.categories)
        lines.append(f"| {i} | **{r.severity}** | `{cats}`: {_md(r.when)} | {_md(r.reason)} |")
    paths = ", ".join(f"`{p}`" for p in TRUST_PATHS)
    lines += [
        "",
        f"Trust and persistence paths (rule `trust-path`; `*` crosses `/`, `/lib` matches as `/usr/lib`): {paths}.",
    ]
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("*", "\\*").replace("_", "\\_")
