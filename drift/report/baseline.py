"""An image with no Dockerfile mapping is compared with its own first inventory.

The baseline is a small summary (package versions, config), recorded the first time the
image target is seen; a retagged `app:latest` whose packages or settings changed then shows
up as findings, in the categories `drift diff` uses. Secret-looking ENV values are redacted
before the summary is stored.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from drift import secrets
from drift.compare import apt_label, native_arch
from drift.model import Finding, Inventory


def summarize(inv: Inventory, image_id: str) -> dict[str, Any]:
    native = native_arch(inv)
    config = inv.config.flat() if inv.config else {}
    known = secrets.secret_values(inv.config)
    config = {key: secrets.redact_flat(key, value, known) for key, value in config.items()}
    return {
        "image_id": image_id,
        "recorded": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "apt": {apt_label(p, native): p.version for p in inv.apt},
        "pip": {p.key: [p.name, p.version, p.location] for p in inv.pip},
        "config": config,
    }


def compare(old: dict[str, Any], new: dict[str, Any]) -> list[Finding]:
    out: list[Finding] = []
    out += _packages("apt", old.get("apt") or {}, new.get("apt") or {})
    out += _packages("pip", old.get("pip") or {}, new.get("pip") or {})
    before, after = old.get("config") or {}, new.get("config") or {}
    for key in sorted(before.keys() | after.keys()):
        if before.get(key) != after.get(key):
            out.append(Finding("config", None, key, before.get(key), after.get(key)))
    return out


def _packages(manager: str, old: dict[str, Any], new: dict[str, Any]) -> list[Finding]:
    def parts(value: Any) -> tuple[str, str, str | None]:
        if isinstance(value, list):
            return value[0], value[1], value[2]
        return "", str(value), None

    out = []
    for key in sorted(old.keys() | new.keys()):
        o, n = old.get(key), new.get(key)
        if o == n:
            continue
        name = key.split("@", 1)[0] if manager == "pip" else key
        if o is None:
            nm, version, loc = parts(n)
            out.append(Finding("undocumented", manager, nm or name, None, version, location=loc))  # type: ignore[arg-type]
        elif n is None:
            nm, version, loc = parts(o)
            out.append(Finding("missing", manager, nm or name, version, None, location=loc))  # type: ignore[arg-type]
        else:
            _, was, loc = parts(o)
            nm, now, _ = parts(n)
            out.append(Finding("version", manager, nm or name, was, now, location=loc))  # type: ignore[arg-type]
    return out
