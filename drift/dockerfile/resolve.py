"""Parsed instructions -> resolved stages, as the builder dispatches them.

This is the one place where stages are found (`FROM ... AS name`, `FROM stage`), ARG values
are decided (build args, defaults, global ARGs before the first FROM redeclared in a stage)
and arguments are expanded (`drift.dockerfile.words`: quotes, escapes, `${VAR:-x}` ...).
It also adds what the builder adds: the default PATH when the base image has none, and the
working directory as Docker records it. `declared.py` only walks the result.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field

from drift.dockerfile.parse import Dockerfile, Instruction, heredoc_content
from drift.dockerfile.words import WordError, process_word, process_words
from drift.errors import DockerfileError
from drift.model import DEFAULT_PATH, ImageConfig

_EXPANDED = {"ADD", "COPY", "ENV", "EXPOSE", "FROM", "LABEL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR", "ARG"}


@dataclass(frozen=True, slots=True)
class Command:
    """One instruction of a stage with its arguments resolved."""

    inst: Instruction  # as parsed: keyword, line numbers, flags, JSON form, heredocs
    values: tuple[str, ...] = ()  # expanded arguments (COPY/ADD sources + dest, ports, volumes, one path ...)
    pairs: tuple[tuple[str, str], ...] = ()  # ENV, LABEL, ARG: (name, value) as the builder sets them
    script: str | None = None  # RUN: the shell script, variables with known values substituted
    env: Mapping[str, str] = field(default_factory=dict)  # ENV in effect when the instruction runs
    workdir: str = "/"  # the working directory after the instruction, cleaned
    workdir_raw: str = "/"  # as Docker writes it in the image config (trailing slash kept)
    shell: tuple[str, ...] = ("/bin/sh", "-c")

    @property
    def keyword(self) -> str:
        return self.inst.keyword

    @property
    def line(self) -> int:
        return self.inst.line


@dataclass(frozen=True, slots=True)
class StageHead:
    name: str | None
    base: str  # the image or stage name after FROM, global ARGs expanded
    line: int
    instructions: tuple[Instruction, ...]


@dataclass(frozen=True, slots=True)
class Stage:
    name: str | None
    base: str
    line: int
    commands: tuple[Command, ...]
    added_env: tuple[tuple[str, str], ...] = ()  # what the builder adds at FROM (default PATH)


@dataclass(frozen=True, slots=True)
class Build:
    """The final stage and the stages it is built FROM, root first, resolved."""

    stages: tuple[Stage, ...]
    env: Mapping[str, str]  # the effective ENV of the final image
    global_args: Mapping[str, str]

    @property
    def base(self) -> str:
        return self.stages[0].base


def _expand(text: str, env: Mapping[str, str], escape: str, where: str) -> str:
    try:
        return process_word(text, env, escape)
    except WordError as exc:
        raise DockerfileError(f"{where}: {exc}") from exc


def _expand_words(text: str, env: Mapping[str, str], escape: str, where: str) -> list[str]:
    try:
        return process_words(text, env, escape)
    except WordError as exc:
        raise DockerfileError(f"{where}: {exc}") from exc


def check(df: Dockerfile) -> None:
    """What the builder refuses before it starts: no FROM, or an instruction before it."""
    if not any(inst.keyword == "FROM" for inst in df.instructions):
        raise DockerfileError(f"{df.path}: no FROM instruction: this is not a Dockerfile")
    first = next(inst for inst in df.instructions if inst.keyword != "ARG")
    if first.keyword != "FROM":
        raise DockerfileError(
            f"{df.path}:{first.line}: {first.keyword} before the first FROM (only ARG may come first)"
        )


def heads(df: Dockerfile, build_args: Mapping[str, str]) -> tuple[list[StageHead], dict[str, str]]:
    """Every stage with its base, and the global ARGs (declared before the first FROM)."""
    check(df)
    global_args: dict[str, str] = {}
    found: list[tuple[str | None, str, int, list[Instruction]]] = []
    for inst in df.instructions:
        where = f"{df.path}:{inst.line}"
        if inst.keyword == "FROM":
            words = [_expand(w, global_args, df.escape, where) for w in inst.words]
            if not words or not words[0]:
                if inst.words and "$" in inst.words[0]:
                    raise DockerfileError(
                        f"{where}: FROM {inst.words[0]} uses an ARG without a value: pass --build-arg"
                    )
                raise DockerfileError(f"{where}: FROM without an image")
            name = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
            found.append((name, words[0], inst.line, []))
        elif not found:
            global_args.update(_arg_pairs(inst, global_args, build_args, {}, df.escape, where))
        else:
            found[-1][3].append(inst)
    return [StageHead(name, base, line, tuple(insts)) for name, base, line, insts in found], global_args


def _arg_pairs(
    inst: Instruction,
    env: Mapping[str, str],
    build_args: Mapping[str, str],
    global_args: Mapping[str, str],
    escape: str,
    where: str,
) -> list[tuple[str, str]]:
    """ARG name[=default] ...: a build arg wins, then the default, then a global ARG's value."""
    out = []
    for word in inst.words:
        key, eq, default = word.partition("=")
        key = _expand(key, env, escape, where)
        if key in build_args:
            out.append((key, build_args[key]))
        elif eq:
            out.append((key, _expand(default, env, escape, where)))
        elif key in global_args:
            out.append((key, global_args[key]))
    return out


