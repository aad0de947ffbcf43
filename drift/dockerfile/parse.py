"""Read a Dockerfile into instructions exactly as Docker's parser reads it.

This step only splits text: parser directives (`# escape=`, `# syntax=`), lines joined at
the escape character (without adding anything: `good\\` + `bye` is `goodbye`; comments and
blank lines inside a continuation are dropped; an escaped escape at the end of a line is
not a continuation), the keyword and its `--flags`, the arguments split the way each
keyword's line parser splits them, and heredoc bodies. Nothing is substituted here: stages,
ARG and ENV are resolved once, later, by `drift.dockerfile.resolve`.

`dump()` writes the parse tree in the s-expression form of buildkit's parser tests
(`(from "x")`, `(run "a" "b")`), so drift's reading can be compared with Docker's.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace

from drift.dockerfile.words import WordError, quote_count, raw_words
from drift.errors import DockerfileError

KNOWN = {
    "FROM", "RUN", "CMD", "LABEL", "MAINTAINER", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME",
    "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL",
}  # fmt: skip
_HEREDOC_KEYWORDS = ("RUN", "COPY", "ADD")
_MAYBE_JSON = ("RUN", "CMD", "ENTRYPOINT", "SHELL")  # JSON, or the whole line as one value
_JSON_OR_LIST = ("ADD", "COPY", "VOLUME")  # JSON, or words split at blanks
_SPLIT = ("FROM", "EXPOSE")
_STRING = ("MAINTAINER", "USER", "WORKDIR", "STOPSIGNAL")
_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.*?)\s*$")
_HEREDOC_WORD = re.compile(r"^(\d*)<<(-?)\s*([^<]*)$")
_BLANKS = re.compile(r"[\t\v\f\r ]+")
_FLAG = re.compile(r"^--([a-zA-Z][a-zA-Z0-9-]*)(?:=(.*))?$", re.S)


@dataclass(frozen=True, slots=True)
class Heredoc:
    name: str
    content: str
    expand: bool  # unquoted delimiter: variables are expanded
    strip_tabs: bool  # `<<-`: leading tabs are removed from the body and the delimiter line
    fd: int = 0


@dataclass(frozen=True, slots=True)
class Instruction:
    """One instruction as Docker's parser reads it."""

    keyword: str  # upper case
    raw: str  # the arguments, flags included, continuation joined, heredoc bodies removed
    line: int  # 1-based line of the keyword
    end_line: int  # last line (heredoc bodies included)
    flags: dict[str, str] = field(default_factory=dict)  # last value of each --flag
    args: str = ""  # raw without the leading flags
    json: list[str] | None = None  # exec form, when the arguments are a JSON array
    heredocs: tuple[Heredoc, ...] = ()
    known: bool = True
    flag_words: tuple[str, ...] = ()  # every --flag as written (quotes removed)
    words: tuple[str, ...] = ()  # the arguments as Docker's line parser splits them
    pairs: tuple[tuple[str, str, str], ...] = ()  # ENV/LABEL: (key, value as written, "=" or "")
    child: Instruction | None = None  # ONBUILD's instruction


@dataclass(frozen=True, slots=True)
class Dockerfile:
    path: str
    escape: str
    instructions: list[Instruction]
    directives: dict[str, str]


def parse(text: str, path: str = "Dockerfile") -> Dockerfile:
    parts = text.removeprefix("\ufeff").split("\n")  # only \n ends a line (not \f, \v, \u2028 ...)
    lines = [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])
    directives, i = _directives(lines, path)
    escape = directives.get("escape", "\\")
    instructions: list[Instruction] = []
    while i < len(lines):
        start = i
        first = lines[i].rstrip("\r\n").lstrip()
        i += 1
        if first.startswith("#"):
            continue
        joined, done = _trim_continuation(first, escape)
        if done and not joined.strip():
            continue
        parts = [joined]
        while not done and i < len(lines):
            nxt = lines[i].rstrip("\r\n")
            i += 1
            if nxt.lstrip().startswith("#") or not nxt.strip():
                continue  # comments and blank lines inside a continuation are dropped
            text_part, done = _trim_continuation(nxt, escape)
            parts.append(text_part)
        logical = "".join(parts)
        try:
            inst = _instruction(logical, escape, start + 1, i)
            if _can_hold_heredoc(inst) and "<<" in logical:
                inst, i = _read_heredocs(inst, logical, lines, i, escape)
        except (WordError, DockerfileError) as exc:
            raise DockerfileError(f"{path}:{start + 1}: {exc}") from exc
        instructions.append(inst)
    _check(instructions, path, len(lines))
    return Dockerfile(path=path, escape=escape, instructions=instructions, directives=directives)


def _directives(lines: list[str], path: str) -> tuple[dict[str, str], int]:
    """Parser directives come first, before any blank line, comment or instruction."""
    directives: dict[str, str] = {}
    i = 0
    while i < len(lines):
        match = _DIRECTIVE.match(lines[i].strip())
        if not match or match.group(1).lower() in directives:
            break
        directives[match.group(1).lower()] = match.group(2)
        i += 1
    if directives.get("escape", "\\") not in ("\\", "`"):
        raise DockerfileError(f"{path}:1: invalid escape directive {directives['escape']!r}: use \\ or `")
    return directives, i


