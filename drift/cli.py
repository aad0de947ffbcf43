"""The command line: parse arguments, call one function, map errors to exit codes.

Exit codes: 0 ok / no drift, 1 drift found, 2 trouble (bad input, engine down, ...).
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Callable
from enum import Enum
from typing import Annotated, Any

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


def guard(fn: Callable[..., None]) -> Callable[..., None]:
    """Run a command; a DriftError (or anything unexpected) becomes one line and exit 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            fn(*args, **kwargs)
        except DriftError as exc:
            if _state["debug"]:
                raise
            fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            print("drift: interrupted", file=sys.stderr)
            raise SystemExit(130) from None
        except (SystemExit, typer.Exit):
            raise
        except Exception as exc:
            if _state["debug"]:
                raise
            fail(f"unexpected {type(exc).__name__}: {exc} (run with --debug for a traceback, and please report it)")

    return wrapper


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
@guard
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
        inv = inspect_target(target, stack, base=base, scanner=_scanner(no_cache)).inventory
    renderer = {Format.table: table, Format.json: json_render, Format.markdown: markdown}[fmt]
    emit(renderer.render(inv), output)


@app.command()
@guard
def snapshot(
    target: TargetArg,
    output: Annotated[
        str | None, typer.Option("--output", "-o", help="Folder for the Dockerfile and its build context.")
    ] = None,
    base: BaseOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Replace a non-empty output folder.")] = False,
    verify: Annotated[
        bool, typer.Option("--verify", help="Build the result and compare it with the original (exit 1 on drift).")
    ] = False,
    network: Annotated[
        str | None, typer.Option("--network", help="Network for the --verify build (e.g. host).")
    ] = None,
    include_secrets: Annotated[
        bool, typer.Option("--include-secrets", help="Also write secret-looking ENV values and credential files.")
    ] = False,
    tag: Annotated[str | None, typer.Option("--tag", help="Tag for the --verify build.")] = None,
    no_cache: NoCacheOpt = False,
) -> None:
    """Write a Dockerfile (and build context) that rebuilds a container or image."""
    from drift import snapshot as snap
    from drift.dockerfile import generate
    from drift.inventory import inspect_target
    from drift.output import atomic_dir

    with contextlib.ExitStack() as stack:
        insp = inspect_target(target, stack, base=base, scanner=_scanner(no_cache))
        inv = insp.inventory
        ref = snap.base_reference(inv, base)
        if inv.base is not None and inv.base.digest and not base and "@" not in ref:
            ref = f"{ref}@{inv.base.digest}"
        plan = snap.plan(insp, base=base, include_secrets=include_secrets, from_ref=ref)
        dockerfile = generate.render(plan)
        if output is None:
            if plan.needs_context:
                fail(
                    f"the snapshot of {target} copies {len(plan.files)} file(s): "
                    "pass -o DIR to write them beside the Dockerfile"
                )
            if verify:
                fail("--verify builds the snapshot: pass -o DIR")
            sys.stdout.write(dockerfile)
            _report_left_out(plan)
            return
        with atomic_dir(output, force=force) as tmp:
            with open(os.path.join(tmp, "Dockerfile"), "w", encoding="utf-8") as fh:
                fh.write(dockerfile)
            snap.write_context(insp, plan, tmp)
            from drift.render import json as json_render

            with open(os.path.join(tmp, "drift-inventory.json"), "w", encoding="utf-8") as fh:
                fh.write(json_render.render(snap.redact(inv, plan)))
            with open(os.path.join(tmp, ".dockerignore"), "w", encoding="utf-8") as fh:
                fh.write("drift-inventory.json\n")
    n_apt = len(plan.apt.install) if plan.apt else 0
    n_pip = sum(len(p.requested) + len(p.constraints) for p in plan.pip)
    print(
        f"drift: wrote {output}/Dockerfile: FROM {plan.base}, {n_apt} apt and {n_pip} pip packages pinned, "
        f"{len(plan.files)} file(s) copied, {len(plan.deletions)} deleted",
        file=sys.stderr,
    )
    _report_left_out(plan)
    if verify:
        _verify(insp, plan, output, network=network, tag=tag, no_cache=no_cache)


def _report_left_out(plan) -> None:  # type: ignore[no-untyped-def]
    for item in plan.left_out:
        hint = f" (include it with {item.flag})" if item.flag else ""
        print(f"drift: left out {item.what}: {item.why}{hint}", file=sys.stderr)


def _verify(insp, plan, folder: str, *, network: str | None, tag: str | None, no_cache: bool) -> None:  # type: ignore[no-untyped-def]
    from drift.model import short_id
    from drift.render.findings import findings_sections
    from drift.render.table import render_sections
    from drift.verify import verify_rebuild

    inv = insp.inventory
    tag = tag or f"drift-verify:{short_id(inv.target.id) or 'snapshot'}"
    print(f"drift: building {folder} as {tag} to verify it ...", file=sys.stderr)
    findings, rebuilt = verify_rebuild(
        insp, folder, base=plan.base, tag=tag, network=network, buildargs=plan.secret_args, scanner=_scanner(no_cache)
    )
    hand = sum(1 for f in inv.files if f.klass == "unexplained")
    on_purpose = {item.key for item in plan.left_out if item.key}
    kept = [f for f in findings if not (f.category in ("file", "config") and f.name in on_purpose)]
    skipped = len(findings) - len(kept)
    findings = kept
    lines = (
        f"original: {inv.target.kind} {inv.target.name}",
        f"rebuilt:  image {tag} ({short_id(rebuilt.inventory.target.id)})",
        f"compared: {len(inv.apt)} apt packages, {len(inv.pip)} pip packages, {hand} hand-made file changes, config",
    ) + ((f"not counted: {skipped} difference(s) left out on purpose (secrets)",) if skipped else ())
    sys.stdout.write(render_sections(findings_sections(findings, title="drift snapshot --verify", lines=lines)))
    if findings:
        raise SystemExit(1)


def _scanner(no_cache: bool):  # type: ignore[no-untyped-def]
    from drift.inventory import plain_scanner

    return plain_scanner


def main() -> None:
    app()


if __name__ == "__main__":
    main()