def chain(all_stages: list[StageHead], last: int | None = None) -> list[StageHead]:
    """The final stage (or stage `last`) and the stages it is built FROM, root first."""
    by_name = {s.name.lower(): i for i, s in enumerate(all_stages) if s.name}
    index = len(all_stages) - 1 if last is None else last
    out = [all_stages[index]]
    seen = {index}
    while out[0].base.lower() in by_name:
        index = by_name[out[0].base.lower()]
        if index in seen or index >= min(seen):
            break
        seen.add(index)
        out.insert(0, all_stages[index])
    return out


@dataclass(slots=True)
class _State:
    """What the builder carries from one instruction to the next."""

    env: dict[str, str]
    args: dict[str, str]
    workdir: str
    workdir_raw: str
    shell: tuple[str, ...]


def stage_index(all_stages: list[StageHead], ref: str, before: int) -> int | None:
    """The stage a `COPY --from=REF` in stage `before` names (a name or an index of an earlier
    stage), or None: then REF is an image."""
    if ref.isdigit():
        return int(ref) if int(ref) < before else None
    found = [i for i, s in enumerate(all_stages[:before]) if s.name and s.name.lower() == ref.lower()]
    return found[-1] if found else None


def resolve(
    df: Dockerfile, *, base_config: ImageConfig | None, build_args: Mapping[str, str], last: int | None = None
) -> Build:
    """The final stage's chain resolved (or the chain of stage `last`, one a COPY --from names)."""
    all_heads, global_args = heads(df, build_args)
    walked = chain(all_heads, last)
    config = base_config or ImageConfig()
    env = dict(config.env_map())
    added: tuple[tuple[str, str], ...] = ()
    if "PATH" not in env:  # the builder's default, also what `ENV PATH=/x:$PATH` expands against
        env["PATH"] = DEFAULT_PATH
        added = (("PATH", DEFAULT_PATH),)
    workdir = config.working_dir or "/"
    state = _State(env, {}, posixpath.normpath(workdir), workdir, tuple(config.shell or ("/bin/sh", "-c")))
    stages = []
    for i, head in enumerate(walked):
        state.args = {}
        commands = tuple(_command(inst, state, df, build_args, global_args) for inst in head.instructions)
        stages.append(Stage(head.name, head.base, head.line, commands, added if i == 0 else ()))
    return Build(tuple(stages), dict(state.env), global_args)


