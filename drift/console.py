"""What a person meets at the command line: plain help and one-line usage errors.

typer parses the arguments; this module decides how help and mistakes look:
- help reads like a standard CLI (`Usage: drift diff [OPTIONS] ACTUAL EXPECTED`, flags bare,
  values as `--network NAME`, choices listed), never typer's boxes or `<bool>`/`{actual}`;
- an option mistake (unknown option, bad value, missing argument) is ONE line on stderr,
  `drift: error: ... (see 'drift diff --help')`, exit 2;
- Ctrl-C is `drift: interrupted`, exit 130.

Commands added with `app.command()` get this automatically (`DriftTyper`).
"""

from __future__ import annotations

import functools
import sys
import traceback
from collections.abc import Callable
from enum import Enum
from typing import Any, NoReturn

import typer
import typer.core
from typer.models import DefaultPlaceholder

from drift import completion, say
from drift.errors import DriftError

try:  # typer >= 0.2x carries its own copy of click
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover - older typer on top of click
    from click.exceptions import ClickException  # type: ignore[no-redef,assignment,unused-ignore]

HELP_OPTIONS = ["-h", "--help"]
PROG = "drift"


def _value_metavar(param: Any) -> str:
    if param.metavar:
        return str(param.metavar)
    long = next((o for o in param.opts if o.startswith("--")), param.opts[0])
    return long.lstrip("-").replace("-", "_").upper()


def _choices(param: Any) -> list[str]:
    desc = getattr(param, "type_descriptor", None)
    raw = (
        desc.choices if desc is not None and desc.is_choice else getattr(getattr(param, "type", None), "choices", None)
    )
    return [c.value if isinstance(c, Enum) else str(c) for c in raw or ()]


def _default(param: Any) -> str | None:
    value = param.default
    if getattr(param, "is_flag", False) or value is None or value == [] or callable(value):
        return None
    return str(value.value if isinstance(value, Enum) else value)


def option_record(param: Any) -> tuple[str, str]:
    """('-f, --format FORMAT', 'Output format: table, json. [default: table]') for one option."""
    opts = sorted(param.opts, key=lambda o: o.startswith("--"))
    name = ", ".join(opts)
    if not getattr(param, "is_flag", False) and not getattr(param, "count", False):
        name += f" {_value_metavar(param)}"
    text = param.help or ""
    choices = _choices(param)
    if choices:
        text = f"{text.rstrip('.')}: {', '.join(choices)}."
    extra = []
    default = _default(param)
    if default is not None and getattr(param, "show_default", True) is not False:
        extra.append(f"default: {default}")
    if getattr(param, "multiple", False) and "repeatable" not in text.lower():
        extra.append("repeatable")
    if param.required:
        extra.append("required")
    return name, f"{text} [{'; '.join(extra)}]" if extra else text


def _arg_name(param: Any) -> str:
    return str(param.metavar or param.name.upper()) + ("..." if param.nargs != 1 else "")


def _usage_pieces(command: Any, ctx: Any) -> list[str]:
    pieces = ["[OPTIONS]"]
    for param in command.get_params(ctx):
        if param.param_type_name == "argument":
            name = _arg_name(param)
            pieces.append(name if param.required else f"[{name.removesuffix('...')}]" + "..." * name.endswith("..."))
    return pieces


def _help_option(ctx: Any) -> tuple[str, str]:
    return ", ".join(ctx.help_option_names), "Show this message and exit."


def _write_common(command: Any, ctx: Any, formatter: Any, pieces: list[str]) -> None:
    formatter.write_usage(ctx.command_path, " ".join(pieces))
    if command.help:
        formatter.write_paragraph()
        with formatter.indentation():
            formatter.write_text(command.help)


def _write_params(command: Any, ctx: Any, formatter: Any) -> None:
    params = [p for p in command.get_params(ctx) if not getattr(p, "hidden", False)]
    args = [(_arg_name(p), p.help or "") for p in params if p.param_type_name == "argument"]
    opts = [option_record(p) for p in params if p.param_type_name == "option" and p.name != "help"]
    opts.append(_help_option(ctx))
    if args:
        with formatter.section("Arguments"):
            formatter.write_dl(args)
    with formatter.section("Options"):
        formatter.write_dl(opts)