def _trim_continuation(line: str, escape: str) -> tuple[str, bool]:
    """The escape character (then blanks) ends a line that continues, unless it is itself escaped."""
    body = line.rstrip(" \t")
    if not body.endswith(escape) or body.endswith(escape * 2):
        return line, True
    return body[:-1], False


def _check(instructions: list[Instruction], path: str, nlines: int) -> None:
    if not instructions:
        what = "is empty" if nlines == 0 else "has no instructions (only comments or blank lines)"
        raise DockerfileError(f"{path} {what}: this is not a Dockerfile")


# -- one instruction --------------------------------------------------------------------------


def _instruction(logical: str, escape: str, line: int, end_line: int) -> Instruction:
    head = _BLANKS.split(logical.strip(), maxsplit=1)
    keyword = head[0]
    if not re.fullmatch(r"[A-Za-z]+", keyword):
        raise DockerfileError(f"cannot read instruction {keyword[:40]!r}")
    raw = head[1] if len(head) > 1 else ""
    args, flag_words = _flags(raw, escape)
    args = args.strip()
    upper = keyword.upper()
    flags: dict[str, str] = {}
    for word in flag_words:
        match = _FLAG.match(word)
        if match:
            flags[match.group(1)] = match.group(2) or ""
    words, json_form, pairs, child = _arguments(upper, args, escape)
    return Instruction(
        keyword=upper,
        raw=raw.strip(),
        line=line,
        end_line=end_line,
        flags=flags,
        args=args,
        json=json_form,
        known=upper in KNOWN,
        flag_words=tuple(flag_words),
        words=tuple(words),
        pairs=tuple(pairs),
        child=child,
    )


def _flags(rest: str, escape: str) -> tuple[str, list[str]]:
    """Leading `--name=value` words (quotes and escapes removed); `--` ends them."""
    words: list[str] = []
    pos = 0
    while True:
        while pos < len(rest) and rest[pos].isspace():
            pos += 1
        if not rest.startswith("--", pos):
            return rest[pos:], words
        word: list[str] = []
        quote = ""
        plain = re.compile(rf"[^\s'\"{re.escape(escape)}]+")
        while pos < len(rest) and (quote or not rest[pos].isspace()):
            run = plain.match(rest, pos)
            if run:  # characters with no meaning, in one step
                word.append(run.group())
                pos = run.end()
                continue
            ch = rest[pos]
            pos += 1
            if quote and ch == quote:
                quote = ""
            elif not quote and ch in "'\"":
                quote = ch
            elif ch == escape:
                if pos < len(rest):
                    word.append(rest[pos])
                    pos += 1
            else:
                word.append(ch)
        if "".join(word) == "--":
            return rest[pos:], words
        words.append("".join(word))


def _arguments(
    keyword: str, args: str, escape: str
) -> tuple[list[str], list[str] | None, list[tuple[str, str, str]], Instruction | None]:
    if keyword in _MAYBE_JSON:
        json_form = _json(args)
        return (json_form if json_form is not None else [args] if args else []), json_form, [], None
    if keyword in _JSON_OR_LIST:
        json_form = _json(args)
        return (json_form if json_form is not None else _split(args)), json_form, [], None
    if keyword == "HEALTHCHECK":
        head = _BLANKS.split(args, maxsplit=1)
        if not head[0]:
            return [], None, [], None
        cmd = head[1].strip() if len(head) > 1 else ""
        json_form = _json(cmd)
        return [head[0], *(json_form if json_form is not None else [cmd] if cmd else [])], json_form, [], None
    if keyword in _SPLIT:
        return _split(args), None, [], None
    if keyword in _STRING:
        return ([args] if args else []), None, [], None
    if keyword == "ARG":
        return _words(args, escape), None, [], None
    if keyword in ("ENV", "LABEL"):
        pairs = _name_values(keyword, args, escape)
        return [v for pair in pairs for v in pair], None, pairs, None
    if keyword == "ONBUILD" and args:
        return [], None, [], _instruction(args, escape, 0, 0)
    return [], None, [], None


def _split(args: str) -> list[str]:
    return [w for w in _BLANKS.split(args) if w] if args else []


def _json(args: str) -> list[str] | None:
    """The exec form: a JSON array of strings (an array of anything else is an error)."""
    text = args.lstrip()
    if not text.startswith("["):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if not isinstance(value, list):
        return None
    if not all(isinstance(v, str) for v in value):
        raise DockerfileError("when using JSON array syntax, arrays must be comprised of strings only")
    return value


