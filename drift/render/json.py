r"""JSON: the documented, versioned schema (`schema` field), stable key order.

Lists are written one item per line: readable, diff-friendly, and encoded by the C
encoder item by item (an indented dump of a large inventory takes seconds in pure Python).

Names from an image need not be UTF-8. drift reads them as Python does file names
(`surrogateescape`: the byte 0xE9 that is not UTF-8 is held as U+DCE9), and JSON writes such a
byte as the escape `\udcXX` (`caf\xe9` -> `"caf\udce9"`): the output stays valid UTF-8, and the
name is reversible without ambiguity (`os.fsencode(json.loads(text))` gives back the bytes; a
name that really holds a backslash is written `\\`, so it cannot be mistaken for one). Readers
that do not know the convention (Go, jq) read U+FFFD there.
"""

from __future__ import annotations

import json
import re
from typing import Any

_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _ascii_surrogates(text: str) -> str:
    """A lone surrogate (only ever inside a JSON string here) as its `\\uXXXX` escape."""
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def dumps(doc: dict[str, Any]) -> str:
    parts = []
    for key, value in doc.items():
        head = f"  {json.dumps(key)}: "
        if isinstance(value, list) and value:
            items = ",\n    ".join(json.dumps(item, ensure_ascii=False) for item in value)
            parts.append(f"{head}[\n    {items}\n  ]")
        else:
            parts.append(head + json.dumps(value, ensure_ascii=False))
    return _ascii_surrogates("{\n" + ",\n".join(parts) + "\n}\n")


def render(value: Any) -> str:
    return dumps(value.to_json())
