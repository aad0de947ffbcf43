"""What a package's maintainer scripts name, read without running them.

A maintainer script makes and removes files through literal paths, through loops over
literal words (`for f in a b; do touch /etc/x/$f; done`), through variables set to literals
(`DIR=/var/lib/foo; mkdir $DIR/cache`) and through helper scripts its own package ships
(`/usr/share/foo/setup`, `foo-setup`). `names(text)` expands that much of the shell, once and
linearly: words are split the way sh splits them (quotes, escapes, continuations), `$VAR`,
`${VAR}`, `${VAR:-lit}` and `{a,b}` are replaced by the literal values the script gives them,
and every absolute path in the result is a name. What cannot be known (a command's output,
a positional argument, a variable never set to a literal) names nothing, with one join: a
word `$unknown.pub` names `P.pub` for every path P the script names itself (ssh-keygen's key
pairs, `.dpkg-old` copies).

Broad names explain little: a glob explains only what it matches below a literal folder of
at least two components (and a bare `*` only below /var/lib or /var/spool); a named folder
explains what is under it only below /var/lib or /var/spool (a package's state), never
below /etc, where a person's change matters most. Work is bounded whatever the input
(MAX_* below): a script is data to read, never code to run.

`index(texts)` merges the names of several packages into sets, so that a path is explained
by set lookups on it and its folders, not by searching every script's text for it.
"""

from __future__ import annotations

import hashlib
import itertools
import posixpath
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from drift.sources.fs import View

MAX_TEXT = 2 << 20  # the scripts of one package, helpers included (the rest is not read)
MAX_HELPER = 256 << 10  # one helper script read from the package
MAX_HELPERS = 16  # helpers read per package (over both levels)
HELPER_DEPTH = 2  # a helper's helper is read; no deeper
MAX_VALUES = 256  # values one variable may hold (a loop over more keeps the first)
MAX_WORD = 256  # expansions of one word
MAX_EXPANSIONS = 100_000  # expansions of one script, all words together
MAX_NAMES = 50_000  # names kept from one script
MAX_PATH = 4096
MAX_SUFFIXES = 64

SEPARATOR = "\n#\0drift: next file\0\n"  # between the scripts of one package (and its helpers)
TREE_ROOTS = ("/var/lib/", "/var/spool/")  # a named folder here holds the package's state
BIN_DIRS = ("/bin", "/sbin", "/usr/bin", "/usr/sbin")
DATA_DIRS = ("/usr/lib/tmpfiles.d", "/usr/lib/sysusers.d")  # read by name: `systemd-tmpfiles --create x.conf`
DPKG_EMPTY = frozenset({"DPKG_ROOT"})  # empty when dpkg runs scripts for the running system

REMOVERS = frozenset({"rm", "rmdir", "unlink"})
KEYWORDS = frozenset({"if", "then", "else", "elif", "fi", "do", "done", "while", "until", "!", "{", "}", "time"})
DECLARE = frozenset({"local", "export", "readonly", "declare", "typeset"})

# Quoted characters that must stay literal through expansion: $ * ? [ { } ,
_LITERAL = str.maketrans({"$": "\x01", "*": "\x02", "?": "\x03", "[": "\x04", "{": "\x05", "}": "\x06", ",": "\x07"})
_DQ_PROTECT = re.compile(r"(\$\{[^{}]*\})|[*?\[{},]")  # in "...": ${x} still expands, the rest is literal
_RESTORE = str.maketrans({"\x01": "$", "\x02": "*", "\x03": "?", "\x04": "[", "\x05": "{", "\x06": "}", "\x07": ","})

