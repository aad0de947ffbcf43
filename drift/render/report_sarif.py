"""SARIF 2.1.0 from a drift.report/v1 document: one result per finding, with its state between runs.

`level` and `properties.security-severity` follow the finding's severity (drift.severity).
`baselineState` says what changed since the previous run (new / unchanged / updated / absent),
`provenance.firstDetectionTimeUtc` when drift first saw it, acknowledged findings carry an
external `suppression` with the reason given to `drift ack`. Targets are logical locations
(`engine/kind/name`): a running container is not a file in a repository.
"""

from __future__ import annotations

import json
from typing import Any

from drift.render.report_common import describe, errors, finding_target_key, severity_of, sort_findings
from drift.render.sarif import SCHEMA, severity_properties, tool
from drift.severity import SARIF_LEVEL

BASELINE_STATE = {
    "new": "new",
    "updated": "updated",
    "persisting": "unchanged",
    "acknowledged": "unchanged",
    "stale": "unchanged",
    "resolved": "absent",
    "removed": "absent",
}


def _level(f: dict[str, Any]) -> str:
    """From the finding's severity (error: critical, high; warning: medium; note: low, info);
    acknowledged is a note, and what is gone is `none`."""
    state = f.get("state")
    if state in ("resolved", "removed"):
        return "none"  # SARIF: a result whose kind is not "fail" has level "none"
    if state == "acknowledged":
        return "note"
    return SARIF_LEVEL[severity_of(f)]


def _message(f: dict[str, Any]) -> str:
    text = f"[{severity_of(f)}] {f.get('target')}: {describe(f)}"
    if f.get("detail"):
        text += f"; {f['detail']}"
    if f.get("fix"):
        text += f"; fix: {f['fix']}"
    return text


def _result(f: dict[str, Any]) -> dict[str, Any]:
    key = finding_target_key(f)
    result: dict[str, Any] = {
        "ruleId": f.get("category") or "unknown",
        "level": _level(f),
        "kind": "pass" if f.get("state") in ("resolved", "removed") else "fail",
        "message": {"text": _message(f)},
        "locations": [{"logicalLocations": [{"name": f.get("target"), "fullyQualifiedName": key, "kind": "module"}]}],
        "partialFingerprints": {"driftFinding/v1": f.get("fingerprint") or "", "driftTarget/v1": key},
        "baselineState": BASELINE_STATE.get(f.get("state") or "", "unchanged"),
        "provenance": {"firstDetectionTimeUtc": f.get("first_seen"), "lastDetectionTimeUtc": f.get("last_seen")},
        "properties": {**{k: v for k, v in f.items() if k != "ack"}, **severity_properties(severity_of(f))},
    }
    if f.get("state") == "acknowledged" or f.get("ack"):
        ack = f.get("ack") or {}
        suppression: dict[str, Any] = {
            "kind": "external",
            "status": "accepted",
            "justification": ack.get("reason") or "",
        }
        if ack.get("by") or ack.get("expires"):
            suppression["properties"] = {"by": ack.get("by"), "expires": ack.get("expires")}
        result["suppressions"] = [suppression]
    return result


def _invocation(doc: dict[str, Any]) -> dict[str, Any]:
    run = doc.get("run") or {}
    return {
        "executionSuccessful": run.get("status") != "failed",
        "startTimeUtc": run.get("started"),
        "endTimeUtc": run.get("finished"),
        "exitCode": run.get("exit_code", 0),
        "toolExecutionNotifications": [
            {
                "level": "error",
                "message": {"text": f"{e['engine']}/{e['target']}: {e['error']}" if e["target"] else e["error"]},
            }
            for e in errors(doc)
        ],
    }


def render(doc: dict[str, Any]) -> str:
    findings = sorted(sort_findings(doc.get("findings") or []), key=finding_target_key)
    log = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": tool(),
                "automationDetails": {"id": f"drift-report/{(doc.get('run') or {}).get('id')}"},
                "invocations": [_invocation(doc)],
                "results": [_result(f) for f in findings],
            }
        ],
    }
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"
