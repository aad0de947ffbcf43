"""What a Dockerfile's final stage declares, walked in build order.

`drift.dockerfile.resolve` has already followed the stages (`FROM stage`) to the image the
final stage starts from and expanded ARG/ENV as the builder does; this module only walks
the resolved commands. RUN scripts go through `drift.dockerfile.shell`. The result is plain
data for `drift.dockerfile.audit`.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from drift.dockerfile.context import CopySpec
from drift.dockerfile.parse import Dockerfile
from drift.dockerfile.resolve import Build, Command, chain, heads, resolve, stage_index
from drift.dockerfile.shell import Declared, PipInstall, analyse
from drift.model import ImageConfig


class RequirementFile(NamedTuple):
    """A `pip install -r FILE`: the file's path in the image and where its packages go."""

    path: str
    env: str | None  # as PipInstall's: a venv, None (system), USER_SITE (--user), "*" (--target/--prefix)
    user: bool
    target: str | None = None  # the --target/--prefix/--root folder


# `pip install --user`: the ~/.local of whichever USER the line runs as (root's or another's)
USER_SITE = "~/.local"


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
    requirement_files: list[At] = field(default_factory=list)  # At(line, RequirementFile)
    venvs: list[At] = field(default_factory=list)
    accounts: list[int] = field(default_factory=list)
    account_names: list[At] = field(default_factory=list)  # At(line, (user|group, name or "*"))
    paths: list[At] = field(default_factory=list)  # files a RUN writes (globs allowed)
    meta_paths: list[At] = field(default_factory=list)  # files a RUN changes the owner or mode of
    copies: list[At] = field(default_factory=list)  # At(line, CopySpec)
    workdirs: list[At] = field(default_factory=list)
    unknowns: list[At] = field(default_factory=list)  # At(line, reason)
    problems: list[At] = field(default_factory=list)  # At(line, reason)
    unknown_apt: list[int] = field(default_factory=list)
    unknown_pip: list[int] = field(default_factory=list)
    unknown_any: list[int] = field(default_factory=list)
    config: dict[str, At] = field(default_factory=dict)  # flat key -> At(line, value)
    env: dict[str, str] = field(default_factory=dict)  # the final image's ENV, builder defaults included
    workdir: str = "/"  # the final working directory, cleaned (what a commit records)
    workdir_raw: str = "/"  # as the builder writes it in the config (`WORKDIR /app/` keeps its slash)
    from_stages: dict[str, Declaration] = field(default_factory=dict)  # `COPY --from=REF` -> what stage REF declares


_MAX_STAGE_DEPTH = 8


def declare(
    df: Dockerfile,
    *,
    base_config: ImageConfig | None,
    build_args: dict[str, str],
    known_venvs: set[str],
    last: int | None = None,
    depth: int = 0,
) -> Declaration:
    """What the final stage declares (or stage `last`, when a COPY --from names it); the stages
    its COPY --from lines name are declared too (`from_stages`, read by `drift.dockerfile.stages`)."""
    build = resolve(df, base_config=base_config, build_args=build_args, last=last)
    root = build.stages[0]
    decl = Declaration(
        base=root.base, base_line=root.line, stages=[s.name or f"#{i}" for i, s in enumerate(build.stages)]
    )
    config = base_config or ImageConfig()
    decl.config = {k: At(0, v) for k, v in config.flat().items()}
    for key, value in root.added_env:  # what the builder adds at FROM (the default PATH)
        decl.config[f"Env.{key}"] = At(root.line, value)
    decl.workdir_raw = config.working_dir or "/"
    decl.workdir = posixpath.normpath(decl.workdir_raw)
    venvs = set(known_venvs)
    for stage in build.stages:
        cmd_set = False
        for command in stage.commands:
            if not command.inst.known:
                decl.problems.append(At(command.line, f"unknown instruction {command.keyword}"))
            elif command.keyword in ("CMD", "ENTRYPOINT"):
                cmd_set = _cmd(decl, command, cmd_set)
            elif command.keyword == "RUN":
                _run(decl, command, venvs)
            elif command.keyword in ("COPY", "ADD"):
                _copy(decl, command)
            else:
                _config(decl, command)
    decl.env = dict(build.env)
    if depth < _MAX_STAGE_DEPTH:
        decl.from_stages = _from_stages(df, build, decl, base_config, build_args, known_venvs, depth)
    return decl


