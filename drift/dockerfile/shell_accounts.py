"""What an account command in a RUN line declares: the users and groups it names, and the
home folder it makes. `shell.analyse` splits the script into commands; this module reads one
command's words the way the program reads them.

shadow's tools (useradd, usermod, groupadd, ...) read their options with getopt_long: short
options combine (`-mU`), an option's argument is the rest of its word (`-s/bin/sh`) or the next
word, a long option takes `--opt=value` or `--opt value` and may be abbreviated to a unique
prefix, operands may come before options, and `--` ends the options. Debian's adduser and
addgroup (Perl, Getopt::Long) take long options with one or two dashes, `--opt=value` or
`--opt value`.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

WILDCARD = "*"  # an account whose name is decided at build time

# short letter -> (long name, takes an argument); long names -> takes an argument
Table = tuple[dict[str, tuple[str, bool]], dict[str, bool]]


def _table(shorts: str, longs: str) -> Table:
    """shorts as getopt spells them ("b:c:m"), longs as "name= flag ..." with the short's
    long name first in the same order as its letter."""
    long_names = longs.split()
    takes = {name.rstrip("="): name.endswith("=") for name in long_names}
    short: dict[str, tuple[str, bool]] = {}
    letters = [(c, shorts[i + 1 : i + 2] == ":") for i, c in enumerate(shorts) if c != ":"]
    for (letter, arg), name in zip(letters, long_names, strict=False):
        short[letter] = (name.rstrip("="), arg)
    return short, takes


# Debian bookworm's shadow 4.13: useradd.c, usermod.c, groupadd.c, groupmod.c, userdel.c,
# groupdel.c, gpasswd.c, passwd.c, chsh.c, chfn.c (letters paired with their long names).
TABLES: dict[str, Table] = {
    "useradd": _table(
        "b:c:d:De:f:Fg:G:hk:K:lmMNop:rR:P:s:u:UZ:",
        "base-dir= comment= home-dir= defaults expiredate= inactive= add-subids-for-system gid= groups= "
        "help skel= key= no-log-init create-home no-create-home no-user-group non-unique password= system "
        "root= prefix= shell= uid= user-group selinux-user= btrfs-subvolume-home selinux-range=",
    ),
    "usermod": _table(
        "abc:d:e:f:g:G:hl:Lmop:R:P:rs:u:Uv:w:V:W:Z:",
        "append badname comment= home= expiredate= inactive= gid= groups= help login= lock move-home "
        "non-unique password= root= prefix= remove shell= uid= unlock add-subuids= add-subgids= "
        "del-subuids= del-subgids= selinux-user= selinux-range=",
    ),
    "groupadd": _table("fg:hK:op:rR:P:U:", "force gid= help key= non-unique password= system root= prefix= users="),
    "groupmod": _table("ag:hn:op:R:P:U:", "append gid= help new-name= non-unique password= root= prefix= users="),
    "userdel": _table("fhrR:P:Z", "force help remove root= prefix= selinux-user"),
    "groupdel": _table("hR:P:f", "help root= prefix= force"),
    "gpasswd": _table("a:d:Q:rRM:A:", "add= delete= root= remove-password restrict members= administrators="),
    "passwd": _table(
        "adei:khln:qr:R:P:Suw:x:",
        "all delete expire inactive= keep-tokens help lock mindays= quiet repository= root= prefix= status "
        "unlock warndays= maxdays=",
    ),
    "chsh": _table("hR:P:s:", "help root= prefix= shell="),
    "chfn": _table("f:h:o:r:R:P:uw:", "full-name= home-phone= other= room= root= prefix= help work-phone="),
}
# Debian's adduser 3.13x (Getopt::Long; `_` and `-` both accepted in names).
ADDUSER_ARGS = {
    "home", "shell", "uid", "gid", "ingroup", "gecos", "comment", "firstuid", "lastuid", "firstgid", "lastgid",
    "conf", "key", "extrausers-file",
}  # fmt: skip


@dataclass(slots=True)
class AccountWords:
    """What one account command declares."""

    names: list[tuple[str, str]] = field(default_factory=list)  # (kind, name); name WILDCARD: unknown
    home: str | None = None  # the home folder it makes (filled from /etc/skel)


def getopt_long(words: list[str], table: Table) -> tuple[list[tuple[str, str | None]], list[str]]:
    """(option, value) pairs by long name, and the operands, as GNU getopt_long reads them."""
    short, takes = table
    opts: list[tuple[str, str | None]] = []
    operands: list[str] = []
    i = 0
    while i < len(words):
        w = words[i]
        i += 1
        if w == "--":
            operands += words[i:]
            break
        if w.startswith("--"):
            name, eq, value = w[2:].partition("=")
            found = _long(name, takes)
            if found is None:
                continue  # getopt would stop with an error: the command fails, it declares nothing
            if takes[found] and not eq:
                value, eq = (words[i], "=") if i < len(words) else ("", "")
                i += 1
            opts.append((found, value if takes[found] else None))
        elif w.startswith("-") and w != "-":
            for n, letter in enumerate(w[1:], start=1):
                if letter not in short:
                    break
                name, arg = short[letter]
                if arg:
                    rest = w[n + 1 :]
                    if not rest and i < len(words):
                        rest = words[i]
                        i += 1
                    opts.append((name, rest))
                    break
                opts.append((name, None))
        else:
            operands.append(w)  # getopt_long permutes: operands may come before options
    return opts, operands


def _long(name: str, takes: dict[str, bool]) -> str | None:
    if name in takes:
        return name
    matches = [n for n in takes if n.startswith(name)] if name else []
    return matches[0] if len(matches) == 1 else None


def adduser_options(words: list[str]) -> tuple[dict[str, str | None], list[str]]:
    """Getopt::Long as adduser configures it: `--opt`, `-opt`, `--opt=value`, `--opt value`."""
    opts: dict[str, str | None] = {}
    operands: list[str] = []
    i = 0
    while i < len(words):
        w = words[i]
        i += 1
        if w == "--":
            operands += words[i:]
            break
        if w.startswith("-") and w != "-":
            name, eq, value = w.lstrip("-").replace("_", "-").partition("=")
            if name in ADDUSER_ARGS and not eq:
                value = words[i] if i < len(words) else ""
                i += 1
            opts[name] = value if name in ADDUSER_ARGS else None
        else:
            operands.append(w)
    return opts, operands


def _name(word: str) -> str:
    return WILDCARD if "$" in word or "`" in word or not word else word


def read(words: list[str]) -> AccountWords:
    prog = posixpath.basename(words[0])
    if prog in ("adduser", "addgroup", "deluser", "delgroup"):
        return _adduser(prog, words[1:])
    if prog == "chpasswd" or prog == "chgpasswd":
        return AccountWords([("user" if prog == "chpasswd" else "group", WILDCARD)])  # names come from stdin
    table = TABLES.get(prog)
    if table is None:
        return AccountWords()
    opts, operands = getopt_long(words[1:], table)
    values = dict(opts)
    out = AccountWords()
    if prog in ("groupadd", "groupmod", "groupdel"):
        out.names += [("group", _name(operands[-1]))] if operands else []
        if "new-name" in values:
            out.names.append(("group", _name(values["new-name"] or "")))
        return out
    if prog == "gpasswd":
        for key in ("add", "delete"):
            if key in values:
                out.names.append(("user", _name(values[key] or "")))
        out.names += [("group", _name(operands[-1]))] if operands else []
        return out
    user = _name(operands[-1]) if operands else ("root" if prog in ("passwd", "chsh", "chfn") else "")
    if not user or "defaults" in values:
        return out
    out.names.append(("user", user))
    if "login" in values:
        out.names.append(("user", _name(values["login"] or "")))
    for value in (values.get("groups"), values.get("gid")):
        out.names += [("group", _name(g)) for g in (value or "").split(",") if g and not g.isdigit()]
    if prog == "useradd":
        out.names.append(("group", user))  # USERGROUPS_ENAB: a group of the user's name
        if "create-home" in values and "no-create-home" not in values:
            out.home = _home(values.get("home-dir"), values.get("base-dir"), user)
    elif prog == "usermod" and "move-home" in values and values.get("home"):
        out.home = _home(values.get("home"), None, user)
    return out


def _adduser(prog: str, words: list[str]) -> AccountWords:
    opts, operands = adduser_options(words)
    out = AccountWords()
    names = [_name(w) for w in operands]
    group_only = prog in ("addgroup", "delgroup") or ("group" in opts and "system" not in opts)
    if not names:
        return out
    if group_only:
        out.names.append(("group", names[0]))
        return out
    out.names.append(("user", names[0]))
    if len(names) > 1:  # adduser USER GROUP / deluser USER GROUP: membership
        out.names.append(("group", names[1]))
        return out
    if prog == "deluser":
        out.names.append(("group", names[0]))
        return out
    if "system" not in opts or "group" in opts:
        out.names.append(("group", names[0]))
    if opts.get("ingroup"):
        out.names.append(("group", _name(opts["ingroup"] or "")))
    if "no-create-home" not in opts and ("system" not in opts or opts.get("home")):
        out.home = _home(opts.get("home"), None, names[0])  # a system user's default home is /nonexistent
    return out


def _home(home: str | None, base_dir: str | None, user: str) -> str | None:
    if user == WILDCARD or (home and "$" in home) or (base_dir and "$" in base_dir):
        return None
    if home:
        return posixpath.normpath(home)
    return posixpath.join(posixpath.normpath(base_dir or "/home"), user)
