"""Check that nothing was lost when README sections moved into docs/: every heading of an older
README (a file, or REV:README.md from git) is a heading of README.md or of a page under docs/.

    python scripts/docs-headings.py OLD_README_OR_GIT_REV     e.g.  python scripts/docs-headings.py main

Headings are compared by their text (their level may change when a section becomes a page).
Prints the headings it cannot find and exits 1, else prints how many it found and exits 0.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def headings(text: str) -> list[str]:
    """The Markdown headings outside fenced code blocks, as text without the #s."""
    found, fenced = [], False
    for line in text.splitlines():
        if re.match(r"^\s*(```|~~~)", line):
            fenced = not fenced
            continue
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m and not fenced:
            found.append(m.group(1))
    return found


def old_text(source: str) -> str:
    path = Path(source)
    if path.is_file():
        return path.read_text()
    spec = source if ":" in source else f"{source}:README.md"
    return subprocess.run(["git", "show", spec], cwd=ROOT, check=True, capture_output=True, text=True).stdout


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[2].strip())
        return 2
    new = set(headings((ROOT / "README.md").read_text()))
    for page in (ROOT / "docs").rglob("*.md"):
        new |= set(headings(page.read_text()))
    old = headings(old_text(argv[0]))
    lost = [h for h in old if h not in new]
    for h in lost:
        print(f"not found in README.md or docs/: {h}")
    if not lost:
        print(f"all {len(old)} headings of {argv[0]} are in README.md or docs/")
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
