"""Findings as sections (table, markdown)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from drift.model import FINDING_CATEGORIES, Finding
from drift.render.sections import Section
from drift.severity import RANK, SEVERITIES

WIDTH = 60
DETAIL_WIDTH = 100


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items() if v is not None)
    if isinstance(value, list):
        return json.dumps(value)
    text = str(value)
    return text if text.isprintable() else "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _cell(value: Any, width: int = WIDTH) -> str:
    text = _text(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def pair_cells(expected: Any, actual: Any, width: int = WIDTH) -> tuple[str, str]:
    """Expected and actual cut to WIDTH, never to two identical strings when they differ:
    then both show the part around their first difference."""
    a, b = _text(expected), _text(actual)
    cut_a, cut_b = _cell(a, width), _cell(b, width)
    if a == b or cut_a != cut_b:
        return cut_a, cut_b
    at = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    start = max(0, at - width // 3)
    return _window(a, start, width), _window(b, start, width)


def _window(text: str, start: int, width: int) -> str:
    head = "..." if start > 0 else ""
    room = width - len(head)
    body = text[start:]
    return head + (body if len(body) <= room else body[: room - 3] + "...")


def counts(findings: list[Finding]) -> dict[str, int]:
    c: Counter[str] = Counter(f.category for f in findings)
    return {cat: c.get(cat, 0) for cat in FINDING_CATEGORIES}


def severity_counts(findings: list[Finding]) -> dict[str, int]:
    c: Counter[str] = Counter(f.severity for f in findings)
    return {s: c.get(s, 0) for s in SEVERITIES}


FOLDED = ("undocumented", "unknown")  # package findings that can name the package that pulled them in


def _key(category: str, manager: str | None, name: str) -> str:
    return f"{category}|{manager}:{name.split(':', 1)[0].lower().replace('_', '-').replace('.', '-')}"


def _owner(f: Finding) -> str | None:
    if f.category not in FOLDED or not f.manager or not f.explained_by or ":" not in f.explained_by:
        return None
    manager, name = f.explained_by.split(":", 1)
    return _key(f.category, manager, name)


def fold_dependencies(findings: list[Finding]) -> tuple[list[tuple[Finding, int]], int]:
    """Package dependencies folded under the package a person installed (same category).

    Returns (finding, folded count) rows in order and how many rows were folded; a dependency
    whose package is not itself a row stays a row."""
    roots = {
        _key(f.category, f.manager, f.name): f
        for f in findings
        if f.category in FOLDED and f.manager and f.explained_by is None
    }
    under: Counter[str] = Counter()
    kept: list[Finding] = []
    for f in findings:
        owner = _owner(f)
        if owner is not None and owner in roots:
            under[owner] += 1
        else:
            kept.append(f)
    rows = []
    for f in kept:
        key = _key(f.category, f.manager, f.name)
        rows.append((f, under[key] if roots.get(key) is f else 0))
    return rows, sum(under.values())


def _name(f: Finding, folded: int) -> str:
    name = f.name + (f" ({f.location})" if f.location else "")
    if folded:
        name += f" + {folded} dependenc{'y' if folded == 1 else 'ies'}"
    return name


def findings_sections(
    findings: list[Finding], *, title: str, lines: tuple[str, ...] = (), all_rows: bool = False
) -> list[Section]:
    summary = counts(findings)
    head = ", ".join(f"{n} {cat}" for cat, n in summary.items() if n) or "no drift"
    if all_rows:
        rows, folded = [(f, 0) for f in findings], 0
    else:
        rows, folded = fold_dependencies(findings)
    note = (f"{folded} dependency row(s) folded under the package that pulled them in (--all lists them)",)
    rated = severity_counts(findings)
    by_severity = ", ".join(f"{n} {s}" for s, n in rated.items() if n)
    out = [
        Section(
            title,
            lines=(
                *lines,
                f"findings: {head}",
                *((f"severity: {by_severity}",) if by_severity else ()),
                *(note if folded else ()),
            ),
        )
    ]
    if findings:
        rows.sort(key=lambda row: RANK[row[0].severity])  # most serious first; stable within a level
        with_detail = any(f.detail for f in findings)
        headers = ("severity", "category", "manager", "name", "expected", "actual", "explained by", "line", "fix")
        table = tuple(
            (
                f.severity,
                f.category,
                f.manager or "-",
                _name(f, n),
                *pair_cells(f.expected, f.actual),
                _cell(f.explained_by),
                _cell(f.line),
                _cell(f.fix),
                *((_cell(f.detail, DETAIL_WIDTH),) if with_detail else ()),
            )
            for f, n in rows
        )
        out.append(Section("Findings", (*headers, *(("detail",) if with_detail else ())), table))
    return out


def verdict(result) -> str:  # type: ignore[no-untyped-def]
    """DRIFT, in sync, or findings that exist but none of them in --fail-on."""
    fail_on = ", ".join(result.fail_on)
    if result.failing:
        return f"DRIFT: {len(result.failing)} finding(s) in --fail-on ({fail_on})"
    if result.findings:
        return f"{len(result.findings)} finding(s), none in --fail-on ({fail_on})"
    return f"in sync (fail on: {fail_on})"


def diff_sections(result, *, all_rows: bool = False) -> list[Section]:  # type: ignore[no-untyped-def]
    from drift.model import short_id

    exp = result.expected
    if exp.get("kind") == "dockerfile":
        found = f"the Dockerfile in folder {exp['found_in']}; " if exp.get("found_in") else ""
        expected = f"Dockerfile {exp['path']} ({found}FROM {exp['base']}; {result.mode}" + (
            f", built as {exp['built']})" if exp.get("built") else ")"
        )
    else:
        expected = f"{exp['name']} ({short_id(exp.get('id'))})"
    s = result.summary()
    lines = (
        f"actual:   {result.actual.kind} {result.actual.name} ({short_id(result.actual.id)})",
        f"expected: {expected}",
        f"undocumented packages a person installed: {s['undocumented_installed_by_hand']}"
        + (
            f" (+{s['undocumented_dependencies']} pulled in by them, {s['undocumented_orphans']} left behind)"
            if s["by_category"]["undocumented"]
            else ""
        ),
    ) + ((f"ignored: {s['ignored']} finding(s) matched .driftignore / --ignore",) if s["ignored"] else ())
    out = findings_sections(result.findings, title="drift diff", lines=lines, all_rows=all_rows)
    out[0] = Section(out[0].title, lines=(*out[0].lines, f"result: {verdict(result)}"))
    return out


def render_table(result, *, all_rows: bool = False) -> str:  # type: ignore[no-untyped-def]
    from drift.render.table import render_sections

    return render_sections(diff_sections(result, all_rows=all_rows))


def render_markdown(result, *, all_rows: bool = False) -> str:  # type: ignore[no-untyped-def]
    from drift.render.markdown import render_sections

    return render_sections(diff_sections(result, all_rows=all_rows))