def _command(
    inst: Instruction, state: _State, df: Dockerfile, build_args: Mapping[str, str], global_args: Mapping[str, str]
) -> Command:
    where = f"{df.path}:{inst.line}"
    subst = {**state.env, **state.args}
    kw, esc = inst.keyword, df.escape
    values: tuple[str, ...] = ()
    pairs: tuple[tuple[str, str], ...] = ()
    script = None
    if kw == "ARG":
        pairs = tuple(_arg_pairs(inst, subst, build_args, global_args, esc, where))
        state.args.update(pairs)
    elif kw in ("ENV", "LABEL"):
        pairs = tuple((_expand(k, subst, esc, where), _expand(v, subst, esc, where)) for k, v, _ in inst.pairs)
        if kw == "ENV":
            state.env.update(pairs)
    elif kw == "WORKDIR":
        path = _expand(inst.args, subst, esc, where)
        if path:
            state.workdir_raw = (
                path if path.startswith("/") else posixpath.normpath(posixpath.join(state.workdir, path))
            )
            state.workdir = posixpath.normpath(state.workdir_raw)
        values = (path,)
    elif kw == "SHELL":
        if inst.json is None:
            raise DockerfileError(f"{where}: SHELL needs the JSON form")
        state.shell = tuple(inst.json)
    elif kw in ("COPY", "ADD", "VOLUME"):
        values = _list_values(inst, subst, esc, where)
    elif kw == "EXPOSE":
        values = tuple(w for word in inst.words for w in _expand_words(word, subst, esc, where))
    elif kw in ("USER", "STOPSIGNAL"):
        values = (_expand(inst.args, subst, esc, where).strip(),)
    elif kw == "RUN":
        script = _script(inst, subst, esc)
    return Command(inst, values, pairs, script, dict(state.env), state.workdir, state.workdir_raw, state.shell)


def _list_values(inst: Instruction, env: Mapping[str, str], escape: str, where: str) -> tuple[str, ...]:
    words = inst.json if inst.json is not None else list(inst.words)
    if inst.heredocs:
        names = {f"<<{'-' if h.strip_tabs else ''}{h.name}" for h in inst.heredocs}
        words = [w for w in words if not w.startswith("<<") and w not in names]
        return ("<<heredoc>>", *(_expand(w, env, escape, where) for w in words))
    return tuple(_expand(w, env, escape, where) for w in words)


def _script(inst: Instruction, env: Mapping[str, str], escape: str) -> str | None:
    """The shell script a RUN line runs (a heredoc body fed to a shell counts)."""
    if inst.json is not None:
        words = inst.json
        if len(words) >= 3 and posixpath.basename(words[0]) in ("sh", "bash", "dash") and words[1] == "-c":
            return substitute_keep(words[2], env, escape)
        return " ".join(shlex.quote(w) for w in words)
    text = inst.args
    if inst.heredocs:
        head = re.sub(r"\d*<<-?\s*(\"[^\"]*\"|'[^']*'|\S+)", "", text).strip()
        prog = posixpath.basename(head.split()[0]) if head else ""
        if not head or prog in ("sh", "bash", "dash"):
            return "\n".join(
                substitute_keep(heredoc_content(h), env, escape) if h.expand else heredoc_content(h)
                for h in inst.heredocs
            )
        return substitute_keep(head, env, escape)
    return substitute_keep(text, env, escape)


# -- RUN scripts: substitute what is known, keep the rest for the shell -------------------------

_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")


def substitute_keep(text: str, env: Mapping[str, str], escape: str = "\\") -> str:
    """Substitute the variables that have values (and `${X:-d}` forms); leave the others as written."""
    out: list[str] = []
    pos = 0
    for match in _VAR.finditer(text):
        start = match.start()
        if start > 0 and text[start - 1] == escape:
            continue
        name = match.group(1) or match.group(4)
        op, word = match.group(2), match.group(3) or ""
        value = env.get(name)
        if op is None and value is None:
            continue
        out.append(text[pos:start])
        unset = value is None or (op is not None and op.startswith(":") and value == "")
        if op is None:
            out.append(str(value))
        elif op.endswith("-"):
            out.append(substitute_keep(word, env, escape) if unset else str(value))
        else:
            out.append("" if unset else substitute_keep(word, env, escape))
        pos = match.end()
    out.append(text[pos:])
    return "".join(out)
