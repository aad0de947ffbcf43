"""The config part of a snapshot: ENV, LABEL, EXPOSE, VOLUME, WORKDIR, SHELL, STOPSIGNAL,
ENTRYPOINT, CMD and USER instructions for what differs from the base.

Every value is escaped for its instruction (`drift.dockerfile.escape`); a value no Dockerfile
can hold, or one that looks secret (`drift.secrets`), is left out and reported (`LeftOut`).
"""

from __future__ import annotations

from dataclasses import dataclass

from drift import secrets
from drift.dockerfile import escape
from drift.model import DEFAULT_PATH, Inventory


@dataclass(frozen=True, slots=True)
class LeftOut:
    what: str
    why: str
    flag: str | None = None
    key: str | None = None  # the file path or config key a --verify does not count


def env_settings(
    inv: Inventory, include_secrets: bool, left: list[LeftOut]
) -> tuple[list[tuple[str, str, bool]], dict[str, str]]:
    """ENV values that differ from the base; secret ones become build args (never written)."""
    if inv.config is None:
        return [], {}
    base = inv.base_config.env_map() if inv.base_config else {}
    out = []
    args: dict[str, str] = {}
    for name, value in inv.config.env_map().items():
        if base.get(name) == value:
            continue
        why = "its name looks like a secret" if secrets.name_looks_secret(name) else secrets.text_reason(value)
        if why and not include_secrets:
            try:
                escape.env(name, "")
            except escape.Unsafe as exc:
                left.append(LeftOut(f"ENV {name}", str(exc), None, f"Env.{name}"))
                continue
            args[name] = value
            left.append(LeftOut(f"ENV {name}", f"{why}: written as an ARG without a value", "--include-secrets"))
            out.append((name, value, True))
            continue
        try:
            escape.env(name, value)
        except escape.Unsafe as exc:
            left.append(LeftOut(f"ENV {name}", str(exc), None, f"Env.{name}"))
            continue
        out.append((name, value, False))
    for name in sorted(base.keys() - inv.config.env_map().keys()):
        if name == "PATH" and base[name] == DEFAULT_PATH:
            continue  # no PATH is the engine's default PATH, which the base sets: the same at run time
        left.append(LeftOut(f"ENV {name}", "removed from the base's environment, which a Dockerfile cannot do"))
    return sorted(out), args


@dataclass(frozen=True, slots=True)
class _Setting:
    what: str  # how a person names it: LABEL x, CMD, WORKDIR
    key: str  # the config key a --verify compares (ImageConfig.flat)
    value: object
    secret: str | None  # why the value looks secret


def _settings(inv: Inventory, left: list[LeftOut], secret_values: tuple[str, ...]) -> list[_Setting]:
    from drift.model import ImageConfig

    if inv.config is None:
        return []
    now, base = inv.config, inv.base_config or ImageConfig()

    def known(text: str) -> str | None:
        return "holds the value of a secret ENV" if any(v in text for v in secret_values) else None

    out: list[_Setting] = []
    base_labels = dict(base.labels)
    for key, value in now.labels:
        if base_labels.get(key) != value:
            why = secrets.text_reason(value) or known(value)
            if secrets.name_looks_secret(key) and value:
                why = why or "its name looks like a secret"
            out.append(_Setting(f"LABEL {key}", f"Labels.{key}", value, why))
    new_ports = [p for p in now.exposed_ports if p not in base.exposed_ports]
    if new_ports:
        out.append(_Setting("EXPOSE", "ExposedPorts", new_ports, None))
    new_volumes = [v for v in now.volumes if v not in base.volumes]
    if new_volumes:
        out.append(_Setting("VOLUME", "Volumes", new_volumes, None))
    if now.working_dir != base.working_dir:
        out.append(_Setting("WORKDIR", "WorkingDir", now.working_dir, None))
    if now.shell != base.shell and now.shell is not None:
        out.append(_Setting("SHELL", "Shell", list(now.shell), None))
    if now.stop_signal != base.stop_signal and now.stop_signal:
        out.append(_Setting("STOPSIGNAL", "StopSignal", now.stop_signal, None))
    for name, key, argv, old in (
        ("ENTRYPOINT", "Entrypoint", now.entrypoint, base.entrypoint),
        ("CMD", "Cmd", now.cmd, base.cmd),
    ):
        if name == "CMD" and argv is None and now.entrypoint != base.entrypoint:
            continue  # a new ENTRYPOINT resets CMD, as the image has it
        if argv != old or (name == "CMD" and now.entrypoint != base.entrypoint):
            why = secrets.argv_reason(argv or ()) or known(" ".join(argv or ()))
            out.append(_Setting(name, key, list(argv or ()), why))
    if now.user != base.user:
        out.append(_Setting("USER", "User", now.user or "root", None))
    for key, _ in base.labels:
        if key not in dict(now.labels):
            left.append(LeftOut(f"LABEL {key}", "removed from the base's labels, which a Dockerfile cannot do"))
    return out


def config_lines(
    inv: Inventory,
    left: list[LeftOut],
    secret_values: tuple[str, ...],
    include_secrets: bool,
    overrides: dict[str, list[str]],
    notes: list[str],
) -> list[str]:
    """Ready instructions for the config that differs from the base, each escaped for its
    instruction; secret values and values no Dockerfile can hold are left out and reported."""
    lines: list[str] = []
    committed = _committed(inv)
    for s in _settings(inv, left, () if include_secrets else secret_values):
        value = s.value
        if s.key in overrides:
            value = overrides[s.key]
            lines.append(f"# {s.what} replaced by --{s.what.lower()} (the image's own is not written)")
            left.append(LeftOut(s.what, f"replaced by --{s.what.lower()}", None, s.key))
        elif s.secret and not include_secrets:
            left.append(LeftOut(s.what, f"its value {s.secret}", "--include-secrets", s.key))
            continue
        elif s.key in ("Cmd", "Entrypoint") and committed and value:
            note = (
                f"the {s.what} is the command the container was started with (docker commit keeps it); "
                f"the rebuilt image runs it at every start (--{s.what.lower()} sets another)"
            )
            notes.append(note)
            lines.append(f"# {escape.comment(note)}")
        try:
            line = escape.config_instruction(s.key, value)
        except escape.Unsafe as exc:
            left.append(LeftOut(s.what, str(exc), None, s.key))
            continue
        if s.key == "User" and str(value).split(":")[0] in ("root", "0"):
            lines.append("# the original image runs as root; the rebuild keeps that (DL3002 is ignored on purpose)")
            lines.append("# hadolint ignore=DL3002")
        lines.append(line)
    return lines


def _committed(inv: Inventory) -> bool:
    """The target's config was last set by `docker commit` (a container, or a committed image)."""
    if inv.target.kind == "container":
        return True
    own = [h for h in inv.history if not h.in_base]
    return bool(own) and own[-1].origin == "commit"


def parse_command(text: str) -> list[str]:
    """--cmd/--entrypoint: a JSON array as in the exec form, else a shell command (sh -c)."""
    import json

    try:
        value = json.loads(text)
    except ValueError:
        return ["/bin/sh", "-c", text]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return ["/bin/sh", "-c", text]
