"""`drift report`, `drift ack`, `drift history`: the command-line glue (registered by
drift/cli.py with `register(app)`)."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Annotated, Any

import typer

from drift import completion, say
from drift.console import guard
from drift.errors import DriftError

FORMATS = ("json", "markdown", "html", "prom", "sarif", "cyclonedx")

StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        metavar="URL",
        help="History store: a path, sqlite:////ABS/PATH or postgresql://USER@HOST/DB"
        " (default $DRIFT_STORE, else ~/.local/state/drift).",
    ),
]
ConfigOpt = Annotated[
    str | None, typer.Option("--config", metavar="FILE", help="drift.toml to read (default: ./drift.toml).")
]
# options `drift watch` takes as `drift report` does
IgnoreOpt = Annotated[
    list[str] | None, typer.Option("--ignore", metavar="GLOB", help="Glob over findings to ignore, repeatable.")
]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="Do not use or fill the layer cache.")]
VerifyPackagesOpt = Annotated[
    bool,
    typer.Option("--verify-packages", help="Hash every file of every package against its record (as debsums)."),
]
AllContextsOpt = Annotated[bool, typer.Option("--all-contexts", help="Every Docker context ('docker context ls').")]
EngineTimeoutOpt = Annotated[
    float,
    typer.Option("--engine-timeout", metavar="SECONDS", help="Seconds an engine may take to answer; then it is down."),
]


def report(
    targets: Annotated[
        list[str] | None,
        typer.Argument(
            help="Containers or images (globs allowed); default: running containers.",
            autocompletion=completion.targets,
        ),
    ] = None,
    all_: Annotated[
        bool | None,
        typer.Option("--all/--running", "-a", help="Also stopped containers (like docker ps -a); --running: not."),
    ] = None,
    filter_: Annotated[
        list[str] | None,
        typer.Option(
            "--filter", metavar="KEY=VALUE", help="docker ps filter KEY=VALUE (label=, name=, ancestor=), repeatable."
        ),
    ] = None,
    images: Annotated[
        bool | None,
        typer.Option("--images/--no-images", help="Also report the images the containers use (drift.toml: images)."),
    ] = None,
    output: Annotated[
        list[str] | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FORMAT:PATH",
            help="FORMAT:PATH (json, markdown, html, prom, sarif; PATH - = stdout; cyclonedx:DIR: "
            "one CycloneDX BOM per target in folder DIR), repeatable.",
        ),
    ] = None,
    fail_on: Annotated[
        str | None,
        typer.Option(
            "--fail-on",
            metavar="STATES",
            help="States that exit 1: new,updated (default), persisting, stale, open, none; "
            "and/or severity:LEVEL: only findings that serious or more (critical, high, medium, low, info).",
        ),
    ] = None,
    fail_on_first_run: Annotated[
        bool, typer.Option("--fail-on-first-run", help="Let the baseline run fail too.")
    ] = False,
    ignore: IgnoreOpt = None,
    notify: Annotated[
        str | None, typer.Option("--notify", metavar="URL", help="POST a JSON summary of the changes to this URL.")
    ] = None,
    store: StoreOpt = None,
    config: ConfigOpt = None,
    lock_timeout: Annotated[
        float,
        typer.Option("--lock-timeout", metavar="SECONDS", help="Seconds to wait for another run holding the store."),
    ] = 300.0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")] = False,
    no_cache: NoCacheOpt = False,
    verify_packages: VerifyPackagesOpt = False,
    context: Annotated[
        list[str] | None,
        typer.Option("--context", metavar="NAME", help="A Docker context to report on, repeatable."),
    ] = None,
    all_contexts: AllContextsOpt = False,
    host: Annotated[
        list[str] | None,
        typer.Option(
            "--host",
            "-H",
            metavar="URL",
            help="An engine URL (unix://, tcp://, ssh://user@host; containerd:///PATH for containerd), repeatable.",
        ),
    ] = None,
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", metavar="N", help="Engines read at once, each by a process of its own.")
    ] = 4,
    engine_timeout: EngineTimeoutOpt = 120.0,
) -> None:
    """Report drift over the engine's containers (and images), with history: new, persisting, resolved."""
    from drift.inventory import verify
    from drift.report import config as config_mod
    from drift.report.run import run_report

    verify.configure(
        "full" if verify_packages else "screen", cache=not no_cache and os.environ.get("DRIFT_NO_CACHE") != "1"
    )
    cfg = config_mod.load(config)
    outputs = [_output_spec(o) for o in (output or list(cfg.outputs))]
    opts = build_options(
        cfg,
        targets=targets,
        all_=all_,
        filter_=filter_,
        images=images,
        fail_on=fail_on,
        fail_on_first_run=fail_on_first_run,
        ignore=ignore,
        store=store,
        lock_timeout=lock_timeout,
        no_cache=no_cache,
        context=context,
        all_contexts=all_contexts,
        host=host,
        jobs=jobs,
        engine_timeout=engine_timeout,
        sbom=any(fmt == "cyclonedx" for fmt, _ in outputs),
    )
    opts.selection.filter_dict()  # a mistyped --filter is bad input (one line, exit 2), not a failed run
    boms: dict[str, str] = {}
    doc = run_report(opts, progress=_progress(quiet), boms=boms)
    code = doc["run"]["exit_code"]
    to_stdout = any(path == "-" for _, path in outputs)
    if not quiet and not to_stdout:
        from drift.report.terminal import summary

        sys.stdout.write(summary(doc))
    if doc["run"]["error"]:
        say.error(doc["run"]["error"])
    for e in doc["engines"]:
        if e["status"] != "up":
            say.error(f"engine {e['name']} is down: {e['error']}")
    for t in doc["targets"]:
        if t["status"] == "error" and quiet:
            say.error(f"{t['kind']} {t['name']}: {t['error'] or ''}")
    code = max(code, _write_outputs(doc, outputs, boms))
    url = notify or cfg.notify
    if url:
        problem = _notify(url, doc)
        if problem:
            # the problem names the host only: a webhook URL's path often holds its secret token
            say.warning(f"--notify: {problem}")
    raise SystemExit(code)


