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
ShowSecretsOpt = Annotated[
    bool, typer.Option("--show-secrets", help="Show secret-looking values (redacted by default).")
]


@app.command()
@guard
def inspect(
    target: TargetArg,
    base: BaseOpt = None,
    fmt: FormatOpt = Format.table,
    output: OutputOpt = None,
    no_cache: NoCacheOpt = False,
    show_secrets: ShowSecretsOpt = False,
) -> None:
    """What is in a container or image: apt and pip packages, files changed against the base, config."""
    from drift.inventory import inspect_target
    from drift.render import json as json_render
    from drift.render import markdown, table
    from drift.secrets import redact_inventory

    with contextlib.ExitStack() as stack:
        inv = inspect_target(target, stack, base=base, scanner=_scanner(no_cache)).inventory
    inv = inv if show_secrets else redact_inventory(inv)
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
    cmd: Annotated[
        str | None, typer.Option("--cmd", help="CMD to write instead of the image's: a JSON array or a shell command.")
    ] = None,
    entrypoint: Annotated[
        str | None,
        typer.Option(
            "--entrypoint", help="ENTRYPOINT to write instead of the image's: a JSON array or a shell command."
        ),
    ] = None,
) -> None:
    """Write a Dockerfile (and build context) that rebuilds a container or image."""
    from drift import snapshot as snap
    from drift.dockerfile import generate
    from drift.inventory import inspect_target
    from drift.output import atomic_dir
    from drift.secrets import redact_inventory

    with contextlib.ExitStack() as stack:
        insp = inspect_target(target, stack, base=base, scanner=_scanner(no_cache))
        inv = insp.inventory
        ref = snap.base_reference(inv, base)
        if inv.base is not None and inv.base.digest and not base and "@" not in ref:
            ref = f"{ref}@{inv.base.digest}"
        plan = snap.plan(insp, base=base, include_secrets=include_secrets, from_ref=ref, cmd=cmd, entrypoint=entrypoint)
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
                fh.write(json_render.render(inv if include_secrets else redact_inventory(inv)))
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
        if verify:  # the original's layers stay open: a file finding shows the lines that differ
            _verify(insp, plan, output, network=network, tag=tag, no_cache=no_cache)


def _report_left_out(plan) -> None:  # type: ignore[no-untyped-def]
    from drift.dockerfile.escape import comment

    for note in plan.notes:
        print(f"drift: note: {comment(note)}", file=sys.stderr)
    for item in plan.left_out:
        hint = f" (include it with {item.flag})" if item.flag else ""
        print(f"drift: left out {comment(item.what)}: {comment(item.why)}{hint}", file=sys.stderr)


def _verify(insp, plan, folder: str, *, network: str | None, tag: str | None, no_cache: bool) -> None:  # type: ignore[no-untyped-def]
    from drift.model import short_id
    from drift.render.findings import findings_sections
    from drift.render.table import render_sections
    from drift.secrets import redact_findings
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
    findings = redact_findings(kept, inv)
    lines = (
        f"original: {inv.target.kind} {inv.target.name}",
        f"rebuilt:  image {tag} ({short_id(rebuilt.inventory.target.id)})",
        f"compared: {len(inv.apt)} apt packages, {len(inv.pip)} pip packages, {hand} hand-made file changes, config",
    ) + ((f"not counted: {skipped} difference(s) left out on purpose (see 'left out' above)",) if skipped else ())
    sys.stdout.write(render_sections(findings_sections(findings, title="drift snapshot --verify", lines=lines)))
    if findings:
        raise SystemExit(1)