_TOKEN = re.compile(
    r"""(?P<cont>\\\n)
    |(?P<sq>'[^']*'?)
    |(?P<dq>"(?:\\.|[^"\\])*"?)
    |(?P<esc>\\.)
    |(?P<sub>\$\(|`)
    |(?P<comment>(?<![^\s;&|()])\#[^\n]*)
    |(?P<op>\n|;|&|\||\(|\))
    |(?P<space>[ \t\r]+)
    |(?P<word>[^\s'"\\;&|()`$]+|\$)""",
    re.X | re.S,
)
_ASSIGN = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.S)
_VAR = re.compile(
    r"\$(?:\{(?P<bname>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-=+])(?P<default>[^{}]*))?\}"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|\{[^}]*\}|[0-9@*#?$!-])"
)
_SUFFIX_WORD = re.compile(r"^\$(?:\{[A-Za-z_]\w*\}|[A-Za-z_]\w*)([.\-_~][\w.\-~+]{0,31})$")
_BRACE = re.compile(r"\{([^{}\x05\x06]*,[^{}\x05\x06]*)\}")
_PATH = re.compile(r"(?<![\w.~$})\]\-])/[^\s'\"`;|&<>(){}$\\,=:]*")
_GLOB = re.compile(r"[*?\[]")


@dataclass(frozen=True, slots=True)
class Names:
    """What one script names: paths (made or used), paths it removes, patterns, suffixes."""

    paths: frozenset[str] = frozenset()
    removed: frozenset[str] = frozenset()
    globs: frozenset[str] = frozenset()
    removed_globs: frozenset[str] = frozenset()
    suffixes: frozenset[str] = frozenset()  # `$unknown<suffix>`: a named path plus this suffix
    removed_suffixes: frozenset[str] = frozenset()
    commands: frozenset[str] = frozenset()  # bare command names (helpers by PATH)
    words: frozenset[str] = frozenset()  # bare words (files a helper reads by name: x.conf)


@dataclass(slots=True)
class _Acc:
    paths: set[str] = field(default_factory=set)
    removed: set[str] = field(default_factory=set)
    globs: set[str] = field(default_factory=set)
    removed_globs: set[str] = field(default_factory=set)
    suffixes: set[str] = field(default_factory=set)
    removed_suffixes: set[str] = field(default_factory=set)
    commands: set[str] = field(default_factory=set)
    words: set[str] = field(default_factory=set)
    seen: set[tuple[str, bool, bool]] = field(default_factory=set)
    budget: int = MAX_EXPANSIONS

    def full(self) -> bool:
        return len(self.paths) + len(self.globs) >= MAX_NAMES


@dataclass(slots=True)
class _Word:
    text: str  # quotes removed; quoted specials turned into sentinels
    dynamic: bool = False  # holds a command substitution: its value is unknown
    comment: bool = False


def statements(text: str) -> list[list[_Word]]:
    """Simple commands as lists of words, linear in the text."""
    out: list[list[_Word]] = []
    words: list[_Word] = []
    cur: _Word | None = None
    for m in _TOKEN.finditer(text[:MAX_TEXT]):
        kind = m.lastgroup
        value = m.group()
        if kind == "cont":
            continue
        if kind in ("space", "comment", "op", "sub"):
            if kind == "comment":
                out.append([_Word(value.translate(_LITERAL), comment=True)])  # read for literal paths only
            if kind == "sub" and cur is not None:
                cur.dynamic = True
            if cur is not None:
                words.append(cur)
                cur = None
            if kind in ("op", "sub") and words:
                out.append(words)
                words = []
            continue
        if cur is None:
            cur = _Word("")
        if kind == "sq":
            cur.text += value[1:].rstrip("'").translate(_LITERAL)
        elif kind == "dq":
            inner = value[1:-1] if len(value) > 1 and value.endswith('"') else value[1:]
            if "$(" in inner or "`" in inner:
                cur.dynamic = True
            inner = re.sub(r"\\([\\$`\"\n])", r"\1", inner)
            cur.text += _DQ_PROTECT.sub(lambda m: m.group() if m.group(1) else m.group().translate(_LITERAL), inner)
        elif kind == "esc":
            cur.text += value[1].translate(_LITERAL)
        else:
            cur.text += value
    if cur is not None:
        words.append(cur)
    if words:
        out.append(words)
    return out


