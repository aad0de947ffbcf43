"""What a RUN line's shell commands declare: apt and pip installs, removals, virtual
environments, accounts, paths written; and what cannot be decided statically."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

from drift.dockerfile import shell_accounts
from drift.dockerfile.shellsplit import Op, split_commands

_WRAPPERS = {"sudo", "env", "command", "exec", "nice", "time", "nohup", "stdbuf", "eatmydata"}
_WRITERS = {
    "mkdir", "touch", "cp", "mv", "ln", "rm", "rmdir", "chmod", "chown", "chgrp", "sed", "tee", "install",
    "tar", "unzip", "git", "curl", "wget", "ldconfig", "update-alternatives", "locale-gen", "truncate", "dd",
    "patch", "gunzip", "ssh-keygen", "openssl", "mkfifo", "setcap", "echo", "printf", "cat",
}  # fmt: skip
_APT_VALUE_OPTS = {"-o", "-c", "-t", "--target-release", "--default-release", "-a", "--host-architecture",
                   "--option", "--config-file"}  # fmt: skip
_PIP_VALUE_OPTS = {
    "-r", "--requirement", "-c", "--constraint", "-i", "--index-url", "--extra-index-url", "-t", "--target",
    "--prefix", "--root", "-e", "--editable", "--trusted-host", "-f", "--find-links", "--platform",
    "--python-version", "--implementation", "--abi", "--progress-bar", "--log", "--src", "--upgrade-strategy",
    "--cache-dir", "--global-option", "-C", "--config-settings", "--report", "--python", "--only-binary",
    "--no-binary", "--exists-action", "--proxy", "--retries", "--timeout", "--cert", "--client-cert",
}  # fmt: skip
ACCOUNT_PROGRAMS = {
    "useradd", "adduser", "groupadd", "addgroup", "usermod", "groupmod", "userdel", "deluser", "groupdel",
    "delgroup", "gpasswd", "passwd", "chpasswd", "chgpasswd", "chsh", "chfn",
}  # fmt: skip
_METADATA_ONLY = {"chown", "chmod", "chgrp", "setcap"}
_SHELLS = {"sh", "bash", "dash", "zsh", "ash", "ksh"}


@dataclass(frozen=True, slots=True)
class AptInstall:
    name: str
    pin: str | None
    no_recommends: bool
    yes: bool
    transient: bool = False  # a build dependency: `apt-mark auto '.*'` + `purge --auto-remove` may remove it


@dataclass(frozen=True, slots=True)
class PipInstall:
    spec: str  # a PEP 508 requirement, a path, or a URL
    interpreter: str  # the pip or python command as written (resolves the environment)
    user: bool = False
    target: str | None = None  # --target / --prefix: somewhere else entirely
    editable: bool = False
    requirement_file: str | None = None  # the -r file this came from


@dataclass(slots=True)
class Declared:
    """What one RUN instruction declares."""

    apt_install: list[AptInstall] = field(default_factory=list)
    apt_remove: list[str] = field(default_factory=list)
    apt_upgrade: bool = False
    pip_install: list[PipInstall] = field(default_factory=list)
    pip_uninstall: list[tuple[str, str]] = field(default_factory=list)  # (name, interpreter)
    requirement_files: list[tuple[str, str, dict[str, object]]] = field(default_factory=list)
    venvs: list[str] = field(default_factory=list)
    accounts: bool = False
    account_names: list[tuple[str, str]] = field(default_factory=list)  # (user|group, name or "*")
    paths: list[str] = field(default_factory=list)
    meta_paths: list[str] = field(default_factory=list)  # paths whose owner/mode/time only is changed
    unknowns: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    unknown_apt: bool = False
    unknown_pip: bool = False
    unknown_any: bool = False
    apt_auto_reset: bool = False  # apt-mark auto '.*'
    apt_manual: list[str] = field(default_factory=list)  # apt-mark manual NAME after the reset
    apt_autoremove: bool = False  # apt-get purge/remove --auto-remove, apt-get autoremove


def _strip_prefix(words: list[str]) -> tuple[list[str], bool]:
    """Drop leading VAR=value assignments and wrappers; say whether it was piped into."""
    piped = bool(words) and words[0] == "|"
    if piped:
        words = words[1:]
    while words:
        head = words[0]
        if re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", head):
            words = words[1:]
        elif head in _WRAPPERS:
            words = words[1:]
            while words and words[0].startswith("-"):
                words = words[1:]
        else:
            break
    return words, piped


def _resolve(path: str, workdir: str) -> str:
    return posixpath.normpath(path if path.startswith("/") else posixpath.join(workdir or "/", path))


_FOR = re.compile(r"\bfor\s+([A-Za-z_]\w*)\s+in\s+([^;\n]{0,4096}?)\s*(?:;|\n)\s*do\b")
_LITERAL = re.compile(r"^[A-Za-z0-9_.@+-]{1,64}$")
_MAX_LOOP = 64  # values of one loop that are read


def _loops(script: str) -> dict[str, list[str]]:
    """`for NAME in WORDS; do` loops over literal words: NAME -> its words (a loop with anything
    else in its list, a glob, `$x` or `$(...)`, is left out: its values are decided at build time)."""
    out: dict[str, list[str]] = {}
    for match in _FOR.finditer(script.replace("\\\n", " ")):
        values = [w.strip("'\"") for w in match.group(2).split()]
        if values and len(values) <= _MAX_LOOP and all(_LITERAL.match(v) for v in values):
            out[match.group(1)] = values
    return out


def _loop_variants(words: list[str], loops: dict[str, list[str]]) -> list[list[str]]:
    """WORDS once per value of the one loop variable a word is (`$user`, `${user}`), else as they are."""
    for i, word in enumerate(words):
        name = word[2:-1] if word.startswith("${") and word.endswith("}") else word[1:] if word[:1] == "$" else None
        if name in loops:
            return [[*words[:i], value, *words[i + 1 :]] for value in loops[name]]
    return [words]


def analyse(script: str, *, workdir: str = "/") -> Declared:
    out = Declared()
    loops = _loops(script)
    commands = split_commands(script)
    for raw in commands:
        words, piped = _strip_prefix(raw)
        if not words:
            continue
        _redirections(words, workdir, out)
        words = _without_redirections(words)
        if not words:
            continue
        prog = posixpath.basename(words[0])
        if words[0] == "<unparsable>":
            out.unknowns.append(f"shell that drift cannot read: {words[1][:80]}")
            out.unknown_any = True
        elif any("$(" in w or "`" in w for w in words) and prog in ("apt-get", "apt", "pip", "pip3"):
            out.unknowns.append(f"command substitution in {prog}: the package list is decided at build time")
            out.unknown_apt |= prog.startswith("apt")
            out.unknown_pip |= prog.startswith("pip")
        elif prog in ("apt-get", "apt", "aptitude"):
            _apt(words, out)
        elif prog == "dpkg":
            _dpkg(words, out)
        elif _is_pip(words):
            _pip(words, workdir, out)
        elif (prog.startswith("python") and words[1:3] == ["-m", "venv"]) or prog in ("virtualenv",):
            args = [w for w in words[3 if prog.startswith("python") else 1 :] if not w.startswith("-")]
            out.venvs += [_resolve(a, workdir) for a in args]
        elif prog in ACCOUNT_PROGRAMS:
            out.accounts = True
            for variant in _loop_variants(words, loops):
                found = shell_accounts.read(variant)
                out.account_names += found.names
                out.paths += [found.home] if found.home else []
        elif prog == "apt-mark":
            _apt_mark(words, out)
        elif prog in _SHELLS and (piped or (len(words) > 1 and not words[1].startswith("-"))):
            what = "a script piped into a shell" if piped else f"the script {words[1]}"
            out.unknowns.append(f"runs {what}: what it installs cannot be decided statically")
            out.unknown_any = True
        elif prog in _SHELLS and "-c" in words:
            inner = analyse(words[words.index("-c") + 1] if words.index("-c") + 1 < len(words) else "", workdir=workdir)
            _merge(out, inner)
        elif prog in ("source", ".") and len(words) > 1 and words[1].startswith("/etc/"):
            pass  # a settings file (`. /etc/apache2/envvars`): it sets variables, it installs nothing
        elif (words[0].startswith(("./", "/")) and prog.endswith((".sh", ".py", ".pl"))) or prog in (
            "make",
            "source",
            ".",
        ):
            out.unknowns.append(f"runs {' '.join(words[:2])}: what it installs cannot be decided statically")
            out.unknown_any = True
        elif prog in _WRITERS or prog in IMPLICIT_WRITES:
            out.paths += IMPLICIT_WRITES.get(prog, ()) + tuple(_backups(words))
            named = []
            operands = _operands(prog, words)
            for w in words[1:]:
                if w.startswith("/") or (w.startswith(("./", "../")) and prog != "curl"):
                    named.append(_resolve(w, workdir))
                elif "=" in w and w.split("=", 1)[1].startswith("/"):
                    named.append(_resolve(w.split("=", 1)[1], workdir))
                elif w in operands:
                    named.append(_resolve(w, workdir))  # `rm requirements.txt`: in the WORKDIR
            (out.meta_paths if prog in _METADATA_ONLY else out.paths).extend(named)
    _settle_build_deps(out)
    return out


# Files a command writes without naming them.
IMPLICIT_WRITES: dict[str, tuple[str, ...]] = {
    "locale-gen": ("/usr/lib/locale/locale-archive",),
    "localedef": ("/usr/lib/locale/locale-archive",),
    "update-locale": ("/etc/default/locale",),
    "update-ca-certificates": ("/etc/ssl/certs", "/etc/ca-certificates.conf"),
    "make-ssl-cert": ("/etc/ssl/certs/ssl-cert-snakeoil.pem", "/etc/ssl/private/ssl-cert-snakeoil.key"),
    "a2enmod": ("/etc/apache2/mods-enabled",),
    "a2dismod": ("/etc/apache2/mods-enabled",),
    "a2enconf": ("/etc/apache2/conf-enabled",),
    "a2disconf": ("/etc/apache2/conf-enabled",),
    "a2ensite": ("/etc/apache2/sites-enabled",),
    "a2dissite": ("/etc/apache2/sites-enabled",),
    "update-rc.d": ("/etc/rc?.d/*",),
    "dpkg-reconfigure": ("/etc/default/*", "/etc/timezone", "/etc/localtime", "/etc/locale.gen"),
}


# Commands whose every operand is a path (relative ones in the RUN's working directory), and
# those whose first operand is not (a mode, an owner).
_PATH_OPERANDS = frozenset({"rm", "rmdir", "mkdir", "touch", "tee", "mv", "cp", "install"})
_PATH_AFTER_FIRST = frozenset({"chmod", "chown", "chgrp"})
# short options that take the next word as their value
_VALUE_OPTIONS = {"mkdir": "m", "install": "mogtS", "touch": "dtr", "cp": "tS", "mv": "tS", "ln": "tS"}


def _operands(prog: str, words: list[str]) -> set[str]:
    """The plain words (no option, no variable, no glob) a file command takes as paths."""
    if prog not in _PATH_OPERANDS and prog not in _PATH_AFTER_FIRST:
        return set()
    plain: list[str] = []
    skip = False
    for w in words[1:]:
        if skip:
            skip = False  # an option's value (`mkdir -m 700`, `install -o root`)
        elif w.startswith("--reference"):
            return set()  # chown/chmod --reference=REF FILE: no owner or mode word; rare, not read
        elif w.startswith("-"):
            skip = len(w) == 2 and w[1] in _VALUE_OPTIONS.get(prog, "")
        elif w:
            plain.append(w)
    if prog in _PATH_AFTER_FIRST:
        plain = plain[1:]
    if prog in ("cp", "install") and not (prog == "install" and "-d" in words):
        plain = plain[-1:]  # the sources are read, only the destination is written
    # `.` and `..` name the working directory itself (`cp -r . /opt/app` reads it): never a write
    return {w for w in plain if w not in (".", "..", "./", "../") and not any(c in w for c in "$*?[{`=:")}


def _backups(words: list[str]) -> list[str]:
    """`sed -i.bak FILE` (or --in-place=.bak) keeps FILE.bak beside each FILE it edits."""
    if posixpath.basename(words[0]) not in ("sed", "perl"):
        return []
    suffix = None
    for w in words[1:]:
        if w.startswith("--in-place="):
            suffix = w.split("=", 1)[1]
        elif re.fullmatch(r"-[a-zA-Z]*i\S+", w) and not w.startswith("--"):
            suffix = w[w.index("i") + 1 :]
    if not suffix:
        return []
    return [
        w + suffix if "*" not in suffix else suffix.replace("*", posixpath.basename(w))
        for w in words[1:]
        if w.startswith("/")
    ]


def account_home(words: list[str]) -> list[str]:
    """The home folder a useradd -m / adduser makes (filled from /etc/skel)."""
    home = shell_accounts.read(words).home
    return [home] if home else []


def _apt_mark(words: list[str], out: Declared) -> None:
    args = [w for w in words[1:] if not w.startswith("-")]
    if not args:
        return
    sub, names = args[0], args[1:]
    if sub == "auto" and any(n in (".*", "*", "^.*", "~i") for n in names):
        out.apt_auto_reset = True
    elif sub == "manual" and out.apt_auto_reset:
        out.apt_manual += [n for n in names if "$" not in n]


def _settle_build_deps(out: Declared) -> None:
    """The official images' pattern: savedAptMark="$(apt-mark showmanual)"; apt-get install
    BUILD-DEPS; ...; apt-mark auto '.*'; apt-mark manual $savedAptMark; apt-get purge -y
    --auto-remove. What the RUN installed and did not mark manual again may be gone."""
    if not (out.apt_auto_reset and out.apt_autoremove):
        return
    keep = set(out.apt_manual)
    out.apt_install = [
        a if a.name in keep else AptInstall(a.name, a.pin, a.no_recommends, a.yes, transient=True)
        for a in out.apt_install
    ]


def _merge(out: Declared, inner: Declared) -> None:
    for name in (
        "apt_install",
        "apt_remove",
        "pip_install",
        "pip_uninstall",
        "requirement_files",
        "venvs",
        "account_names",
        "paths",
        "meta_paths",
        "unknowns",
        "problems",
    ):
        getattr(out, name).extend(getattr(inner, name))
    out.apt_upgrade |= inner.apt_upgrade
    out.accounts |= inner.accounts
    out.unknown_apt |= inner.unknown_apt
    out.unknown_pip |= inner.unknown_pip
    out.unknown_any |= inner.unknown_any


def _target(word: str, following: str | None) -> str | None:
    """The file a redirection names (None for `2>&1`, `<&-`, a here-string ...)."""
    if not isinstance(word, Op) or re.fullmatch(r"[<>]&[\d-]*", word.lstrip("0123456789")):
        return None
    return following


def _redirections(words: list[str], workdir: str, out: Declared) -> None:
    for i, w in enumerate(words[:-1]):
        target = _target(w, words[i + 1])
        if target is None or ">" not in w:
            continue
        if target.startswith("/dev/") or target.startswith("&"):
            continue
        out.paths.append(_resolve(target, workdir))


def _without_redirections(words: list[str]) -> list[str]:
    out = []
    skip = False
    for i, w in enumerate(words):
        if skip:
            skip = False
            continue
        if isinstance(w, Op):
            skip = _target(w, words[i + 1] if i + 1 < len(words) else None) is not None
            continue
        out.append(w)
    return out


def _apt(words: list[str], out: Declared) -> None:
    yes = no_rec = False
    sub = None
    args: list[str] = []
    i = 1
    while i < len(words):
        w = words[i]
        if w in _APT_VALUE_OPTS:
            value = words[i + 1] if i + 1 < len(words) else ""
            low = value.lower()
            if "install-recommends" in low and low.endswith(("=false", "=0", "=no")):
                no_rec = True
            if "assume-yes" in low and low.endswith(("=true", "=1", "=yes")):
                yes = True
            i += 2
            continue
        if w.startswith("-"):
            if w in ("-y", "--yes", "--assume-yes", "-qq", "-q=2", "--quiet=2") or (
                re.fullmatch(r"-[a-zA-Z]*y[a-zA-Z]*", w)
            ):
                yes = True
            if w == "--no-install-recommends":
                no_rec = True
            if w.startswith("-o") and "Install-Recommends" in w and w.lower().endswith(("false", "0")):
                no_rec = True
        elif sub is None:
            sub = w
        else:
            args.append(w)
        i += 1
    if sub in ("install", "reinstall"):
        if not yes:
            out.problems.append(f"'{words[0]} install' without -y waits for an answer and stops the build")
        for arg in args:
            if "$" in arg:
                out.unknowns.append(f"apt package list uses {arg}: decided at build time")
                out.unknown_apt = True
            elif arg.startswith(("/", "./", "../")) or arg.endswith(".deb"):
                out.unknowns.append(f"installs a local package file {arg}")
                out.unknown_apt = True
            elif arg.endswith("-") and "=" not in arg:
                out.apt_remove.append(arg[:-1])
            else:
                name, _, pin = arg.partition("=")
                name = name.split("/", 1)[0]
                out.apt_install.append(AptInstall(name, pin or None, no_rec, yes))
    elif sub in ("purge", "remove"):
        out.apt_remove += [a.rstrip("+") for a in args if "$" not in a]
        out.apt_autoremove |= any(w in ("--auto-remove", "--autoremove") for w in words)
    elif sub in ("autoremove", "autopurge"):
        out.apt_autoremove = True
    elif sub in ("upgrade", "dist-upgrade", "full-upgrade"):
        out.apt_upgrade = True


def _dpkg(words: list[str], out: Declared) -> None:
    for i, w in enumerate(words[1:], start=1):
        if w in ("-i", "--install"):
            out.unknowns.append("dpkg -i installs package files: their names are decided at build time")
            out.unknown_apt = True
            return
        if w in ("-P", "--purge", "-r", "--remove"):
            out.apt_remove += [a for a in words[i + 1 :] if not a.startswith("-")]
            return


def _is_pip(words: list[str]) -> bool:
    prog = posixpath.basename(words[0])
    if re.fullmatch(r"pip(3(\.\d+)?)?", prog):
        return True
    return bool(re.fullmatch(r"python(3(\.\d+)?)?", prog)) and words[1:3] == ["-m", "pip"]


def _pip(words: list[str], workdir: str, out: Declared) -> None:
    interpreter = words[0]
    rest = words[3:] if words[1:3] == ["-m", "pip"] else words[1:]
    while rest and rest[0].startswith("-"):  # global options before the subcommand
        rest = rest[1:]
    if not rest:
        return
    sub, args = rest[0], rest[1:]
    if sub == "uninstall":
        out.pip_uninstall += [(a, interpreter) for a in args if not a.startswith("-")]
        return
    if sub != "install":
        return
    user = "--user" in args
    target = None
    i = 0
    specs: list[tuple[str, bool]] = []
    opts: dict[str, object] = {"user": user}  # shared by this command's -r files; the target is set below
    while i < len(args):
        a = args[i]
        opt, eq, val = a.partition("=")
        if opt in _PIP_VALUE_OPTS:
            value = val if eq else (args[i + 1] if i + 1 < len(args) else "")
            i += 1 if eq else 2
            if opt in ("-r", "--requirement"):
                out.requirement_files.append(
                    (_resolve(value, workdir) if not value.startswith("$") else value, interpreter, opts)
                )
            elif opt in ("-e", "--editable"):
                specs.append((value, True))
            elif opt in ("-t", "--target", "--prefix", "--root"):
                target = _resolve(value, workdir) if not value.startswith("$") else value
            continue
        if a.startswith("-"):
            i += 1
            continue
        specs.append((a, False))
        i += 1
    opts["target"] = target
    for spec, editable in specs:
        if "$" in spec:
            out.unknowns.append(f"pip requirement {spec} is decided at build time")
            out.unknown_pip = True
            continue
        if is_local_spec(spec):
            spec = _resolve(spec, workdir)  # a folder or a wheel/sdist file, as the RUN's working directory reads it
        out.pip_install.append(PipInstall(spec, interpreter, user=user, target=target, editable=editable))


_ARCHIVES = (".whl", ".tar.gz", ".zip", ".tar.bz2", ".tgz")


def is_local_spec(spec: str) -> bool:
    """A pip argument that names a local folder or a wheel/sdist file (not a requirement or a URL)."""
    if "://" in spec or " @ " in spec or "@" in spec.split("/", 1)[0]:
        return False
    return spec.startswith((".", "/", "~")) or "/" in spec or spec.endswith(_ARCHIVES)