def _words(rest: str, escape: str) -> list[str]:
    """Words split at unquoted blanks; quotes and escapes are kept as written."""
    words: list[str] = []
    word: list[str] = []
    quote = ""
    blank_ok = False
    pos = 0
    plain = re.compile(rf"[^\s'\"{re.escape(escape)}]+")
    while pos < len(rest):
        run = plain.match(rest, pos)
        if run:  # characters with no meaning, in one step
            word.append(run.group())
            pos = run.end()
            continue
        ch = rest[pos]
        pos += 1
        if not quote and ch.isspace():
            if blank_ok or word:
                words.append("".join(word))
            word, blank_ok = [], False
            continue
        if not quote and ch in "'\"":
            quote, blank_ok = ch, True
        elif quote and ch == quote:
            quote = ""
        if ch == escape and quote != "'":
            if pos == len(rest):
                continue
            word.append(ch)
            ch = rest[pos]
            pos += 1
        word.append(ch)
    if blank_ok or word:
        words.append("".join(word))
    return words


def _name_values(keyword: str, rest: str, escape: str) -> list[tuple[str, str, str]]:
    """ENV/LABEL: `k=v k2="v 2"`, or the legacy `ENV k v w` (one key, the rest of the line)."""
    words = _words(rest, escape)
    if not words:
        if keyword == "ENV":
            raise DockerfileError("ENV needs a name and a value (ENV NAME=value)")
        return []
    if "=" not in words[0]:
        parts = _BLANKS.split(rest, maxsplit=1)
        if len(parts) < 2 or not parts[1]:
            raise DockerfileError(f"{keyword} {parts[0]} has no value: write {keyword} {parts[0]}=value")
        return [(parts[0], parts[1], "")]
    out = []
    for word in words:
        if "=" not in word:
            raise DockerfileError(f"cannot find = in {word!r}: {keyword} takes name=value pairs")
        key, _, value = word.partition("=")
        out.append((key, value, "="))
    return out


# -- heredocs ---------------------------------------------------------------------------------


def _can_hold_heredoc(inst: Instruction) -> bool:
    target = inst.child if inst.keyword == "ONBUILD" and inst.child is not None else inst
    return target.keyword in _HEREDOC_KEYWORDS and target.json is None


def heredoc_word(word: str) -> tuple[str, int, bool, bool] | None:
    """A word like `<<EOF`, `<<-'EOF'`, `3<<EOF`, `<<  file.txt`: (name, fd, expand, strip tabs)."""
    match = _HEREDOC_WORD.match(word)
    if not match or not match.group(3):
        return None
    try:
        name, quoted = quote_count(match.group(3))
    except WordError:
        if len(raw_words(match.group(3))) != 1:
            return None
        raise
    return name, int(match.group(1) or 0), not quoted, match.group(2) == "-"


def _read_heredocs(inst: Instruction, logical: str, lines: list[str], i: int, escape: str) -> tuple[Instruction, int]:
    heredocs: list[Heredoc] = []
    for word in raw_words(logical, "\\"):
        found = heredoc_word(word)
        if found is None:
            continue
        name, fd, expand, strip_tabs = found
        body: list[str] = []
        while True:
            if i >= len(lines):
                raise DockerfileError(f"heredoc <<{name} is never closed (no line {name!r} after it)")
            text = lines[i]
            i += 1
            candidate = text.rstrip("\r\n")
            if (candidate.lstrip("\t") if strip_tabs else candidate) == name:
                break
            body.append(text)
        heredocs.append(Heredoc(name, "".join(body), expand=expand, strip_tabs=strip_tabs, fd=fd))
    if not heredocs:
        return inst, i
    return replace(inst, heredocs=tuple(heredocs), end_line=i), i


def heredoc_content(doc: Heredoc) -> str:
    """The body as the builder writes it (leading tabs removed for `<<-`)."""
    return re.sub(r"(?m)^\t+", "", doc.content) if doc.strip_tabs else doc.content


# -- the parse tree in buildkit's test format -------------------------------------------------


def _go_quote(text: str) -> str:
    out = ['"']
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch in "\a\b\f\n\r\t\v":
            out.append({"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}[ch])
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return "".join(out) + '"'


def dump_instruction(inst: Instruction, keyword: str | None = None) -> str:
    out = (keyword or inst.keyword).lower()
    if inst.flag_words:
        out += " [" + " ".join(_go_quote(f) for f in inst.flag_words) + "]"
    if inst.child is not None:
        out += " (" + dump_instruction(inst.child) + ")"
    if inst.keyword in KNOWN:
        out += "".join(" " + _go_quote(w) for w in inst.words)
    else:
        out += ' ""'  # Docker keeps the instruction and drops its arguments
    return out


def dump(df: Dockerfile, *, heredocs: bool = False) -> str:
    """One `(keyword "arg" ...)` line per instruction, as buildkit's tests write them;
    with `heredocs`, a `  <<NAME ...` line after it for each heredoc (drift's own addition)."""
    out = []
    for inst in df.instructions:
        out.append(f"({dump_instruction(inst)})\n")
        for doc in inst.heredocs if heredocs else ():
            flags = f"{'expand' if doc.expand else 'literal'}{' strip-tabs' if doc.strip_tabs else ''} fd={doc.fd}"
            out.append(f"  <<{_go_quote(doc.name)} {flags} {_go_quote(doc.content)}\n")
    return "".join(out)