Env = dict[str, list[str]]


def _lookup(m: re.Match[str], env: Env) -> list[str] | None:
    name = m.group("bname") or m.group("name")
    if name is None:
        return None  # positional, special or ${#x}/${x%y}: unknown
    if name in DPKG_EMPTY:
        known: list[str] | None = [""]
    else:
        known = env.get(name)
    op = m.group("op")
    if op is None:
        return known
    default = m.group("default") or ""
    if "$" in default:
        return None
    if op.endswith("+"):
        return [""] if known == [""] else None
    return known if known is not None and known != [""] else [default]


def expand(word: str, env: Env, acc: _Acc) -> list[str] | None:
    """The values of one word (sentinels kept), or None when a part of it is unknown."""
    if "$" not in word and "{" not in word:
        return [word]
    if acc.budget <= 0:
        return None  # the script has used up its expansions: what is left names nothing
    parts: list[list[str]] = []
    pos = 0
    for m in _VAR.finditer(word):
        values = _lookup(m, env)
        if values is None:
            return None
        parts += [[word[pos : m.start()]], values]
        pos = m.end()
    parts.append([word[pos:]])
    out: list[str] = []
    for combo in itertools.islice(itertools.product(*parts), min(MAX_WORD, acc.budget)):
        out.extend(_braces("".join(combo)))
        if len(out) >= MAX_WORD:
            break
    acc.budget -= max(len(out), 1)
    return out[:MAX_WORD]


def _braces(word: str) -> list[str]:
    """`{a,b}` lists (bash), one group after another, capped."""
    out = [word]
    for _ in range(4):
        if not any("{" in w and _BRACE.search(w) for w in out):
            break
        nxt: list[str] = []
        for w in out:
            m = _BRACE.search(w)
            if m is None:
                nxt.append(w)
                continue
            nxt += [w[: m.start()] + item + w[m.end() :] for item in m.group(1).split(",")]
        out = nxt[:MAX_WORD]
    return out


def _paths_in(value: str) -> list[str]:
    if "/" not in value:
        return []
    return [p for p in _PATH.findall(value) if len(p) <= MAX_PATH]


def _depth(path: str) -> int:
    return len([c for c in path.split("/") if c])


def _add(acc: _Acc, value: str, *, removed: bool) -> None:
    """Record the paths in one expanded value: literal, or patterns if narrow enough."""
    for raw in _paths_in(value):
        literal = raw.translate(_RESTORE)
        if _GLOB.search(raw):
            if _narrow_glob(raw):
                (acc.removed_globs if removed else acc.globs).add(literal)
            continue
        path = posixpath.normpath(literal)
        if path.startswith("//"):
            path = "/" + path.lstrip("/")
        if path == "/":
            continue
        acc.paths.add(path)
        if removed:
            acc.removed.add(path)


def _narrow_glob(raw: str) -> bool:
    """A glob explains only below a literal folder of 2+ components; `*` alone only in TREE_ROOTS."""
    parts = raw.strip("/").split("/")
    literal = []
    for part in parts:
        if _GLOB.search(part):
            break
        literal.append(part)
    if len(literal) < 2 or ".." in parts:
        return False
    folder = "/" + "/".join(literal) + "/"
    wild = parts[len(literal)]
    return bool(re.sub(r"[*?]|\[[^\]]*\]?", "", wild)) or (folder.startswith(TREE_ROOTS) and len(literal) >= 3)


def _merge(env: Env, name: str, values: list[str]) -> None:
    """A variable holds every literal value the script gives it (an over-approximation: a
    branch not taken still names its paths, which only ever explains a path the script names)."""
    env[name] = list(dict.fromkeys(env.get(name, []) + values))[:MAX_VALUES]


