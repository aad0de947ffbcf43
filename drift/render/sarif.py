"""SARIF 2.1.0: one rule per finding category, Dockerfile lines as locations, stable fingerprints.

A result's `level` and `properties.security-severity` come from its severity (drift.severity):
error for critical and high, warning for medium, note for low and info."""

from __future__ import annotations

import json
from typing import Any

from drift import __version__
from drift.severity import SARIF_LEVEL, SECURITY_SEVERITY

RULES = {
    "undocumented": "Installed in the image but neither declared nor explained by the Dockerfile",
    "missing": "Declared by the Dockerfile but not installed in the image",
    "version": "Installed version does not satisfy the declared pin or specifier",
    "mark": "Manual/automatic (apt) or requested (pip) mark differs",
    "config": "Image config (ENV, CMD, ENTRYPOINT, WORKDIR, USER, EXPOSE, LABEL ...) differs",
    "file": "A file added, modified or deleted that nothing in the Dockerfile accounts for",
    "account": "A user or group added, removed or changed that neither the Dockerfile nor a package made",
    "dockerfile": "A problem in the Dockerfile itself",
    "unknown": "Could not be decided statically",
}
SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def tool() -> dict[str, Any]:
    """The SARIF `tool` object both SARIF outputs share: drift as driver, one rule per category."""
    return {
        "driver": {
            "name": "drift",
            "version": __version__,
            "informationUri": "https://github.com/drift-tool/drift",
            "rules": [{"id": rule, "shortDescription": {"text": text}} for rule, text in RULES.items()],
        }
    }


def severity_properties(severity: str) -> dict[str, str]:
    """What a SARIF result's `properties` say of its severity (GitHub code scanning reads
    `security-severity`, a number as a string)."""
    return {"severity": severity, "security-severity": SECURITY_SEVERITY[severity]}


def _message(f: Any) -> str:
    who = f"{f.manager} package {f.name}" if f.manager else f.name
    parts = [f"[{f.severity}] {f.category}: {who}"]
    if f.expected is not None:
        parts.append(f"expected {json.dumps(f.expected) if not isinstance(f.expected, str) else f.expected}")
    if f.actual is not None:
        parts.append(f"actual {json.dumps(f.actual) if not isinstance(f.actual, str) else f.actual}")
    if f.explained_by:
        parts.append(f"pulled in by {f.explained_by}")
    if f.detail:
        parts.append(str(f.detail))
    if f.fix:
        parts.append(f"fix: {f.fix}")
    return "; ".join(parts)


def render(result: Any) -> str:
    path = result.expected.get("path") if result.expected.get("kind") == "dockerfile" else None
    results = []
    for f in result.findings:
        entry: dict[str, Any] = {
            "ruleId": f.category,
            "level": SARIF_LEVEL[f.severity],
            "message": {"text": _message(f)},
            "partialFingerprints": {"driftFinding/v1": f.fingerprint},
            "properties": {**f.to_json(), **severity_properties(f.severity)},
        }
        if path:
            entry["locations"] = [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": path},
                        "region": {"startLine": f.line or 1},
                    }
                }
            ]
        results.append(entry)
    doc = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": tool(),
                "results": results,
            }
        ],
    }
    return json.dumps(doc, indent=2) + "\n"