class DiffFormat(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"
    sarif = "sarif"
    junit = "junit"


def _build_args(values: list[str]) -> dict[str, str]:
    out = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep:
            value = os.environ.get(key, "")
        out[key] = value
    return out


@app.command()
@guard
def diff(
    actual: TargetArg,
    expected: Annotated[
        str,
        typer.Argument(
            help="A Dockerfile (what the image claims to be), or another target to compare with.",
            show_default=False,
        ),
    ],
    build: Annotated[
        bool, typer.Option("--build", help="Build the Dockerfile and compare the two images exactly.")
    ] = False,
    network: Annotated[str | None, typer.Option("--network", help="Network for the --build build (e.g. host).")] = None,
    build_arg: Annotated[
        list[str], typer.Option("--build-arg", help="ARG value for the Dockerfile (KEY=VALUE), repeatable.")
    ] = [],  # noqa: B006 - typer reads the default, never mutates it
    base: BaseOpt = None,
    fail_on: Annotated[
        str | None,
        typer.Option(
            "--fail-on", help="Comma-separated categories that make the exit code 1 (default: all but unknown)."
        ),
    ] = None,
    ignore: Annotated[
        list[str], typer.Option("--ignore", help="Glob over findings to ignore (as in .driftignore), repeatable.")
    ] = [],  # noqa: B006
    fmt: Annotated[DiffFormat, typer.Option("--format", "-f", help="Output format.")] = DiffFormat.table,
    output: OutputOpt = None,
    fix: Annotated[bool, typer.Option("--fix", help="Rewrite the Dockerfile reconciled with the image.")] = False,
    patch: Annotated[bool, typer.Option("--patch", help="Print the reconciliation as a unified diff.")] = False,
    no_cache: NoCacheOpt = False,
    show_secrets: ShowSecretsOpt = False,
) -> None:
    """Audit an image against the Dockerfile that claims to describe it (or against another target)."""
    from drift import ignore as ignore_mod
    from drift.diff import DEFAULT_FAIL_ON, run_diff
    from drift.model import FINDING_CATEGORIES
    from drift.render import json as json_render
    from drift.render import junit, sarif
    from drift.render.findings import render_markdown, render_table

    categories = DEFAULT_FAIL_ON
    if fail_on is not None:
        categories = tuple(c.strip() for c in fail_on.split(",") if c.strip())
        bad = [c for c in categories if c not in FINDING_CATEGORIES]
        if bad:
            fail(
                f"--fail-on: unknown categor{'y' if len(bad) == 1 else 'ies'} {', '.join(bad)}; "
                f"choose from {', '.join(FINDING_CATEGORIES)}"
            )
    with contextlib.ExitStack() as stack:
        result = run_diff(
            actual,
            expected,
            stack,
            base=base,
            build=build,
            network=network,
            build_args=_build_args(build_arg),
            scanner=_scanner(no_cache),
            show_secrets=show_secrets,
        )
    result.fail_on = categories
    folders = ["."]
    if result.dockerfile is not None:
        folders.append(os.path.dirname(os.path.abspath(result.dockerfile.path)))
    result.findings, result.ignored = ignore_mod.split(result.findings, ignore_mod.load(folders, ignore))
    if fix or patch:
        _fix(result, actual, fix=fix, patch=patch)
    if not patch or output:
        renderer = {
            DiffFormat.table: render_table,
            DiffFormat.markdown: render_markdown,
            DiffFormat.json: json_render.render,
            DiffFormat.sarif: sarif.render,
            DiffFormat.junit: junit.render,
        }[fmt]
        emit(renderer(result), output)
    if result.failing:
        raise SystemExit(1)


def _fix(result, image: str, *, fix: bool, patch: bool) -> None:  # type: ignore[no-untyped-def]
    import difflib

    from drift.dockerfile.fix import reconcile
    from drift.output import write_text

    if result.dockerfile is None or result.dockerfile_text is None:
        fail("--fix and --patch need a Dockerfile as EXPECTED")
    new = reconcile(result, image)
    path = result.dockerfile.path
    shown = os.path.relpath(path) if not os.path.relpath(path).startswith("..") else path.lstrip("/")
    if patch:
        sys.stdout.writelines(
            difflib.unified_diff(
                result.dockerfile_text.splitlines(keepends=True),
                new.splitlines(keepends=True),
                fromfile=f"a/{shown}",
                tofile=f"b/{shown}",
            )
        )
    if fix:
        write_text(path, new)
        print(f"drift: rewrote {path} reconciled with {image}", file=sys.stderr)


def _scanner(no_cache: bool):  # type: ignore[no-untyped-def]
    from drift.cache import LayerCache, scan_all

    if no_cache or os.environ.get("DRIFT_NO_CACHE") == "1":
        return lambda layers: scan_all(layers, None)
    cache = LayerCache()
    if os.environ.get("DRIFT_CACHE_STATS") == "1":
        import atexit

        atexit.register(lambda: print(f"drift: cache {cache.hits} hit(s), {cache.misses} miss(es)", file=sys.stderr))
    return lambda layers: scan_all(layers, cache)


cache_app = typer.Typer(help="The layer cache (what each image layer holds, scanned once).", no_args_is_help=True)
app.add_typer(cache_app, name="cache")


@cache_app.command("info")
@guard
def cache_info() -> None:
    """Where the cache is and how much it holds."""
    from drift.cache import LayerCache

    cache = LayerCache()
    layers, size = cache.stats()
    print(f"{cache.path}: {layers} layer(s), {size / 1e6:.1f} MB")


@cache_app.command("clear")
@guard
def cache_clear() -> None:
    """Empty the cache."""
    from drift.cache import clear, db_path

    size = clear()
    print(f"cleared {db_path()} ({size / 1e6:.1f} MB)")


from drift.report.cli import register as _register_report  # noqa: E402 - needs guard above

_register_report(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