def _values(words: list[_Word], env: Env, acc: _Acc) -> list[str] | None:
    out: list[str] = []
    for w in words:
        got = None if w.dynamic else expand(w.text, env, acc)
        if got is None:
            return None
        out += got
        if len(out) >= MAX_VALUES:
            break
    return out


def _statement(words: list[_Word], env: Env, acc: _Acc, *, record: bool) -> None:
    """Pass 1 (`record` False) learns what variables hold; pass 2 records what words name."""
    if words[0].comment:
        if record:
            for raw in _paths_in(words[0].text):  # a comment's literal paths, as before
                _add(acc, raw, removed=False)
        return
    while words and words[0].text in KEYWORDS:
        words = words[1:]
    if not record and not any("=" in w.text for w in words[:3]) and (not words or words[0].text != "for"):
        return
    if not words or words[0].text == "case":
        return
    if words[0].text == "for" and len(words) >= 2:
        listed = words[3:] if len(words) >= 3 and words[2].text == "in" else None
        values = _values(listed, env, acc) if listed is not None else None
        if values is None:
            return
        if record:
            for value in values:
                _add(acc, value, removed=False)
        else:
            _merge(env, words[1].text, values)
        return
    if words[0].text in DECLARE:
        words = words[1:]
    while words and (m := _ASSIGN.match(words[0].text)):
        got = None if words[0].dynamic else expand(m.group(2), env, acc)
        if got is not None and not record:
            _merge(env, m.group(1), got)
        if record:
            for value in got if got is not None else [m.group(2)]:
                _add(acc, value, removed=False)
        words = words[1:]
    if not words or not record:
        return
    cmd = words[0].text
    if cmd and "/" not in cmd and "$" not in cmd:
        acc.commands.add(cmd)
    operands = [w for w in words[1:] if not w.text.startswith("-")]
    removes = {id(w) for w in _removes(posixpath.basename(cmd), operands)}
    for w in words:
        if acc.full():
            return
        if "/" not in w.text and "$" not in w.text:
            if not w.text.startswith("-") and len(acc.words) < MAX_NAMES:
                acc.words.add(w.text)
            continue
        removed = id(w) in removes
        key = (w.text, w.dynamic, removed)
        if key in acc.seen:  # the environment is fixed in this pass: same word, same names
            continue
        acc.seen.add(key)
        values = None if w.dynamic else expand(w.text, env, acc)
        if values is None:
            _add(acc, w.text, removed=False)  # literal paths in it still count (`$(cat /etc/x)`)
            m = _SUFFIX_WORD.match(w.text)
            if m and len(acc.suffixes) < MAX_SUFFIXES:
                (acc.removed_suffixes if removed else acc.suffixes).add(m.group(1))
            continue
        for value in values:
            _add(acc, value, removed=removed)


def _removes(cmd: str, args: list[_Word]) -> list[_Word]:
    """The operands this command removes."""
    if cmd in REMOVERS:
        return args
    if cmd == "mv":
        return args[:-1]
    if cmd == "dpkg-maintscript-helper" and args and args[0].text in ("rm_conffile", "mv_conffile"):
        return args[1:2]
    if cmd == "find" and any(a.text == "-delete" for a in args):
        return args[:1]
    return []


def names(text: str) -> Names:
    """What one script (or several, concatenated) names. Cached by content."""
    key = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
    found = _NAMES.get(key)
    if found is not None:
        return found
    acc = _Acc()
    for part in text[:MAX_TEXT].split(SEPARATOR):  # each file on its own: a stray quote stays in its file
        for raw in _paths_in(part):  # every literal path, whatever the language
            if acc.full():
                break
            _add(acc, raw.translate(_LITERAL), removed=False)
        if part.startswith("#!") and "sh" not in part.partition("\n")[0]:
            continue  # perl, python ...: literal paths only
        stmts = statements(part)
        env: Env = {}
        acc.budget = MAX_EXPANSIONS
        for words in stmts:  # first pass: what variables hold
            _statement(words, env, acc, record=False)
        acc.budget = MAX_EXPANSIONS
        for words in stmts:  # second pass: every word, with every value a variable takes
            _statement(words, env, acc, record=True)
            if acc.full():
                break
    found = Names(
        frozenset(acc.paths),
        frozenset(acc.removed),
        frozenset(acc.globs),
        frozenset(acc.removed_globs),
        frozenset(acc.suffixes),
        frozenset(acc.removed_suffixes),
        frozenset(acc.commands),
        frozenset(acc.words),
    )
    if len(_NAMES) >= 4096:
        _NAMES.clear()
    _NAMES[key] = found
    return found


