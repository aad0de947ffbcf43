"""Findings as sections (table, markdown)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from drift.model import FINDING_CATEGORIES, Finding
from drift.render.sections import Section


def _cell(value: Any, width: int = 60) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict):
        text = ", ".join(f"{k}={v}" for k, v in value.items() if v is not None)
    elif isinstance(value, list):
        text = json.dumps(value)
    else:
        text = str(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def counts(findings: list[Finding]) -> dict[str, int]:
    c: Counter[str] = Counter(f.category for f in findings)
    return {cat: c.get(cat, 0) for cat in FINDING_CATEGORIES}


def findings_sections(findings: list[Finding], *, title: str, lines: tuple[str, ...] = ()) -> list[Section]:
    summary = counts(findings)
    head = ", ".join(f"{n} {cat}" for cat, n in summary.items() if n) or "no drift"
    out = [Section(title, lines=(*lines, f"findings: {head}"))]
    if findings:
        rows = tuple(
            (
                f.category,
                f.manager or "-",
                f.name + (f" ({f.location})" if f.location else ""),
                _cell(f.expected),
                _cell(f.actual),
                _cell(f.explained_by),
                _cell(f.line),
                _cell(f.fix),
            )
            for f in findings
        )
        out.append(
            Section(
                "Findings", ("category", "manager", "name", "expected", "actual", "explained by", "line", "fix"), rows
            )
        )
    return out


def diff_sections(result) -> list[Section]:  # type: ignore[no-untyped-def]
    from drift.model import short_id

    exp = result.expected
    if exp.get("kind") == "dockerfile":
        expected = f"Dockerfile {exp['path']} (FROM {exp['base']}; {result.mode}" + (
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
    out = findings_sections(result.findings, title="drift diff", lines=lines)
    verdict = "DRIFT" if s["drift"] else "in sync"
    out[0] = Section(out[0].title, lines=(*out[0].lines, f"result: {verdict} (fail on: {', '.join(result.fail_on)})"))
    return out


def render_table(result) -> str:  # type: ignore[no-untyped-def]
    from drift.render.table import render_sections

    return render_sections(diff_sections(result))


def render_markdown(result) -> str:  # type: ignore[no-untyped-def]
    from drift.render.markdown import render_sections

    return render_sections(diff_sections(result))