def build_options(
    cfg: Any,
    *,
    targets: list[str] | None,
    all_: bool | None,
    filter_: list[str] | None,
    images: bool | None,
    fail_on: str | None,
    fail_on_first_run: bool,
    ignore: list[str] | None,
    store: str | None,
    lock_timeout: float,
    no_cache: bool,
    context: list[str] | None,
    all_contexts: bool,
    host: list[str] | None,
    jobs: int,
    engine_timeout: float,
    sbom: bool = False,
) -> Any:
    """The run's Options from the command line over drift.toml (`cfg`): `drift report`'s, and
    `drift watch`'s (which reads drift.toml again on SIGHUP)."""
    from drift.report import config as config_mod
    from drift.report.engines import specs
    from drift.report.options import DEFAULT_FAIL_ON, Options
    from drift.report.targets import Selection

    if jobs < 1 or engine_timeout <= 0:
        raise DriftError("--jobs takes a number >= 1 and --engine-timeout a number of seconds > 0")
    return Options(
        selection=Selection(
            names=tuple(targets or ()),
            all=bool(cfg.all) if all_ is None else all_,  # the command line wins over drift.toml
            filters=tuple(filter_ or cfg.filters),
            images=bool(cfg.images) if images is None else images,
        ),
        fail_on=_fail_on(fail_on.split(",") if fail_on is not None else list(cfg.fail_on or DEFAULT_FAIL_ON)),
        fail_on_first_run=fail_on_first_run,
        ignore=tuple(ignore or ()) + cfg.ignore,
        ignore_folders=(".", os.path.dirname(cfg.path)) if cfg.path else (".",),
        dockerfiles=cfg.dockerfiles,
        store=store or cfg.store,
        lock_timeout=lock_timeout,
        no_cache=no_cache,
        keep=config_mod.duration(cfg.retention, "retention") if cfg.retention else None,
        engines=tuple(specs(list(context or ()), all_contexts, list(host or ()), cfg.path)),
        jobs=jobs,
        engine_timeout=engine_timeout,
        project=os.path.dirname(cfg.path) if cfg.path else os.getcwd(),
        sbom=sbom,
    )


def _progress(quiet: bool) -> Any:
    from drift.progress import bar

    return bar("drift report", quiet=quiet)


