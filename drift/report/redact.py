"""No secret value reaches the store or a report: the redaction every other output uses
(drift/secrets.py: secret-looking names, token shapes, URL passwords, secret options,
secret files), applied to what `drift report` keeps and shows."""

from __future__ import annotations

from drift import secrets
from drift.model import Finding, Inventory

REDACTED = secrets.REDACTED


def secret_path(path: str) -> bool:
    return secrets.path_reason(path) is not None


def known_values(env: list[str]) -> tuple[str, ...]:
    """Values of secret-named variables, to be hidden wherever else they appear (a command line)."""
    found = set()
    for item in env:
        key, sep, value = item.partition("=")
        if sep and len(value) >= 4 and secrets.name_looks_secret(key):
            found.add(value)
    return tuple(sorted(found, key=len, reverse=True))


def redact_value(name: str, value: str, known: tuple[str, ...] = ()) -> str:
    return secrets.redact_value(name, value, known)


def redact_env(item: str, known: tuple[str, ...] = ()) -> str:
    key, sep, value = item.partition("=")
    return f"{key}{sep}{redact_value(key, value, known)}" if sep else secrets.redact_text(item, known)


def redact_argv(argv: list[str], known: tuple[str, ...] = ()) -> list[str]:
    return list(secrets.redact_argv(argv, known) or ())


def redact_flat(key: str, value: object, known: tuple[str, ...] = ()) -> object:
    return secrets.redact_flat(key, value, known)


def redact_findings(findings: list[Finding], inv: Inventory | None) -> list[Finding]:
    if inv is not None:
        return secrets.redact_findings(findings, inv)
    return [secrets.redact_finding(f, {}) for f in findings]
