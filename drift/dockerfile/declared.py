"""What a Dockerfile's final stage declares, walked in build order.

Stages are followed through `FROM stage` to the image the final stage starts from. ARG
and ENV values are substituted as the builder does; RUN lines go through
`drift.dockerfile.shell`. The result is plain data for `drift.dockerfile.audit`.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from dataclasses import dataclass, field
from typing import Any

from drift.dockerfile.parse import Dockerfile, Instruction, env_pairs, substitute
from drift.dockerfile.shell import Declared, PipInstall, analyse
from drift.errors import DockerfileError
from drift.model import ImageConfig


@dataclass(frozen=True, slots=True)
class At:
    """Something declared, with the Dockerfile line that declares it."""

    line: int
    value: Any


@dataclass(slots=True)
class Declaration:
    base: str  # the image the final stage is built on ("scratch" for none)
    base_line: int
    stages: list[str]  # names of the stages walked, root first
    apt_install: list[At] = field(default_factory=list)  # At(line, AptInstall)
    apt_remove: list[At] = field(default_factory=list)  # At(line, name)
    apt_upgrade: list[int] = field(default_factory=list)
    pip_install: list[At] = field(default_factory=list)  # At(line, (PipInstall, env path or None))
    pip_uninstall: list[At] = field(default_factory=list)  # At(line, (name, env))
    requirement_files: list[At] = field(default_factory=list)  # At(line, (path in image, env, user))
    venvs: list[At] = field(default_factory=list)
    accounts: list[int] = field(default_factory=list)
    paths: list[At] = field(default_factory=list)  # files a RUN writes (globs allowed)
    copies: list[At] = field(default_factory=list)  # At(line, (dest, sources, from_stage))
    workdirs: list[At] = field(default_factory=list)
    unknowns: list[At] = field(default_factory=list)  # At(line, reason)
    problems: list[At] = field(default_factory=list)  # At(line, reason)
    unknown_apt: list[int] = field(default_factory=list)
    unknown_pip: list[int] = field(default_factory=list)
    unknown_any: list[int] = field(default_factory=list)
    config: dict[str, At] = field(default_factory=dict)  # flat key -> At(line, value)
    env: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class _Stage:
    name: str | None
    base: str
    line: int
    instructions: list[Instruction]


def stages(df: Dockerfile, build_args: dict[str, str]) -> tuple[list[_Stage], dict[str, str]]:
    global_args: dict[str, str] = {}
    out: list[_Stage] = []
    for inst in df.instructions:
        if inst.keyword == "FROM":
            words = substitute(inst.args, global_args, escape=df.escape).split()
            if not words:
                raise DockerfileError(f"{df.path}:{inst.line}: FROM without an image")
            name = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
            out.append(_Stage(name, words[0], inst.line, []))
        elif not out:
            if inst.keyword == "ARG":
                for key, value in _arg_pairs(inst.args):
                    global_args[key] = (
                        build_args.get(key, substitute(value, global_args))
                        if value is not None
                        else (build_args.get(key, ""))
                    )
        else:
            out[-1].instructions.append(inst)
    return out, global_args


def _arg_pairs(args: str) -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    for word in args.split():
        key, eq, value = word.partition("=")
        out.append((key, value.strip('"').strip("'") if eq else None))
    return out


def chain(all_stages: list[_Stage]) -> list[_Stage]:
    """The final stage and the stages it is built FROM, root first."""
    by_name = {s.name.lower(): i for i, s in enumerate(all_stages) if s.name}
    index = len(all_stages) - 1
    out = [all_stages[index]]
    seen = {index}
    while out[0].base.lower() in by_name:
        index = by_name[out[0].base.lower()]
        if index in seen or index >= min(seen):
            break
        seen.add(index)
        out.insert(0, all_stages[index])
    return out


def declare(
    df: Dockerfile, *, base_config: ImageConfig | None, build_args: dict[str, str], known_venvs: set[str]
) -> Declaration:
    all_stages, global_args = stages(df, build_args)
    walked = chain(all_stages)
    root = walked[0]
    decl = Declaration(base=root.base, base_line=root.line, stages=[s.name or f"#{i}" for i, s in enumerate(walked)])
    config = base_config or ImageConfig()
    env: dict[str, str] = dict(config.env_map())
    flat = config.flat()
    decl.config = {k: At(0, v) for k, v in flat.items()}
    workdir = config.working_dir or "/"
    shell = list(config.shell or ["/bin/sh", "-c"])
    venvs = set(known_venvs)
    for stage in walked:
        args: dict[str, str] = {}
        cmd_set = False
        for inst in stage.instructions:
            subst = {**env, **args}
            kw = inst.keyword
            if not inst.known:
                decl.problems.append(At(inst.line, f"unknown instruction {kw}"))
            elif kw == "ARG":
                for key, value in _arg_pairs(inst.args):
                    if key in build_args:
                        args[key] = build_args[key]
                    elif value is not None:
                        args[key] = substitute(value, subst, escape=df.escape)
                    elif key in global_args:
                        args[key] = global_args[key]
            elif kw == "ENV":
                for key, value in env_pairs(substitute(inst.args, subst, escape=df.escape), df.escape):
                    env[key] = value
                    decl.config[f"Env.{key}"] = At(inst.line, value)
            elif kw == "LABEL":
                for key, value in env_pairs(substitute(inst.args, subst, escape=df.escape), df.escape):
                    decl.config[f"Labels.{key}"] = At(inst.line, value)
            elif kw == "WORKDIR":
                path = substitute(inst.args, subst, escape=df.escape).strip()
                workdir = posixpath.normpath(posixpath.join(workdir, path))
                decl.config["WorkingDir"] = At(inst.line, workdir)
                decl.workdirs.append(At(inst.line, workdir))
            elif kw == "USER":
                decl.config["User"] = At(inst.line, substitute(inst.args, subst, escape=df.escape).strip())
            elif kw == "EXPOSE":
                ports = list(decl.config["ExposedPorts"].value)
                for port in substitute(inst.args, subst, escape=df.escape).split():
                    port = port if "/" in port else f"{port}/tcp"
                    if port not in ports:
                        ports.append(port)
                decl.config["ExposedPorts"] = At(inst.line, sorted(ports))
            elif kw == "VOLUME":
                vols = list(decl.config["Volumes"].value)
                new = inst.json if inst.json is not None else substitute(inst.args, subst, escape=df.escape).split()
                decl.config["Volumes"] = At(inst.line, sorted(set(vols) | set(new)))
            elif kw == "SHELL":
                if inst.json is None:
                    raise DockerfileError(f"{df.path}:{inst.line}: SHELL needs the JSON form")
                shell = inst.json
                decl.config["Shell"] = At(inst.line, inst.json)
            elif kw == "STOPSIGNAL":
                decl.config["StopSignal"] = At(inst.line, inst.args.strip())
            elif kw in ("CMD", "ENTRYPOINT"):
                form = inst.json if inst.json is not None else [*shell, inst.args]
                decl.config["Cmd" if kw == "CMD" else "Entrypoint"] = At(inst.line, form)
                if kw == "CMD":
                    cmd_set = True
                elif not cmd_set:
                    decl.config["Cmd"] = At(inst.line, None)
            elif kw == "RUN":
                _run(decl, inst, subst, workdir, shell, venvs, env, df.escape)
            elif kw in ("COPY", "ADD"):
                _copy(decl, inst, subst, workdir, df.escape)
    decl.env = env
    return decl


_KEEP = re.compile(r"\$(\{[^}]*\}|[A-Za-z_][A-Za-z0-9_]*)")


def substitute_keep(text: str, env: dict[str, str], escape: str = "\\") -> str:
    """Substitute the variables that have values; leave the others as written."""

    def repl(match: re.Match[str]) -> str:
        body = match.group(1).strip("{}")
        name = re.split(r"[:}]", body, maxsplit=1)[0]
        if name in env or ":-" in body or ":+" in body:
            return substitute(match.group(0), env, escape=escape)
        return match.group(0)

    return _KEEP.sub(repl, text)


def _venv_of(interpreter: str, env: dict[str, str], venvs: set[str]) -> str | None:
    """Which environment a pip/python command runs in: a venv path or None (system)."""
    if "/" in interpreter:
        folder = posixpath.dirname(interpreter)
        return posixpath.dirname(folder) if folder.endswith("/bin") and posixpath.dirname(folder) in venvs else None
    for folder in env.get("PATH", "").split(":"):
        root = posixpath.dirname(folder.rstrip("/"))
        if folder.rstrip("/").endswith("/bin") and root in venvs:
            return root
        if folder.rstrip("/") in ("/usr/local/bin", "/usr/local/sbin", "/usr/bin", "/usr/sbin", "/bin", "/sbin"):
            return None
    return None


def _script(inst: Instruction, shell: list[str]) -> str | None:
    if inst.json is not None:
        words = inst.json
        if len(words) >= 3 and posixpath.basename(words[0]) in ("sh", "bash", "dash") and words[1] == "-c":
            return words[2]
        return " ".join(shlex.quote(w) for w in words)
    text = inst.args
    if inst.heredocs:
        head = re.sub(r"<<-?([\"']?)[A-Za-z_][A-Za-z0-9_]*\1", "", text).strip()
        prog = posixpath.basename(head.split()[0]) if head else ""
        if not head or prog in ("sh", "bash", "dash"):
            return "\n".join(h.content for h in inst.heredocs)
        return head
    return text


def _run(
    decl: Declaration,
    inst: Instruction,
    subst: dict[str, str],
    workdir: str,
    shell: list[str],
    venvs: set[str],
    env: dict[str, str],
    escape: str,
) -> None:
    script = _script(inst, shell)
    if script is None:
        return
    found: Declared = analyse(substitute_keep(script, subst, escape), workdir=workdir)
    line = inst.line
    for apt in found.apt_install:
        decl.apt_install.append(At(line, apt))
    decl.apt_remove += [At(line, name) for name in found.apt_remove]
    if found.apt_upgrade:
        decl.apt_upgrade.append(line)
    for venv in found.venvs:
        venvs.add(venv)
        decl.venvs.append(At(line, venv))
    for pip in found.pip_install:
        decl.pip_install.append(At(line, (pip, _pip_env(pip, env, venvs))))
    for name, interpreter in found.pip_uninstall:
        decl.pip_uninstall.append(At(line, (name, _venv_of(interpreter, env, venvs))))
    for path, interpreter, opts in found.requirement_files:
        decl.requirement_files.append(At(line, (path, _venv_of(interpreter, env, venvs), bool(opts.get("user")))))
    if found.accounts:
        decl.accounts.append(line)
    decl.paths += [At(line, p) for p in found.paths]
    decl.unknowns += [At(line, u) for u in found.unknowns]
    decl.problems += [At(line, p) for p in found.problems]
    if found.unknown_apt:
        decl.unknown_apt.append(line)
    if found.unknown_pip:
        decl.unknown_pip.append(line)
    if found.unknown_any:
        decl.unknown_any.append(line)


def _pip_env(pip: PipInstall, env: dict[str, str], venvs: set[str]) -> str | None:
    if pip.target:
        return "*"
    if pip.user:
        return "/root/.local"
    return _venv_of(pip.interpreter, env, venvs)


def _copy(decl: Declaration, inst: Instruction, subst: dict[str, str], workdir: str, escape: str) -> None:
    words = inst.json if inst.json is not None else substitute(inst.args, subst, escape=escape).split()
    if inst.heredocs:
        words = [w for w in words if not w.startswith("<<")]
        words = ["<<heredoc>>", *words]
    if len(words) < 2:
        return
    dest = words[-1]
    dest_path = posixpath.normpath(dest if dest.startswith("/") else posixpath.join(workdir, dest))
    decl.copies.append(At(inst.line, (dest_path, words[:-1], inst.flags.get("from"))))