class DriftCommand(typer.core.TyperCommand):
    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return _usage_pieces(self, ctx)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        _write_common(self, ctx, formatter, _usage_pieces(self, ctx))
        _write_params(self, ctx, formatter)


class DriftGroup(typer.core.TyperGroup):
    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return ["[OPTIONS]", "COMMAND", "[ARGS]..."]

    def format_help(self, ctx: Any, formatter: Any) -> None:
        _write_common(self, ctx, formatter, self.collect_usage_pieces(ctx))
        _write_params(self, ctx, formatter)
        rows = []
        for name in self.list_commands(ctx):
            sub = self.get_command(ctx, name)
            if sub is not None and not getattr(sub, "hidden", False):
                rows.append((name, (sub.help or "").strip().split("\n")[0]))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)
        formatter.write_paragraph()
        formatter.write_text(f"Run '{ctx.command_path} COMMAND --help' for a command's options.")


class DriftTyper(typer.Typer):
    """A Typer whose commands and sub-groups print plain help."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("cls", DriftGroup)
        kwargs.setdefault("rich_markup_mode", None)
        kwargs.setdefault("add_completion", False)
        kwargs.setdefault("pretty_exceptions_enable", False)
        super().__init__(**kwargs)

    def command(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("cls", DriftCommand)
        return super().command(*args, **kwargs)


state = {"debug": False}  # --debug (or DRIFT_DEBUG=1): tracebacks for errors, set by drift/cli.py


def fail(message: str, code: int = 2) -> NoReturn:
    say.error(message)
    raise SystemExit(code)


def guard(fn: Callable[..., None]) -> Callable[..., None]:
    """Run a command; a DriftError (or anything unexpected) becomes one line and exit 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            fn(*args, **kwargs)
        except DriftError as exc:
            if state["debug"]:
                traceback.print_exc()
            for line in getattr(exc, "log_tail", ()):
                print(f"  | {say.printable(line)}", file=sys.stderr)
            fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            print("drift: interrupted", file=sys.stderr)
            raise SystemExit(130) from None
        except (SystemExit, typer.Exit):
            raise
        except Exception as exc:
            if state["debug"]:
                traceback.print_exc()
            fail(f"unexpected {type(exc).__name__}: {exc} (run with --debug for a traceback, and please report it)")

    return wrapper


def _message(exc: ClickException) -> str:
    text = " ".join(exc.format_message().split()).replace("Value error, ", "")
    text = text[:1].lower() + text[1:].rstrip(".")
    ctx = getattr(exc, "ctx", None)
    if ctx is not None:
        text += f" (see '{ctx.command_path} --help')"
    return text


def plain(app: typer.Typer) -> None:
    """Give every command and sub-group of APP plain help, also those added with a bare
    typer.Typer() (a command left at typer's default class gets DriftCommand)."""
    for info in app.registered_commands:
        if info.cls is None or info.cls is typer.core.TyperCommand:
            info.cls = DriftCommand
    for group in app.registered_groups:
        if group.cls is None or isinstance(group.cls, DefaultPlaceholder) or group.cls is typer.core.TyperGroup:
            group.cls = DriftGroup
        if group.typer_instance is not None:
            plain(group.typer_instance)


def run(app: typer.Typer, argv: list[str] | None = None) -> int:
    """Run APP; returns the exit code. Usage mistakes are one line, exit 2."""
    try:
        plain(app)
        if completion.requested():  # a shell asks for candidates (drift/completion.py)
            completion.register_shells()
        command = typer.main.get_command(app)
        rv = command.main(args=argv, prog_name=PROG, standalone_mode=False)
    except ClickException as exc:
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
            sys.stdout.write(ctx.get_help() + "\n")
            return 2
        say.error(_message(exc))
        return 2
    except (typer.Abort, KeyboardInterrupt):
        print("drift: interrupted", file=sys.stderr)
        return 130
    if rv == 130:
        print("drift: interrupted", file=sys.stderr)
    return rv if isinstance(rv, int) else 0
