"""drift/ shows its architecture (issue 20, item 3): docs/ARCHITECTURE.md's table of rooms names
every folder and top-level module of drift/ and nothing that is not there, and one module name
has one meaning."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "drift"
# The same name for the same job in two rooms: the top-level command line and the report's own
# commands (each registers its commands on the one typer app).
SAME_MEANING = {"cli.py"}
ALWAYS = {"__init__.py", "__main__.py", "cli.py"}  # the package and its entry, not rooms


def _rooms_table() -> set[str]:
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    section = text.split("## Rooms", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            first_cell = line.split("|")[1]
            names.update(re.findall(r"`([^`]+)`", first_cell))
    return names


def test_the_rooms_table_matches_the_folders() -> None:
    there = {
        p.name + "/" if p.is_dir() else p.name
        for p in PACKAGE.iterdir()
        if p.name != "__pycache__" and (p.is_dir() or p.suffix == ".py")
    } - ALWAYS
    named = _rooms_table()
    assert named, "no table under '## Rooms' in docs/ARCHITECTURE.md"
    assert not (named - there), f"the table names what drift/ does not have: {sorted(named - there)}"
    assert not (there - named), f"drift/ has what the table does not name: {sorted(there - named)}"


def test_one_meaning_per_module_name() -> None:
    seen: dict[str, list[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        if "__pycache__" in path.parts or path.name == "__init__.py" or path.name.endswith("_pb2.py"):
            continue
        seen.setdefault(path.name, []).append(str(path.relative_to(ROOT)))
    twice = {name: paths for name, paths in seen.items() if len(paths) > 1 and name not in SAME_MEANING}
    assert not twice, f"one module name, several modules: {twice}"