_NAMES: dict[bytes, Names] = {}


# -- helpers a script calls from its own package ------------------------------------------------


def helpers(n: Names, shipped: Iterable[str]) -> list[str]:
    """The package's files this script names: an absolute path, a command in a bin folder, a
    tmpfiles.d/sysusers.d file by its file name (`with_helpers` reads those that are scripts)."""
    out = []
    for path in shipped:
        folder, base = posixpath.split(path)
        if path in n.paths or (folder in BIN_DIRS and base in n.commands) or (folder in DATA_DIRS and base in n.words):
            out.append(path)
    return sorted(out)


def with_helpers(
    texts: dict[str, str], shipped: Callable[[str], list[str]], read: Callable[[str], bytes | None]
) -> dict[str, str]:
    """Each package's script text followed by the text of the helpers it calls from its own
    package (`shipped(name)`: the paths of its file list), two levels deep, text files only."""
    out = dict(texts)
    for pkg, text in texts.items():
        files = None
        seen: set[str] = set()
        current = text
        for _ in range(HELPER_DEPTH):
            n = names(current)
            if not n.paths and not n.commands:
                break
            files = files if files is not None else shipped(pkg)
            added = []
            for path in helpers(n, files):
                if path in seen or len(seen) >= MAX_HELPERS:
                    continue
                data = read(path)
                script = data is not None and (data.startswith(b"#!") or posixpath.dirname(path) in DATA_DIRS)
                if data and script and b"\0" not in data[:MAX_HELPER]:
                    seen.add(path)
                    added.append(data[:MAX_HELPER].decode("utf-8", errors="replace"))
            if not added:
                break
            current = SEPARATOR.join(added)
            out[pkg] += SEPARATOR + current
    return out


# -- many packages: one index, looked up per path -----------------------------------------------


@dataclass(frozen=True, slots=True)
class Index:
    made: dict[str, str]  # path named, or a folder above one -> package
    trees: dict[str, str]  # folder whose content is the package's (TREE_ROOTS) -> package
    removed: dict[str, str]
    globs: dict[str, list[tuple[re.Pattern[str], str]]]  # literal folder -> (pattern, package)
    removed_globs: dict[str, list[tuple[re.Pattern[str], str]]]
    suffixes: dict[str, list[str]]  # suffix -> packages whose scripts add it to their names
    removed_suffixes: dict[str, list[str]]
    paths: dict[str, str]  # exactly named -> package (what a suffix joins to)


def _glob_regex(pattern: str) -> tuple[str, re.Pattern[str]]:
    parts = pattern.strip("/").split("/")
    literal = list(itertools.takewhile(lambda p: not _GLOB.search(p), parts))
    out = []
    for part in parts:
        piece = ""
        for token in re.findall(r"\*|\?|\[[^\]]*\]|[^*?\[]+|\[", part):
            if token == "*":
                piece += "[^/]*"
            elif token == "?":
                piece += "[^/]"
            elif token.startswith("[") and len(token) > 1:
                inner = token[1:-1]
                piece += "[" + ("^" + re.escape(inner[1:]) if inner[:1] in "!^" else re.escape(inner)) + "]"
            else:
                piece += re.escape(token)
        out.append(piece)
    return "/" + "/".join(literal), re.compile("/" + "/".join(out) + r"\Z", re.S)


