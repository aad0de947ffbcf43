"""Parse a Dockerfile the way Docker's builder reads it.

Parser directives (`# escape=`, `# syntax=`), line continuations with the escape
character (comments and blank lines inside them are dropped), heredocs (`<<EOF`, `<<-EOF`,
quoted delimiters), JSON (exec) and shell forms, flags (`--from=`, `--chown=` ...), ARG and
ENV substitution (`$X`, `${X}`, `${X:-d}`, `${X:+a}`), and stages (`FROM ... AS name`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from drift.errors import DockerfileError

KNOWN = {
    "FROM", "RUN", "CMD", "LABEL", "MAINTAINER", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME",
    "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL",
}  # fmt: skip
_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9_-]*)\s*=\s*(.*?)\s*$")
_HEREDOC = re.compile(r"<<(-?)([\"']?)([A-Za-z_][A-Za-z0-9_]*)\2")
_FLAG = re.compile(r"^--([a-zA-Z][a-zA-Z0-9-]*)(?:=(\S*))?$")


@dataclass(frozen=True, slots=True)
class Heredoc:
    name: str
    content: str
    expand: bool  # unquoted delimiter: variables are expanded
    strip_tabs: bool


@dataclass(slots=True)
class Instruction:
    keyword: str  # upper case
    raw: str  # the arguments, continuation joined, heredoc bodies removed
    line: int  # 1-based line of the keyword
    end_line: int
    flags: dict[str, str] = field(default_factory=dict)
    args: str = ""  # raw without the leading flags
    json: list[str] | None = None  # exec form, when the arguments are a JSON array
    heredocs: list[Heredoc] = field(default_factory=list)
    known: bool = True


@dataclass(slots=True)
class Dockerfile:
    path: str
    escape: str
    instructions: list[Instruction]
    directives: dict[str, str]


def _strip_escape(line: str, escape: str) -> tuple[str, bool]:
    """A line without its trailing escape character, and whether it continues."""
    stripped = line.rstrip()
    if stripped.endswith(escape):
        return stripped[:-1], True
    return line, False


def parse(text: str, path: str = "Dockerfile") -> Dockerfile:
    lines = text.splitlines()
    directives: dict[str, str] = {}
    i = 0
    # Parser directives come first, before any blank line, comment or instruction.
    while i < len(lines):
        match = _DIRECTIVE.match(lines[i].strip())
        if not match or match.group(1).lower() in directives:
            break
        directives[match.group(1).lower()] = match.group(2)
        i += 1
    escape = directives.get("escape", "\\")
    if escape not in ("\\", "`"):
        raise DockerfileError(f"{path}:1: invalid escape directive {escape!r} (must be \\ or `)")
    instructions: list[Instruction] = []
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            i += 1
            continue
        start = i
        parts: list[str] = []
        text_part, cont = _strip_escape(line, escape)
        parts.append(text_part)
        i += 1
        while cont and i < len(lines):
            nxt = lines[i]
            i += 1
            if nxt.strip().startswith("#"):
                continue  # a comment inside a continuation is dropped
            if not nxt.strip():
                continue  # so is an empty line (deprecated, still accepted)
            text_part, cont = _strip_escape(nxt, escape)
            parts.append(text_part)
        logical = " ".join(p.strip() for p in parts) if len(parts) > 1 else parts[0].strip()
        keyword, _, rest = logical.partition(" ")
        if not re.fullmatch(r"[A-Za-z]+", keyword):
            raise DockerfileError(f"{path}:{start + 1}: cannot read instruction {keyword[:40]!r}")
        keyword = keyword.upper()
        inst = Instruction(keyword=keyword, raw=rest.strip(), line=start + 1, end_line=i, known=keyword in KNOWN)
        # Heredocs: bodies follow the instruction's last line.
        if keyword in ("RUN", "COPY", "ADD") and "<<" in inst.raw:
            for match in _HEREDOC.finditer(inst.raw):
                strip_tabs, quote, name = match.group(1) == "-", match.group(2), match.group(3)
                body: list[str] = []
                while i < len(lines) and (lines[i].lstrip("\t") if strip_tabs else lines[i]) != name:
                    body.append(lines[i].lstrip("\t") if strip_tabs else lines[i])
                    i += 1
                if i >= len(lines):
                    raise DockerfileError(f"{path}:{start + 1}: heredoc <<{name} is never closed")
                i += 1
                inst.heredocs.append(Heredoc(name, "\n".join(body) + "\n", expand=not quote, strip_tabs=strip_tabs))
            inst.end_line = i
        _split_flags(inst)
        instructions.append(inst)
    if not any(inst.keyword == "FROM" for inst in instructions):
        raise DockerfileError(f"{path}: no FROM instruction: this is not a Dockerfile")
    first = next(inst for inst in instructions if inst.keyword not in ("ARG",))
    if first.keyword != "FROM":
        raise DockerfileError(f"{path}:{first.line}: {first.keyword} before the first FROM (only ARG may come first)")
    return Dockerfile(path=path, escape=escape, instructions=instructions, directives=directives)


def _split_flags(inst: Instruction) -> None:
    rest = inst.raw
    if inst.keyword in ("RUN", "COPY", "ADD", "FROM", "HEALTHCHECK"):
        while rest.startswith("--"):
            word, _, tail = rest.partition(" ")
            match = _FLAG.match(word)
            if not match:
                break
            inst.flags[match.group(1)] = match.group(2) or ""
            rest = tail.lstrip()
    inst.args = rest
    if inst.keyword in ("RUN", "CMD", "ENTRYPOINT", "SHELL", "COPY", "ADD", "VOLUME") and rest.startswith("["):
        try:
            value = json.loads(rest)
        except ValueError:
            value = None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            inst.json = value


# -- variable substitution -----------------------------------------------------------------

_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:[-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")


class Unresolved(Exception):
    """A variable with no known value."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def substitute(text: str, env: dict[str, str], *, escape: str = "\\", strict: bool = False) -> str:
    """Expand $VAR, ${VAR}, ${VAR:-default}, ${VAR:+alt}; an escaped $ stays literal."""
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == escape and i + 1 < len(text) and text[i + 1] == "$":
            out.append("$")
            i += 2
            continue
        if ch == "$":
            match = _VAR.match(text, i)
            if match:
                name = match.group(1) or match.group(4)
                op, word = match.group(2), match.group(3) or ""
                value = env.get(name)
                if op == ":-":
                    out.append(value if value else substitute(word, env, escape=escape, strict=strict))
                elif op == ":+":
                    out.append(substitute(word, env, escape=escape, strict=strict) if value else "")
                elif value is None:
                    if strict:
                        raise Unresolved(name)
                    out.append("")
                else:
                    out.append(value)
                i = match.end()
                continue
        out.append(ch)
        i += 1
    return "".join(out)


def env_pairs(args: str, escape: str = "\\") -> list[tuple[str, str]]:
    """ENV/LABEL/ARG arguments: `k=v k2="v 2"` or the legacy `ENV k v w`."""
    import shlex

    lexer = shlex.shlex(args, posix=True)
    lexer.whitespace_split = True
    lexer.escape = escape if escape == "\\" else ""
    try:
        words = list(lexer)
    except ValueError as exc:
        raise DockerfileError(f"cannot read {args!r}: {exc}") from exc
    if words and "=" not in words[0]:
        return [(words[0], " ".join(words[1:]))]
    return [(w.split("=", 1)[0], w.split("=", 1)[1] if "=" in w else "") for w in words]
