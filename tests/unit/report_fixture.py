"""The hand-written drift.report/v1 document the output tests share (tests/unit/fixtures/report_doc.json).

Run 4 of an hourly report: partial (one container could not be read), a removed container, a
redeployed one, an image checked against its Dockerfile, findings in every state, and a file
name that tries to be HTML.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

FIXTURE = Path(__file__).parent / "fixtures" / "report_doc.json"
HOSTILE = "/etc/passwd<script>alert(1)</script>"


def report_doc() -> dict[str, Any]:
    return copy.deepcopy(json.loads(FIXTURE.read_text()))


def quiet_doc() -> dict[str, Any]:
    """The same fleet an hour later: complete, every finding persisting, nothing to tell."""
    doc = report_doc()
    doc["run"].update(id=5, status="complete", exit_code=0, previous_run=4)
    doc["targets"] = [t for t in doc["targets"] if t["status"] not in ("removed", "error")]
    names = {t["name"] for t in doc["targets"]}
    doc["findings"] = [
        {**f, "state": "persisting" if f["state"] in ("new", "updated", "persisting") else f["state"]}
        for f in doc["findings"]
        if f["target"] in names and f["state"] not in ("resolved", "removed")
    ]
    for t in doc["targets"]:
        t["status"] = "scanned"
        t["error"] = None
    states = ("new", "updated", "persisting", "resolved", "stale", "acknowledged", "removed")
    doc["summary"]["by_state"] = {s: sum(f["state"] == s for f in doc["findings"]) for s in states}
    doc["summary"].update(errors=0, removed=0, targets=len(doc["targets"]), scanned=len(doc["targets"]))
    return doc