def _build(texts: dict[str, str]) -> Index:
    idx = Index({}, {}, {}, {}, {}, {}, {}, {})
    for pkg, text in sorted(texts.items()):  # the first package in name order wins, as before
        n = names(text)
        for path in n.paths:
            idx.paths.setdefault(path, pkg)
            idx.made.setdefault(path, pkg)
            folder = posixpath.dirname(path)
            while folder != "/" and folder not in idx.made:
                idx.made[folder] = pkg
                folder = posixpath.dirname(folder)
            if path.startswith(TREE_ROOTS) and _depth(path) >= 3:
                idx.trees.setdefault(path, pkg)
        for path in n.removed:
            idx.removed.setdefault(path, pkg)
        for table, patterns in ((idx.globs, n.globs), (idx.removed_globs, n.removed_globs)):
            for pattern in sorted(patterns):
                folder, regex = _glob_regex(pattern)
                table.setdefault(folder, []).append((regex, pkg))
        for table2, suffixes in ((idx.suffixes, n.suffixes), (idx.removed_suffixes, n.removed_suffixes)):
            for suffix in suffixes:
                table2.setdefault(suffix, []).append(pkg)
    return idx


def index(texts: dict[str, str]) -> Index:
    """The names of these packages' scripts; the last few indexes are kept (one per run, mostly)."""
    key = tuple(sorted((pkg, hash(text)) for pkg, text in texts.items()))
    for k, idx in _INDEXES:
        if k == key:
            return idx
    idx = _build(texts)
    _INDEXES[:] = [(key, idx), *_INDEXES[:3]]
    return idx


_INDEXES: list[tuple[tuple[tuple[str, int], ...], Index]] = []


def _folders(path: str) -> Iterable[str]:
    folder = posixpath.dirname(path)
    while folder != "/":
        yield folder
        folder = posixpath.dirname(folder)


def _by_glob(path: str, table: dict[str, list[tuple[re.Pattern[str], str]]]) -> str | None:
    if not table:
        return None
    for folder in _folders(path):
        for regex, pkg in table.get(folder, ()):
            if regex.match(path):
                return pkg
    return None


def _by_suffix(path: str, table: dict[str, list[str]], named: dict[str, str]) -> str | None:
    for suffix, pkgs in table.items():
        if path.endswith(suffix) and named.get(path[: -len(suffix)]) in pkgs:
            return named[path[: -len(suffix)]]
    return None


def made_by(idx: Index, spellings: Iterable[str]) -> str | None:
    """The package whose scripts name this path (any of its spellings), a folder above it that
    holds the package's state, a pattern that matches it, or a path it joins a suffix to."""
    for path in spellings:
        found = idx.made.get(path) or _by_glob(path, idx.globs) or _by_suffix(path, idx.suffixes, idx.paths)
        if found:
            return found
        for folder in _folders(path):
            if folder in idx.trees:
                return idx.trees[folder]
    return None


def removed_by(indexes: Iterable[Index], spellings: list[str]) -> str | None:
    """The package whose scripts remove this path (rm, rmdir, mv's source, rm_conffile ...)."""
    for idx in indexes:
        for path in spellings:
            found = (
                idx.removed.get(path)
                or _by_glob(path, idx.removed_globs)
                or _by_suffix(path, idx.removed_suffixes, idx.paths)
            )
            if found:
                return found
    return None


SYSTEMD_UNITS = "/etc/systemd/system/"
SYSTEMD_HELPER_STATE = "/var/lib/systemd/deb-systemd-helper-enabled/"


def enabled_by_helper(path: str, view: View) -> bool:
    """A unit link deb-systemd-helper made for a package's script (`deb-systemd-helper enable`):
    it keeps a twin of every link it makes (an alias such as sshd.service too, which the
    unit file names, not the script)."""
    if not path.startswith(SYSTEMD_UNITS):
        return False
    return SYSTEMD_HELPER_STATE + path[len(SYSTEMD_UNITS) :] in view.entries
