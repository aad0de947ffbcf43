"""Markdown (GitHub flavour): for a pull-request comment or a report page."""

from __future__ import annotations

from tabulate import tabulate

from drift.render.sections import Section
from drift.say import printable


def _cell(value: object) -> str:
    """One table cell: control characters and bytes that are not UTF-8 shown as `\\xNN` (say.printable)."""
    return printable(str(value)).replace("|", "\\|")


def render_sections(sections: list[Section], *, title: str | None = None) -> str:
    out: list[str] = [f"# {title}", ""] if title else []
    for section in sections:
        out.append(f"## {printable(section.title)}")
        out.append("")
        out.extend(f"- {printable(line)}" for line in section.lines)
        if section.lines:
            out.append("")
        if section.headers:
            if section.rows:
                rows = [[_cell(v) for v in row] for row in section.rows]
                out.append(tabulate(rows, headers=section.headers, tablefmt="github", disable_numparse=True))
            else:
                out.append("_none_")
            out.append("")
    return "\n".join(out)


def render(value) -> str:  # type: ignore[no-untyped-def]
    from drift.render.sections import inventory_sections

    return render_sections(inventory_sections(value))
