"""The command line: parse arguments, call one function, map errors to exit codes.

Exit codes: 0 ok / no drift, 1 drift found, 2 trouble (bad input, engine down, ...).
"""

from __future__ import annotations

import contextlib
import os
import sys
from enum import Enum
from typing import Annotated

import typer

from drift import __version__
from drift.errors import DriftError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Find and repair environment drift in Docker containers and images.",
)

_state = {"debug": False}


class Format(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"


def fail(message: str, code: int = 2) -> None:
    print(f"drift: error: {message}", file=sys.stderr)
    raise SystemExit(code)


def emit(text: str, output: str | None) -> None:
    from drift.output import write_text

    if output:
        write_text(output, text)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()


def _version(value: bool) -> None:
    if value:
        print(f"drift {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    version: Annotated[
        bool | None, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = None,
) -> None:
    _state["debug"] = debug or os.environ.get("DRIFT_DEBUG") == "1"


TargetArg = Annotated[
    str,
    typer.Argument(
        help="Container, image, docker-save archive, OCI layout or root folder; "
        "a prefix (container:, image:, archive:, oci:, dir:) forces one.",
        show_default=False,
    ),
]
BaseOpt = Annotated[str | None, typer.Option("--base", help="Compare against this image instead of the detected base.")]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]
OutputOpt = Annotated[
    str | None, typer.Option("--output", "-o", help="Write to this file (atomically) instead of stdout.")
]
NoCacheOpt = Annotated[
    bool, typer.Option("--no-cache", help="Read every layer again; do not use or fill the layer cache.")
]


@app.command()
def inspect(
    target: TargetArg,
    base: BaseOpt = None,
    fmt: FormatOpt = Format.table,
    output: OutputOpt = None,
    no_cache: NoCacheOpt = False,
) -> None:
    """What is in a container or image: apt and pip packages, files changed against the base, config."""
    from drift.inventory import inspect_target
    from drift.render import json as json_render
    from drift.render import markdown, table

    with contextlib.ExitStack() as stack:
        inv = inspect_target(target, stack, base=base, scanner=_scanner(no_cache))
    renderer = {Format.table: table, Format.json: json_render, Format.markdown: markdown}[fmt]
    emit(renderer.render(inv), output)


def _scanner(no_cache: bool):  # type: ignore[no-untyped-def]
    from drift.inventory import plain_scanner

    return plain_scanner


def main() -> None:
    try:
        app(standalone_mode=False)
    except DriftError as exc:
        if _state["debug"]:
            raise
        fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        print("drift: interrupted", file=sys.stderr)
        raise SystemExit(130) from None
    except SystemExit:
        raise
    except Exception as exc:  # click usage errors and the unexpected
        import click

        if isinstance(exc, click.exceptions.Exit):
            raise SystemExit(exc.exit_code) from None
        if isinstance(exc, click.ClickException):
            exc.show()
            raise SystemExit(2) from None
        if isinstance(exc, click.exceptions.Abort):
            raise SystemExit(130) from None
        if _state["debug"]:
            raise
        fail(f"unexpected {type(exc).__name__}: {exc} (run with --debug for a traceback, and please report it)")


if __name__ == "__main__":
    main()
