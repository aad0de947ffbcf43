"""Plain text tables for a terminal.

Values come from images (untrusted): every title, line and cell is shown by `say.printable`, so
a newline in a path cannot break a row and an escape sequence or a byte that is not UTF-8
reaches the terminal as `\\xNN`."""

from __future__ import annotations

from tabulate import tabulate

from drift.render.sections import Section
from drift.say import printable


def render_sections(sections: list[Section]) -> str:
    out: list[str] = []
    for section in sections:
        out.append(f"== {printable(section.title)}")
        out.extend(f"  {printable(line)}" for line in section.lines)
        if section.headers:
            if section.rows:
                rows = [[printable(str(v)) for v in row] for row in section.rows]
                table = tabulate(rows, headers=section.headers, tablefmt="simple", disable_numparse=True)
                out.extend(f"  {line}" for line in table.splitlines())
            else:
                out.append("  (none)")
        out.append("")
    return "\n".join(out)


def render(value) -> str:  # type: ignore[no-untyped-def]
    from drift.render.sections import inventory_sections

    return render_sections(inventory_sections(value))
