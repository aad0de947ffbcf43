"""No secret value reaches the store or a report: the redaction the other outputs use.

When `drift.secrets` is there (detection by name and content), it decides; until then the
rule of `drift snapshot` applies: ENV values whose names look secret are replaced, and so
are the values of config findings on such names and `--password=...`-style arguments.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
from typing import Any

from drift.model import Finding, Inventory

REDACTED = "<redacted>"
# The words of drift.snapshot.SECRET_ENV (not imported: that module pulls in the collectors).
_WORDS = r"PASSW(OR)?D|SECRET|TOKEN|KEY|CREDENTIAL|PRIVATE|AUTH|COOKIE|SESSION"
SECRET_ENV = re.compile(_WORDS, re.IGNORECASE)
_FLAG = re.compile(rf"^(--?[A-Za-z0-9_-]*(?:{_WORDS})[A-Za-z0-9_-]*=).+$", re.IGNORECASE)


def _secrets() -> Any:
    try:
        return importlib.import_module("drift.secrets")
    except ImportError:
        return None


def secret_name(name: str) -> bool:
    mod = _secrets()
    return bool(mod.name_looks_secret(name)) if mod else bool(SECRET_ENV.search(name))


def secret_path(path: str) -> bool:
    mod = _secrets()
    if mod:
        return bool(mod.path_reason(path))
    from drift.snapshot import SECRET_PATHS

    return any(pattern.search(path) for pattern, _ in SECRET_PATHS)


def redact_value(name: str, value: str) -> str:
    mod = _secrets()
    if mod:
        return str(mod.redact_value(name, value))
    return REDACTED if value and secret_name(name) else value


def redact_env(item: str) -> str:
    key, sep, value = item.partition("=")
    return f"{key}{sep}{redact_value(key, value)}" if sep else item


def redact_argv(argv: list[str]) -> list[str]:
    mod = _secrets()
    if mod:
        return list(mod.redact_argv(argv) or ())
    return [_FLAG.sub(lambda m: m.group(1) + REDACTED, a) for a in argv]


def redact_findings(findings: list[Finding], inv: Inventory | None) -> list[Finding]:
    mod = _secrets()
    if mod and inv is not None:
        findings = list(mod.redact_findings(findings, inv))
    return [_config_value(f) for f in findings]


def _config_value(f: Finding) -> Finding:
    if f.category != "config" or not f.name.startswith(("Env.", "Labels.")):
        return f
    name = f.name.split(".", 1)[1]

    def hide(v: Any) -> Any:
        return redact_value(name, v) if isinstance(v, str) else v

    expected, actual = hide(f.expected), hide(f.actual)
    if (expected, actual) == (f.expected, f.actual):
        return f
    return dataclasses.replace(f, expected=expected, actual=actual, fix=None)
