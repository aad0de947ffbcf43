"""Plain text tables for a terminal."""

from __future__ import annotations

from tabulate import tabulate

from drift.render.sections import Section


def render_sections(sections: list[Section]) -> str:
    out: list[str] = []
    for section in sections:
        out.append(f"== {section.title}")
        out.extend(f"  {line}" for line in section.lines)
        if section.headers:
            if section.rows:
                table = tabulate(section.rows, headers=section.headers, tablefmt="simple", disable_numparse=True)
                out.extend(f"  {line}" for line in table.splitlines())
            else:
                out.append("  (none)")
        out.append("")
    return "\n".join(out)


def render(value) -> str:  # type: ignore[no-untyped-def]
    from drift.render.sections import inventory_sections

    return render_sections(inventory_sections(value))
