"""Static audit: an image's inventory against what its Dockerfile declares.

Expected = the base image's inventory + what the Dockerfile declares + what that pulls in
(apt Depends/Pre-Depends, and Recommends unless turned off, followed inside the image's
own installed set; pip Requires-Dist inside the same environment). Every difference is a
`Finding`; undocumented packages that only came in as dependencies of another
undocumented one name it in `explained_by`.
"""

from __future__ import annotations

from drift.dockerfile.audit_accounts import account_findings
from drift.dockerfile.audit_apt import apt_findings
from drift.dockerfile.audit_files import config_findings, file_findings
from drift.dockerfile.audit_pip import pip_findings
from drift.dockerfile.declared import Declaration
from drift.dockerfile.deps import ORPHAN, AptIndex, attribute_apt, attribute_pip, by_label, pip_key
from drift.dockerfile.history import Evidence
from drift.inventory import Inspection
from drift.model import Finding

__all__ = ["ORPHAN", "AptIndex", "attribute_apt", "attribute_pip", "audit", "by_label", "pip_key"]


def audit(
    insp: Inspection, decl: Declaration, *, context: str | None, dockerfile: str, history: Evidence | None = None
) -> list[Finding]:
    findings: list[Finding] = []
    findings += [
        Finding("dockerfile", None, f"line {a.line}", None, None, line=a.line, detail=a.value) for a in decl.problems
    ]
    findings += [
        Finding("unknown", None, f"line {a.line}", None, None, line=a.line, detail=a.value) for a in decl.unknowns
    ]
    findings += apt_findings(insp, decl)
    findings += pip_findings(insp, decl, context)
    findings += file_findings(insp, decl, context, history)
    findings += account_findings(insp, decl)
    findings += config_findings(insp, decl)
    return findings
