"""The glue of `drift diff` between the command line and drift.diff.modes: --build-arg, --fail-on,
.driftignore/--ignore, and --fix/--patch (the report after --fix is the rewritten file's)."""

from __future__ import annotations

import contextlib
import difflib
import os
import sys
from typing import Any

from drift import say
from drift.diff.modes import DEFAULT_FAIL_ON, DiffResult, run_diff
from drift.errors import DriftError
from drift.model import FINDING_CATEGORIES
from drift.severity import FAIL_ON_PREFIX, SEVERITIES, split_fail_on


def build_args(values: list[str]) -> dict[str, str]:
    """--build-arg KEY=VALUE (or KEY, taken from the environment, as docker does)."""
    out = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep:
            value = os.environ.get(key, "")
        out[key] = value
    return out


def parse_fail_on(value: str | None) -> tuple[str, ...]:
    """Categories, and at most one `severity:LEVEL` (that level or more serious); both given,
    a finding fails when it is in one of the categories and at least that serious."""
    if value is None:
        return DEFAULT_FAIL_ON
    values = tuple(c.strip() for c in value.split(",") if c.strip())
    try:
        categories, _ = split_fail_on(values)
    except ValueError as exc:
        raise DriftError(str(exc)) from exc
    bad = [c for c in categories if c not in FINDING_CATEGORIES]
    if bad:
        raise DriftError(
            f"--fail-on: unknown categor{'y' if len(bad) == 1 else 'ies'} {', '.join(bad)}; "
            f"choose from {', '.join(FINDING_CATEGORIES)}, or severity:LEVEL ({', '.join(SEVERITIES)})"
        )
    return tuple(v.lower() if v.startswith(FAIL_ON_PREFIX) else v for v in values)


def run_audit(actual: str, expected: str, *, ignore: list[str], fail_on: tuple[str, ...], **kw: Any) -> DiffResult:
    """run_diff, then .driftignore / --ignore and --fail-on applied."""
    from drift import ignore as ignore_mod

    with contextlib.ExitStack() as stack:
        result = run_diff(actual, expected, stack, **kw)
    result.fail_on = fail_on
    folders = ["."]
    if result.dockerfile is not None:
        folders.append(os.path.dirname(os.path.abspath(result.dockerfile.path)))
    result.findings, result.ignored = ignore_mod.split(result.findings, ignore_mod.load(folders, ignore))
    return result


def apply_fix(result: DiffResult, image: str, *, fix: bool, patch: bool) -> bool:
    """Print (--patch) or write (--fix) the reconciled Dockerfile; True when a file was rewritten."""
    from drift.dockerfile.fix import reconcile
    from drift.output import write_text

    if result.dockerfile is None or result.dockerfile_text is None:
        raise DriftError("--fix and --patch need a Dockerfile as EXPECTED")
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
    if not fix:
        return False
    if new == result.dockerfile_text:
        say.line("", f"{path} is already reconciled with {image}: nothing to change")
        return False
    write_text(path, new)
    say.line("", f"rewrote {path} reconciled with {image}; the report below is for the rewritten file")
    return True
