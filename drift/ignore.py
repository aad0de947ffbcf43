""".driftignore and --ignore: glob patterns over findings, gitignore-style.

One pattern a line; `#` starts a comment; `!` negates (the last matching pattern wins).
A pattern matches a finding's name (package, path or config key), or `manager:name`
(`apt:lib*`, `pip:requests`), or `category:name` (`config:Env.HOSTNAME`). A path pattern
also matches everything below it (`/var/cache` covers `/var/cache/x`).
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass

from drift.errors import DriftError
from drift.model import Finding

FILENAME = ".driftignore"


@dataclass(frozen=True, slots=True)
class Rule:
    pattern: str
    negate: bool
    source: str


def parse(text: str, source: str) -> list[Rule]:
    rules = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        rules.append(Rule(line[1:].strip() if negate else line, negate, source))
    return rules


def load(folders: list[str], extra: list[str]) -> list[Rule]:
    rules: list[Rule] = []
    seen = set()
    for folder in folders:
        path = os.path.abspath(os.path.join(folder, FILENAME))
        if path in seen or not os.path.isfile(path):
            continue
        seen.add(path)
        try:
            with open(path, encoding="utf-8") as fh:
                rules += parse(fh.read(), path)
        except OSError as exc:
            raise DriftError(f"cannot read {path}: {exc.strerror}") from exc
    rules += parse("\n".join(extra), "--ignore")
    return rules


def _matches(rule: Rule, f: Finding) -> bool:
    pat = rule.pattern
    candidates = [f.name, f"{f.category}:{f.name}"]
    if f.manager:
        candidates.append(f"{f.manager}:{f.name}")
    for cand in candidates:
        if fnmatch.fnmatchcase(cand, pat):
            return True
        if pat.startswith("/") and cand.startswith(pat.rstrip("/") + "/"):
            return True
    return False


def split(findings: list[Finding], rules: list[Rule]) -> tuple[list[Finding], list[Finding]]:
    """(kept, ignored)."""
    kept: list[Finding] = []
    ignored: list[Finding] = []
    for f in findings:
        hit = False
        for rule in rules:
            if _matches(rule, f):
                hit = not rule.negate
        (ignored if hit else kept).append(f)
    return kept, ignored
