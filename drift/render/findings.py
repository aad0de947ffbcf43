"""Findings as sections (table, markdown)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from drift.model import FINDING_CATEGORIES, Finding
from drift.render.sections import Section


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items() if v is not None)
    if isinstance(value, list):
        return json.dumps(value)
    return str(value)


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
