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

from drift import __version__, completion, console, say
from drift.console import HELP_OPTIONS, DriftTyper, fail, guard

app = DriftTyper(
    no_args_is_help=True,
    context_settings={"help_option_names": HELP_OPTIONS},
    help="Find and repair environment drift in Docker containers and images.",
)


class Format(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"
    cyclonedx = "cyclonedx"


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
    console.state["debug"] = debug or os.environ.get("DRIFT_DEBUG") == "1"


_TARGET_HELP = (
    "Container, image, docker-save archive, OCI layout or root folder; "
    "a prefix (container:, containerd:, image:, archive:, oci:, dir:, registry:) forces one "
    "(registry:HOST[:PORT]/REPO:TAG reads a registry, no engine needed)."
)
HostOpt = Annotated[
    str | None,
    typer.Option(
        "--host",
        "-H",
        metavar="URL",
        help="The engine: containerd:///PATH (containerd's socket; a target without prefix is its container), "
        "or unix://, tcp://, ssh://user@host (a Docker engine, as DOCKER_HOST).",
    ),
]


def _on_host(host: str | None, target: str) -> str:
    """-H URL: the engine for this run (DOCKER_HOST, or containerd's CONTAINERD_ADDRESS), and the
    target as that engine names it."""
    if host is None:
        return target
    from drift.report.engines import host_endpoint
    from drift.sources.engine_kinds import on_host

    return on_host(host, target, host_endpoint(host, "-H"))


PlatformOpt = Annotated[
    str | None,
    typer.Option(
        "--platform",
        metavar="OS/ARCH[/VARIANT]",
        help="For a registry: target, the image of this platform in an index (default linux/amd64).",
    ),
]


def _on_platform(platform: str | None) -> None:
    """--platform: which image of a registry index is read (DRIFT_PLATFORM, as -H sets DOCKER_HOST)."""
    if platform is not None:
        os.environ["DRIFT_PLATFORM"] = platform


TargetArg = Annotated[
    str, typer.Argument(help=_TARGET_HELP, metavar="TARGET", show_default=False, autocompletion=completion.targets)
]
ActualArg = Annotated[
    str, typer.Argument(help=_TARGET_HELP, metavar="ACTUAL", show_default=False, autocompletion=completion.targets)
]
BaseOpt = Annotated[
    str | None,
    typer.Option(
        "--base",
        metavar="IMAGE",
        help="Compare against this image instead of the detected base.",
        autocompletion=completion.images,
    ),
]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", metavar="FORMAT", help="Output format.")]
OutputOpt = Annotated[
    str | None,
    typer.Option("--output", "-o", metavar="FILE", help="Write to this file (atomically) instead of stdout."),
]
KeepImageOpt = Annotated[
    bool, typer.Option("--keep-image", help="Keep the image the build made (default: remove it afterwards).")
]
NoCacheOpt = Annotated[
    bool, typer.Option("--no-cache", help="Read every layer again; do not use or fill the layer cache.")
]
VerifyPackagesOpt = Annotated[
    bool,
    typer.Option(
        "--verify-packages",
        help="Hash every file of every package against its record (as debsums does), not only the screened ones.",
    ),
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
    verify_packages: VerifyPackagesOpt = False,
    show_secrets: ShowSecretsOpt = False,
    host: HostOpt = None,
    platform: PlatformOpt = None,
) -> None:
    """What is in a container or image: apt and pip packages, files changed against the base, config."""
    import importlib

    from drift.inventory import inspect_target
    from drift.secrets import redact_inventory

    target = _on_host(host, target)
    _on_platform(platform)
    with contextlib.ExitStack() as stack:
        insp = inspect_target(target, stack, base=base, scanner=_scanner(no_cache, verify_packages))
        inv = insp.inventory
        if fmt == Format.cyclonedx:  # a BOM never holds a secret, whatever --show-secrets says
            emit(_bom(insp), output)
            return
    inv = inv if show_secrets else redact_inventory(inv)
    # only the renderer asked for is imported (the table's and Markdown's tabulate costs ~9 ms)
    renderer = importlib.import_module(f"drift.render.{fmt.value}")  # drift/render/{table,json,markdown}.py
    emit(renderer.render(inv), output)


def _bom(insp) -> str:  # type: ignore[no-untyped-def]
    """An inspection as CycloneDX JSON, with its hand-made files' findings (what inspect rates)."""
    from drift.compare import delta_file_finding
    from drift.inventory.origin import sbom_input
    from drift.render import cyclonedx
    from drift.secrets import redact_findings

    inv, prov = sbom_input(insp)
    findings = redact_findings([delta_file_finding(f) for f in inv.files if f.klass == "unexplained"], inv)
    return cyclonedx.render(inv, prov, [f.to_json() for f in findings])


@app.command()
@guard
def snapshot(
    target: TargetArg,
    output: Annotated[
        str | None,
        typer.Option("--output", "-o", metavar="DIR", help="Folder for the Dockerfile and its build context."),
    ] = None,
    base: BaseOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Replace a non-empty output folder.")] = False,
    verify: Annotated[
        bool, typer.Option("--verify", help="Build the result and compare it with the original (exit 1 on drift).")
    ] = False,
    network: Annotated[
        str | None, typer.Option("--network", metavar="NAME", help="Network for the --verify build (e.g. host).")
    ] = None,
    include_secrets: Annotated[
        bool, typer.Option("--include-secrets", help="Also write secret-looking ENV values and credential files.")
    ] = False,
    tag: Annotated[str | None, typer.Option("--tag", metavar="TAG", help="Tag for the --verify build.")] = None,
    keep_image: KeepImageOpt = False,
    no_cache: NoCacheOpt = False,
    verify_packages: VerifyPackagesOpt = False,
    cmd: Annotated[
        str | None, typer.Option("--cmd", help="CMD to write instead of the image's: a JSON array or a shell command.")
    ] = None,
    entrypoint: Annotated[
        str | None,
        typer.Option(
            "--entrypoint", help="ENTRYPOINT to write instead of the image's: a JSON array or a shell command."
        ),
    ] = None,
    host: HostOpt = None,
    platform: PlatformOpt = None,
) -> None:
    """Write a Dockerfile (and build context) that rebuilds a container or image."""
    import drift.snapshot.plan as snap
    from drift.dockerfile import generate
    from drift.inventory import inspect_target
    from drift.output import atomic_dir
    from drift.secrets import redact_inventory

    target = _on_host(host, target)
    _on_platform(platform)
    with contextlib.ExitStack() as stack:
        insp = inspect_target(target, stack, base=base, scanner=_scanner(no_cache, verify_packages))
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
        say.line(
            "",
            f"wrote {output}/Dockerfile: FROM {plan.base}, {n_apt} apt and {n_pip} pip packages pinned, "
            f"{len(plan.files)} file(s) copied, {len(plan.deletions)} deleted",
        )
        _report_left_out(plan)
        if verify:  # the original's layers stay open: a file finding shows the lines that differ
            _verify(insp, plan, output, network=network, tag=tag, no_cache=no_cache, keep_image=keep_image)


def _report_left_out(plan) -> None:  # type: ignore[no-untyped-def]
    from drift.dockerfile.escape import comment

    for note in plan.notes:
        say.line("note", comment(note))
    for item in plan.left_out:
        hint = f" (include it with {item.flag})" if item.flag else ""
        say.line("", f"left out {comment(item.what)}: {comment(item.why)}{hint}")


def _verify(insp, plan, folder: str, *, network: str | None, tag: str | None, no_cache: bool, keep_image: bool) -> None:  # type: ignore[no-untyped-def]
    from drift.model import short_id
    from drift.rebuild import verify_rebuild
    from drift.render.findings import findings_sections
    from drift.render.table import render_sections
    from drift.secrets import redact_findings

    inv = insp.inventory
    # unless given, a tag of this run's own (two verifications of one target at once must not
    # tag each other's build and remove it)
    tag = tag or f"drift-verify:{short_id(inv.target.id) or 'snapshot'}-{os.urandom(3).hex()}"
    say.line("", f"building {folder} as {tag} to verify it ...")
    findings, rebuilt, left = verify_rebuild(
        insp,
        folder,
        base=plan.base,
        tag=tag,
        network=network,
        buildargs=plan.secret_args,
        scanner=_scanner(no_cache),  # the mode the command set stays
        keep_image=keep_image,
    )
    say.line("", left.message() if left else f"removed image {tag} (--keep-image keeps it)")
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


@app.command()
@guard
def diff(
    actual: ActualArg,
    expected: Annotated[
        str,
        typer.Argument(
            help="A Dockerfile (what the image claims to be), a folder holding one, or another target to compare with.",
            metavar="EXPECTED",
            show_default=False,
        ),
    ],
    build: Annotated[
        bool, typer.Option("--build", help="Build the Dockerfile and compare the two images exactly.")
    ] = False,
    network: Annotated[
        str | None, typer.Option("--network", metavar="NAME", help="Network for the --build build (e.g. host).")
    ] = None,
    build_arg: Annotated[
        list[str], typer.Option("--build-arg", metavar="KEY=VALUE", help="ARG value for the Dockerfile.")
    ] = [],  # noqa: B006 - typer reads the default, never mutates it
    base: BaseOpt = None,
    fail_on: Annotated[
        str | None,
        typer.Option(
            "--fail-on",
            metavar="CATEGORIES",
            help="Comma-separated categories that make the exit code 1 (default: all but unknown), "
            "and/or severity:LEVEL: only findings that serious or more (critical, high, medium, low, info).",
        ),
    ] = None,
    ignore: Annotated[
        list[str],
        typer.Option("--ignore", metavar="PATTERN", help="Glob over findings to ignore (as in .driftignore)."),
    ] = [],  # noqa: B006
    fmt: Annotated[
        DiffFormat, typer.Option("--format", "-f", metavar="FORMAT", help="Output format.")
    ] = DiffFormat.table,
    output: OutputOpt = None,
    keep_image: KeepImageOpt = False,
    fix: Annotated[bool, typer.Option("--fix", help="Rewrite the Dockerfile reconciled with the image.")] = False,
    patch: Annotated[
        bool, typer.Option("--patch", help="Print the reconciliation as a unified diff; write nothing.")
    ] = False,
    show_all: Annotated[
        bool, typer.Option("--all", help="List every dependency row (table, markdown); JSON always does.")
    ] = False,
    no_cache: NoCacheOpt = False,
    verify_packages: VerifyPackagesOpt = False,
    show_secrets: ShowSecretsOpt = False,
    no_build_cache: Annotated[
        bool,
        typer.Option(
            "--no-build-cache",
            help="With --build: build every step afresh (the engine's build cache would give back the very "
            "image it built before from the same file and context).",
        ),
    ] = False,
    no_history_evidence: Annotated[
        bool,
        typer.Option(
            "--no-history-evidence",
            help="Static audit: do not take the image's history (which line made which layer) as evidence "
            "for the files a layer changed; the history is the image's own claim.",
        ),
    ] = False,
    host: HostOpt = None,
    platform: PlatformOpt = None,
) -> None:
    """Audit an image against the Dockerfile that claims to describe it (or against another target)."""
    from drift.diff.command import apply_fix, build_args, parse_fail_on, run_audit
    from drift.render import json as json_render
    from drift.render import junit, sarif
    from drift.render.findings import render_markdown, render_table

    if fix and patch:
        fail("--fix writes the Dockerfile and --patch only prints the change: choose one")
    if no_build_cache and not build:
        fail("--no-build-cache is for --build (static mode builds nothing): add --build or drop it")
    categories = parse_fail_on(fail_on)
    actual = _on_host(host, actual)
    _on_platform(platform)

    def audit(dockerfile: str, history: Any = not no_history_evidence) -> Any:
        return run_audit(
            actual,
            dockerfile,
            base=base,
            build=build,
            network=network,
            build_args=build_args(build_arg),
            scanner=_scanner(no_cache, verify_packages),
            ignore=ignore,
            fail_on=categories,
            show_secrets=show_secrets,
            keep_image=keep_image,
            history_evidence=history,
            build_cache=not no_build_cache,
        )

    result = audit(expected)
    if result.left_image:
        say.line("", str(result.left_image))
    if (fix or patch) and apply_fix(result, actual, fix=fix, patch=patch):
        # the report is the one for the fixed file; the history was matched with the file the image was built from
        result = audit(f"dockerfile:{result.dockerfile.path}", result.history or not no_history_evidence)
    if not patch or output:
        renderer: dict[DiffFormat, Callable[[Any], str]] = {
            DiffFormat.table: functools.partial(render_table, all_rows=show_all),
            DiffFormat.markdown: functools.partial(render_markdown, all_rows=show_all),
            DiffFormat.json: json_render.render,
            DiffFormat.sarif: sarif.render,
            DiffFormat.junit: junit.render,
        }
        emit(renderer[fmt](result), output)
    if result.failing:
        raise SystemExit(1)


def _scanner(no_cache: bool, verify_packages: bool | None = None):  # type: ignore[no-untyped-def]
    """The layer scanner a command reads with (and, when VERIFY_PACKAGES is given, how package
    files are checked: set once per command, drift/inventory/verify.py)."""
    from drift.cache import LayerCache, scan_all

    if verify_packages is not None:
        from drift.inventory import verify

        verify.configure(
            "full" if verify_packages else "screen", cache=not no_cache and os.environ.get("DRIFT_NO_CACHE") != "1"
        )

    if no_cache or os.environ.get("DRIFT_NO_CACHE") == "1":
        os.environ["DRIFT_NO_CACHE"] = "1"  # registry blobs too: a temporary folder (drift/sources/registry/blobs.py)
        return lambda layers: scan_all(layers, None)
    cache = LayerCache()
    if os.environ.get("DRIFT_CACHE_STATS") == "1":
        import atexit

        atexit.register(lambda: print(f"drift: cache {cache.hits} hit(s), {cache.misses} miss(es)", file=sys.stderr))
    return lambda layers: scan_all(layers, cache)


cache_app = DriftTyper(help="The layer cache (what each image layer holds, scanned once).", no_args_is_help=True)
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


@app.command("completion")
@guard
def completion_script(
    shell: Annotated[completion.Shell, typer.Argument(metavar="SHELL", help="The shell.", show_default=False)],
) -> None:
    """Print the shell completion script for bash, zsh or fish (see the README to enable it)."""
    sys.stdout.write(completion.script(shell))


from drift.report.cli import register as _register_report  # noqa: E402 - the commands above come first in help

_register_report(app)

from drift.watch.cli import register as _register_watch  # noqa: E402 - needs guard above

_register_watch(app)


def main(argv: list[str] | None = None) -> None:
    from drift.console import run

    raise SystemExit(run(app, argv))


if __name__ == "__main__":
    main()