def _fail_on(states: list[str]) -> tuple[str, ...]:
    from drift.report.options import FAIL_ON_CHOICES
    from drift.severity import FAIL_ON_PREFIX, SEVERITIES, split_fail_on

    out = tuple(s.strip() for s in states if s.strip())
    try:
        listed, _ = split_fail_on(out)
    except ValueError as exc:
        raise DriftError(str(exc)) from exc
    bad = [s for s in listed if s not in FAIL_ON_CHOICES]
    if bad or not out:
        raise DriftError(
            f"--fail-on {','.join(bad) or '(empty)'}: choose from {', '.join(FAIL_ON_CHOICES)}, "
            f"or severity:LEVEL ({', '.join(SEVERITIES)})"
        )
    return tuple(s.lower() if s.startswith(FAIL_ON_PREFIX) else s for s in out)


def _output_spec(spec: str) -> tuple[str, str]:
    fmt, sep, path = spec.partition(":")
    if not sep or fmt not in FORMATS or not path:
        raise DriftError(f"-o {spec}: use FORMAT:PATH with FORMAT one of {', '.join(FORMATS)} (PATH - for stdout)")
    if fmt == "cyclonedx" and path == "-":
        raise DriftError(f"-o {spec}: cyclonedx writes one BOM per target: give a folder (-o cyclonedx:DIR)")
    return fmt, path


def _write_outputs(doc: dict[str, Any], outputs: list[tuple[str, str]], boms: dict[str, str]) -> int:
    """Each output whole or not at all; one that fails is reported (exit 2), the others are written."""
    from drift.output import write_text

    code = 0
    for fmt, path in outputs:
        if fmt == "cyclonedx":
            from drift.render import report_cyclonedx

            try:
                report_cyclonedx.write(path, boms)
            except DriftError as exc:
                say.error(f"-o {fmt}:{path}: {exc}")
                code = 2
            continue
        try:
            module = importlib.import_module(f"drift.render.report_{fmt}")
        except ImportError as exc:
            say.error(f"-o {fmt}:{path}: this drift has no {fmt} renderer ({exc})")
            code = 2
            continue
        try:
            text = module.render(doc)
            if path == "-":
                sys.stdout.write(text)
            else:
                write_text(path, text)
        except DriftError as exc:
            say.error(f"-o {fmt}:{path}: {exc}")
            code = 2
    return code


def _notify(url: str, doc: dict[str, Any]) -> str | None:
    from drift.report.notify import send

    result: str | None = send(url, doc)
    return result


def ack(
    fingerprint: Annotated[str | None, typer.Argument(help="The finding's fingerprint (from the report).")] = None,
    target: Annotated[
        str | None, typer.Option("--target", metavar="GLOB", help="Target name or glob (all its open findings).")
    ] = None,
    reason: Annotated[str | None, typer.Option("--reason", metavar="TEXT", help="Why this is fine (required).")] = None,
    expires: Annotated[
        str | None, typer.Option("--expires", metavar="DURATION", help="For how long: 30d, 12h, 2w (default: no end).")
    ] = None,
    store: StoreOpt = None,
) -> None:
    """Acknowledge findings: they never fail a run; when the acknowledgement expires they come back as new."""
    from drift.report.acks import acknowledge

    if not reason or not reason.strip():
        raise DriftError("--reason TEXT is required: say why this finding is acceptable")
    if not fingerprint and not target:
        raise DriftError("name a FINGERPRINT or --target GLOB to acknowledge")
    print(acknowledge(store, fingerprint=fingerprint, target=target, reason=reason.strip(), expires=expires))


def history(
    target: Annotated[
        str | None, typer.Argument(help="A target name or glob; or 'prune' to drop old detail (with --keep).")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", metavar="DURATION", help="Only runs newer than this (30d, 12h).")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", metavar="FORMAT", help="table or json.")] = "table",
    keep: Annotated[
        str | None, typer.Option("--keep", metavar="DURATION", help="With 'prune': detail to keep (90d).")
    ] = None,
    store: StoreOpt = None,
) -> None:
    """The recorded runs and how the counts moved; 'drift history prune --keep 90d' drops old detail."""
    from drift.report import history as hist

    if target == "prune":
        if keep is None:
            raise DriftError("drift history prune needs --keep DURATION (e.g. --keep 90d)")
        print(hist.prune(store, keep))
        return
    if keep is not None:
        raise DriftError("--keep only goes with 'drift history prune'")
    if fmt not in ("table", "json"):
        raise DriftError(f"--format {fmt}: choose table or json")
    sys.stdout.write(hist.show(store, target=target, since=since, fmt=fmt))


def register(app: typer.Typer) -> None:
    app.command(name="report")(guard(report))
    app.command(name="ack")(guard(ack))
    app.command(name="history")(guard(history))
