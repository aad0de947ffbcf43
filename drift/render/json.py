"""JSON: the documented, versioned schema (`schema` field), stable key order.

Lists are written one item per line: readable, diff-friendly, and encoded by the C
encoder item by item (an indented dump of a large inventory takes seconds in pure Python).
"""

from __future__ import annotations

import json
from typing import Any


def dumps(doc: dict[str, Any]) -> str:
    parts = []
    for key, value in doc.items():
        head = f"  {json.dumps(key)}: "
        if isinstance(value, list) and value:
            items = ",\n    ".join(json.dumps(item, ensure_ascii=False) for item in value)
            parts.append(f"{head}[\n    {items}\n  ]")
        else:
            parts.append(head + json.dumps(value, ensure_ascii=False))
    return "{\n" + ",\n".join(parts) + "\n}\n"


def render(value: Any) -> str:
    return dumps(value.to_json())
