"""JSON for `drift report`: the `drift.report/v1` document as it is (see drift/report/doc.py)."""

from __future__ import annotations

from typing import Any

from drift.render.json import dumps


def render(doc: dict[str, Any]) -> str:
    return dumps(doc)
