"""`drift watch`: the command-line glue (registered by drift/cli.py with `register(app)`; the
implementation is imported inside the command, so other commands never load it)."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from drift.errors import DriftError
from drift.report.cli import (
    AllContextsOpt,
    ConfigOpt,
    EngineTimeoutOpt,
    IgnoreOpt,
    NoCacheOpt,
    StoreOpt,
    VerifyPackagesOpt,
)


def watch(
    targets: Annotated[
        list[str] | None, typer.Argument(help="Containers (globs allowed); default: running containers.")
    ] = None,
    all_: Annotated[
        bool | None,
        typer.Option("--all/--running", "-a", help="Also stopped containers in the first run (like docker ps -a)."),
    ] = None,
    filter_: Annotated[
        list[str] | None,
        typer.Option(
            "--filter", metavar="KEY=VALUE", help="docker ps filter KEY=VALUE (label=, name=, ancestor=), repeatable."
        ),
    ] = None,
    images: Annotated[
        bool | None,
        typer.Option("--images/--no-images", help="Also the images the containers use, in the first run."),
    ] = None,
    fail_on: Annotated[
        str | None,
        typer.Option(
            "--fail-on",
            metavar="STATES",
            help="What a rescan counts as failing (its exit_code in --format json) and, without --notify-on, "
            "what is posted: new,updated (default), ... and/or severity:LEVEL, as drift report.",
        ),
    ] = None,
    notify_on: Annotated[
        str | None,
        typer.Option(
            "--notify-on",
            metavar="STATES",
            help="The changes posted to --notify: new, updated, resolved and/or severity:LEVEL "
            "(e.g. severity:high; default: --fail-on's).",
        ),
    ] = None,
    ignore: IgnoreOpt = None,
    notify: Annotated[
        str | None,
        typer.Option("--notify", metavar="URL", help="POST a JSON summary of each rescan's news to this URL."),
    ] = None,
    store: StoreOpt = None,
    config: ConfigOpt = None,
    lock_timeout: Annotated[
        float,
        typer.Option(
            "--lock-timeout",
            metavar="SECONDS",
            help="Seconds the first run waits for another run holding the store (a rescan retries later).",
        ),
    ] = 300.0,
    no_cache: NoCacheOpt = False,
    verify_packages: VerifyPackagesOpt = False,
    context: Annotated[
        list[str] | None,
        typer.Option("--context", metavar="NAME", help="A Docker context to watch, repeatable."),
    ] = None,
    all_contexts: AllContextsOpt = False,
    host: Annotated[
        list[str] | None,
        typer.Option(
            "--host",
            "-H",
            metavar="URL",
            help="An engine URL (unix://, tcp://, ssh://user@host; containerd:///PATH), repeatable.",
        ),
    ] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", metavar="N", help="Engines read at once in the first run.")] = 4,
    engine_timeout: EngineTimeoutOpt = 120.0,
    settle: Annotated[
        float,
        typer.Option(
            "--settle",
            metavar="SECONDS",
            help="Rescan a container this long after the last exec or copy into it ended (events in between wait).",
        ),
    ] = 2.0,
    max_wait: Annotated[
        float,
        typer.Option(
            "--max-wait", metavar="SECONDS", help="But never later than this after the first of those events."
        ),
    ] = 30.0,
    fmt: Annotated[
        str, typer.Option("--format", "-f", metavar="FORMAT", help="text or json (one JSON object a line).")
    ] = "text",
) -> None:
    """Rescan a container seconds after someone execs into it or copies into it; record and notify the news."""
    from drift.inventory import verify
    from drift.report import config as config_mod
    from drift.report.cli import _fail_on, build_options
    from drift.watch.loop import Settings, Watch

    if fmt not in ("text", "json"):
        raise DriftError(f"--format {fmt}: choose text or json")
    if settle < 0 or max_wait <= 0:
        raise DriftError("--settle takes a number of seconds >= 0, --max-wait a number > 0")
    verify.configure(
        "full" if verify_packages else "screen", cache=not no_cache and os.environ.get("DRIFT_NO_CACHE") != "1"
    )

    def build() -> tuple[object, str | None]:
        cfg = config_mod.load(config)
        opts = build_options(
            cfg,
            targets=targets,
            all_=all_,
            filter_=filter_,
            images=images,
            fail_on=fail_on,
            fail_on_first_run=False,
            ignore=ignore,
            store=store,
            lock_timeout=lock_timeout,
            no_cache=no_cache,
            context=context,
            all_contexts=all_contexts,
            host=host,
            jobs=jobs,
            engine_timeout=engine_timeout,
        )
        opts.selection.filter_dict()  # a mistyped --filter is bad input, not a failed watch
        return opts, notify or cfg.notify

    try:
        chosen = _fail_on(notify_on.split(",")) if notify_on is not None else None
    except DriftError as exc:
        raise DriftError(str(exc).replace("--fail-on", "--notify-on")) from exc
    settings = Settings(
        build=build,  # type: ignore[arg-type]
        notify_on=chosen,
        settle=settle,
        max_wait=max_wait,
        fmt=fmt,
    )
    raise SystemExit(Watch(settings).run())


def register(app: typer.Typer) -> None:
    from drift.console import guard

    app.command(name="watch")(guard(watch))