def _from_stages(
    df: Dockerfile,
    build: Build,
    decl: Declaration,
    base_config: ImageConfig | None,
    build_args: dict[str, str],
    known_venvs: set[str],
    depth: int,
) -> dict[str, Declaration]:
    """Each stage a COPY --from of this chain names, declared as a final stage would be (its base's
    config is known only when it is this chain's base image)."""
    all_heads, _ = heads(df, build_args)
    index_of = {h.line: i for i, h in enumerate(all_heads)}
    out: dict[str, Declaration] = {}
    for stage in build.stages:
        here = index_of[stage.line]
        for command in stage.commands:
            ref = command.inst.flags.get("from") if command.keyword in ("COPY", "ADD") else None
            if not ref or ref.lower() in out:
                continue
            index = stage_index(all_heads, ref, before=here)
            if index is None:
                continue  # an image: drift.dockerfile.stages says what it cannot know
            same_base = chain(all_heads, index)[0].base == build.base
            out[ref.lower()] = declare(
                df,
                base_config=base_config if same_base else None,
                build_args=build_args,
                known_venvs=known_venvs,
                last=index,
                depth=depth + 1,
            )
    return out


def _config(decl: Declaration, command: Command) -> None:
    """What ENV, LABEL, WORKDIR, USER, EXPOSE, VOLUME, SHELL and STOPSIGNAL put in the image config."""
    kw, line = command.keyword, command.line
    if kw in ("ENV", "LABEL"):
        for key, value in command.pairs:
            decl.config[f"{'Env' if kw == 'ENV' else 'Labels'}.{key}"] = At(line, value)
    elif kw == "WORKDIR":
        decl.workdir, decl.workdir_raw = command.workdir, command.workdir_raw
        decl.config["WorkingDir"] = At(line, command.workdir_raw)
        decl.workdirs.append(At(line, command.workdir))
    elif kw in ("USER", "STOPSIGNAL"):
        decl.config["User" if kw == "USER" else "StopSignal"] = At(line, command.values[0])
    elif kw == "EXPOSE":
        ports = set(decl.config["ExposedPorts"].value or [])
        ports |= {p if "/" in p else f"{p}/tcp" for p in command.values}
        decl.config["ExposedPorts"] = At(line, sorted(ports))
    elif kw == "VOLUME":
        decl.config["Volumes"] = At(line, sorted(set(decl.config["Volumes"].value or []) | set(command.values)))
    elif kw == "SHELL":
        decl.config["Shell"] = At(line, list(command.shell))


def _cmd(decl: Declaration, command: Command, cmd_set: bool) -> bool:
    """CMD/ENTRYPOINT; an ENTRYPOINT clears a CMD inherited from before (not one set after it)."""
    inst = command.inst
    form = inst.json if inst.json is not None else [*command.shell, inst.args]
    decl.config["Cmd" if command.keyword == "CMD" else "Entrypoint"] = At(command.line, form)
    if command.keyword == "CMD":
        return True
    if not cmd_set:
        decl.config["Cmd"] = At(command.line, None)
    return cmd_set


def _venv_of(interpreter: str, env: Mapping[str, str], venvs: set[str]) -> str | None:
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


def _run(decl: Declaration, command: Command, venvs: set[str]) -> None:
    if command.script is None:
        return
    found: Declared = analyse(command.script, workdir=command.workdir)
    env = command.env
    line = command.line
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
        target = opts.get("target")
        where = "*" if target else _venv_of(interpreter, env, venvs)
        decl.requirement_files.append(
            At(line, RequirementFile(path, where, bool(opts.get("user")), target if isinstance(target, str) else None))
        )
    if found.accounts:
        decl.accounts.append(line)
    decl.account_names += [At(line, name) for name in found.account_names]
    decl.paths += [At(line, p) for p in found.paths]
    decl.meta_paths += [At(line, p) for p in found.meta_paths]
    decl.unknowns += [At(line, u) for u in found.unknowns]
    decl.problems += [At(line, p) for p in found.problems]
    if found.unknown_apt:
        decl.unknown_apt.append(line)
    if found.unknown_pip:
        decl.unknown_pip.append(line)
    if found.unknown_any:
        decl.unknown_any.append(line)


def _pip_env(pip: PipInstall, env: Mapping[str, str], venvs: set[str]) -> str | None:
    if pip.target:
        return "*"
    if pip.user:
        return USER_SITE
    return _venv_of(pip.interpreter, env, venvs)


def _copy(decl: Declaration, command: Command) -> None:
    words = command.values
    if len(words) < 2:
        return
    dest = words[-1]
    dest_path = posixpath.normpath(dest if dest.startswith("/") else posixpath.join(command.workdir, dest))
    flags = command.inst.flags
    is_dir = dest.endswith("/") or dest in (".", "..") or dest.endswith(("/.", "/.."))
    spec = CopySpec(
        command.keyword, tuple(words[:-1]), dest_path, is_dir, flags.get("from"), "chown" in flags, "chmod" in flags
    )
    decl.copies.append(At(command.line, spec))
