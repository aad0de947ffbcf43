"""Static audit, accounts: users and groups the image added, removed or changed that no RUN
line names (`useradd`, `adduser`, `usermod`, `groupadd`, ... read as the programs read
their options) and no package's maintainer scripts made."""

from __future__ import annotations

from drift.dockerfile.audit_apt import first
from drift.dockerfile.declared import Declaration
from drift.dockerfile.shell_accounts import WILDCARD
from drift.inventory import Inspection
from drift.model import AccountChange, Finding


def account_findings(insp: Inspection, decl: Declaration) -> list[Finding]:
    named = {at.value: at.line for at in decl.account_names}
    wildcard = {kind: line for (kind, name), line in sorted(named.items(), reverse=True) if name == WILDCARD}
    maybe = first(decl.unknown_any)
    out = []
    for a in insp.inventory.accounts:
        if a.explained_by is not None or _declared(a, named):
            continue
        line = wildcard.get(a.kind) or maybe
        if line is not None:
            why = "names accounts decided at build time" if a.kind in wildcard else "drift cannot read it"
            detail = f"{a.detail}; may come from line {line}, which {why}"
            out.append(Finding("unknown", None, a.label, a.before, a.after, line=line, detail=detail))
        else:
            out.append(Finding("account", None, a.label, a.before, a.after, detail=a.detail))
    return out


def _declared(a: AccountChange, named: dict[tuple[str, str], int]) -> bool:
    if (a.kind, a.name) in named:
        return True
    if a.kind == "group" and a.fields == ("members",):  # members joined or left with a declared user
        before, after = set((a.before or {}).get("members", ())), set((a.after or {}).get("members", ()))
        return all(("user", m) in named for m in before ^ after)
    return False
