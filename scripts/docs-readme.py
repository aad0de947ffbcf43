"""Copy the short example outputs of docs/examples/ into README.md.

GitHub shows README.md as it is (no includes), so each example there sits between markers:

    <!-- example: docs/examples/NAME.txt -->
    ```
    (the file's content, copied by this script)
    ```
    <!-- /example -->

`python scripts/docs-readme.py` rewrites those blocks from the files (run by `make docs-examples`
after scripts/docs-examples.sh); `--check` changes nothing and exits 1 when a block differs from
its file (tests/unit/test_docs.py runs it).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"(<!-- example: (\S+) -->\n)(.*?)(<!-- /example -->)", re.S)


def render(text: str) -> str:
    def block(m: re.Match[str]) -> str:
        body = (ROOT / m.group(2)).read_text().rstrip("\n")
        return f"{m.group(1)}```\n{body}\n```\n{m.group(4)}"

    return BLOCK.sub(block, text)


def main(argv: list[str]) -> int:
    readme = ROOT / "README.md"
    old = readme.read_text()
    new = render(old)
    if "--check" in argv:
        if new != old:
            print("README.md's examples differ from docs/examples/: run 'python scripts/docs-readme.py'")
            return 1
        return 0
    if new != old:
        readme.write_text(new)
        print("README.md: examples copied from docs/examples/")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
