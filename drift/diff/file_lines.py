"""What differs inside a file that two inspections hold with different content.

A `file` finding from comparing two inventories knows only that sizes or digests differ. For
text files this says which lines: those only on one side, or that the lines are the same in
another order (and where the order first differs). Secret files are never shown.
"""

from __future__ import annotations

import dataclasses

from drift import secrets
from drift.dockerfile.escape import comment
from drift.inventory import Inspection
from drift.model import Finding

_MAX_BYTES = 1 << 20  # text files larger than this are not shown line by line
_MAX_LINES = 5
_WIDTH = 100


def content_differences(
    findings: list[Finding], original: Inspection, other: Inspection, names: tuple[str, str] = ("original", "rebuilt")
) -> list[Finding]:
    """FINDINGS with the differing lines of text files added to their detail (NAMES say
    which side is which: the expected one, then the actual one)."""
    return [_explain(f, original, other, names) if _content_finding(f) else f for f in findings]


def _content_finding(f: Finding) -> bool:
    if f.category != "file" or not isinstance(f.expected, dict) or not isinstance(f.actual, dict):
        return False
    return f.expected.get("kind") == f.actual.get("kind") == "file" and "sha256" in (f.detail or "")


def _explain(f: Finding, original: Inspection, other: Inspection, names: tuple[str, str]) -> Finding:
    if secrets.path_reason(f.name):
        return f
    a, b = _text(original, f.name), _text(other, f.name)
    if a is None or b is None:
        return f
    if secrets.text_reason(a) or secrets.text_reason(b):
        return _with(f, "content differs (it looks secret: not shown)")
    return _with(f, describe(a.splitlines(), b.splitlines(), names))


def describe(before: list[str], after: list[str], names: tuple[str, str] = ("original", "rebuilt")) -> str:
    """One line saying how the lines of AFTER differ from those of BEFORE."""
    if sorted(before) == sorted(after):
        at = next(i for i, (x, y) in enumerate(zip(before, after, strict=True)) if x != y)
        first, then = _show(before[at]), _show(after[at])
        return f"same lines in another order: line {at + 1} is {first} in the {names[0]}, {then} in the {names[1]}"
    gone = _only(before, after)
    new = _only(after, before)
    parts = []
    if gone:
        parts.append(f"only in the {names[0]}: " + _lines(gone))
    if new:
        parts.append(f"only in the {names[1]}: " + _lines(new))
    if not parts:
        return "the same lines, repeated a different number of times"
    return "; ".join(parts)


def _only(lines: list[str], other: list[str]) -> list[str]:
    seen = set(other)
    return [line for line in lines if line not in seen]


def _lines(lines: list[str]) -> str:
    shown = ", ".join(_show(line) for line in lines[:_MAX_LINES])
    more = len(lines) - _MAX_LINES
    return shown + (f" (and {more} more)" if more > 0 else "")


def _show(line: str) -> str:
    line = comment(line)
    return repr(line if len(line) <= _WIDTH else line[: _WIDTH - 3] + "...")


def _with(f: Finding, text: str) -> Finding:
    return dataclasses.replace(f, detail=f"{f.detail}: {text}" if f.detail else text)


def _text(insp: Inspection, path: str) -> str | None:
    try:
        with insp.top.open(path) as fh:
            data = fh.read(_MAX_BYTES + 1)
    except (OSError, KeyError, ValueError):
        return None
    if len(data) > _MAX_BYTES or b"\x00" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None
