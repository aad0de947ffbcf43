"""No secret value reaches the store or a report: the same rule as `drift snapshot`.

ENV values whose names look secret (password, token, key, ...) are replaced; so are the
expected/actual values of config findings on such names.
"""

from __future__ import annotations

import dataclasses

from drift.model import Finding
from drift.snapshot import SECRET_ENV

REDACTED = "<redacted>"


def secret_name(name: str) -> bool:
    return bool(SECRET_ENV.search(name))


def redact_env(item: str) -> str:
    key, sep, value = item.partition("=")
    return f"{key}={REDACTED}" if sep and value and secret_name(key) else item


def redact_finding(f: Finding) -> Finding:
    if f.category != "config" or not f.name.startswith("Env."):
        return f
    if not secret_name(f.name[4:]):
        return f
    hide = lambda v: None if v is None else REDACTED  # noqa: E731
    return dataclasses.replace(f, expected=hide(f.expected), actual=hide(f.actual), fix=None)
