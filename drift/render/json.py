"""JSON: the documented, versioned schema (`schema` field), stable key order."""

from __future__ import annotations

import json
from typing import Any


def render(value: Any) -> str:
    return json.dumps(value.to_json(), indent=2, sort_keys=False, ensure_ascii=False) + "\n"
