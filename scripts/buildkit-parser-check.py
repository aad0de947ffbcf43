"""Compare drift's Dockerfile parser with Docker's, on buildkit's own parser test files.

    python scripts/buildkit-parser-check.py GIT_DIR_OF_A_BUILDKIT_CLONE [-v]

Reads (never copies) `frontend/dockerfile/parser/testfiles/*/{Dockerfile,result}`, which
must parse to `result` (buildkit's s-expression dump), `testfiles-negative/*/Dockerfile`,
which must be refused, and the heredoc cases of `parser_heredoc_test.go` (its Dockerfile and
table of expected heredocs are read from the Go source: name, content, expansion, tab
stripping, descriptor; plus its JSON-form and heredoc-word lists). Prints one line per
disagreement and the count; exit 1 when any disagree.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

from drift.dockerfile.parse import Heredoc, dump, heredoc_content, heredoc_word, parse
from drift.dockerfile.words import WordError
from drift.errors import DockerfileError

ROOT = "frontend/dockerfile/parser"

HEREDOC_TEST = f"{ROOT}/parser_heredoc_test.go"
_FIELD = re.compile(r'(Name|Content|Expand|Chomp|FileDescriptor):\s*("(?:[^"\\]|\\.)*"|\w+)')


def show(git_dir: str, path: str) -> str:
    return subprocess.run(
        ["git", f"--git-dir={git_dir}", "show", f"HEAD:{path}"], capture_output=True, text=True, check=True
    ).stdout


def cases(git_dir: str, under: str) -> list[str]:
    out = subprocess.run(
        ["git", f"--git-dir={git_dir}", "ls-tree", "--name-only", f"HEAD:{ROOT}/{under}/"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return sorted(out.split())


def check_positive(git_dir: str) -> list[str]:
    bad = []
    for case in cases(git_dir, "testfiles"):
        text = show(git_dir, f"{ROOT}/testfiles/{case}/Dockerfile")
        want = show(git_dir, f"{ROOT}/testfiles/{case}/result")
        try:
            got = dump(parse(text, case))
        except DockerfileError as exc:
            bad.append(f"testfiles/{case}: refused: {exc}")
            continue
        if got != want:
            diff = [
                f"  want {w}\n  got  {g}" for w, g in zip(want.splitlines(), got.splitlines(), strict=False) if w != g
            ]
            extra = "" if len(want.splitlines()) == len(got.splitlines()) else "  (a different number of lines)"
            bad.append(f"testfiles/{case}: differs\n" + "\n".join(diff[:3]) + extra)
    return bad


def check_negative(git_dir: str) -> list[str]:
    bad = []
    for case in cases(git_dir, "testfiles-negative"):
        text = show(git_dir, f"{ROOT}/testfiles-negative/{case}/Dockerfile")
        try:
            parse(text, case)
        except DockerfileError:
            continue
        bad.append(f"testfiles-negative/{case}: accepted")
    return bad


def _as_tuple(doc: Heredoc) -> tuple[str, str, bool, bool, int]:
    return (doc.name, doc.content, doc.expand, doc.strip_tabs, doc.fd)


def _go_test(source: str, name: str) -> str:
    """The body of `func NAME(...)` in a Go test file."""
    start = source.index(f"func {name}(")
    end = source.find("\nfunc ", start + 1)
    return source[start : end if end > 0 else len(source)]


def _expected_heredocs(body: str) -> list[list[tuple[str, str, bool, bool, int]]]:
    """`tests := [][]Heredoc{ nil, { {Name: ..., Content: ...}, ... }, ... }` read as data."""
    table = body[body.index("[][]Heredoc{") + len("[][]Heredoc{") :]
    out: list[list[tuple[str, str, bool, bool, int]]] = []
    depth, group, item = 0, [], ""
    for line in table.splitlines():
        code = line.split("//", 1)[0].strip()
        if depth == 0 and code == "nil,":
            out.append([])
            continue
        if depth == 0 and code == "}":
            break
        for ch in code:
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 1:
                    fields = dict(_FIELD.findall(item))
                    group.append(
                        (
                            json.loads(fields["Name"]),
                            json.loads(fields.get("Content", '""')),
                            fields.get("Expand") == "true",
                            fields.get("Chomp") == "true",
                            int(fields.get("FileDescriptor", "0")),
                        )
                    )
                    item = ""
                elif depth == 0:
                    out.append(group)
                    group = []
        if depth >= 2:
            item += " " + code
    return out


def check_heredocs(git_dir: str) -> tuple[list[str], int]:
    source = show(git_dir, HEREDOC_TEST)
    bad: list[str] = []
    total = 0
    body = _go_test(source, "TestParseExtractsHeredoc")
    text = body.split("bytes.NewBufferString(`", 1)[1].split("`)", 1)[0]
    insts = parse(text).instructions
    for i, want in enumerate(_expected_heredocs(body)):
        total += 1
        got = [_as_tuple(d) for d in insts[i + 1].heredocs]
        if got != want:
            bad.append(f"heredoc {insts[i + 1].keyword} {insts[i + 1].raw[:30]!r}: want {want}, got {got}")
    body = _go_test(source, "TestParseJSONHeredoc")
    text = body.split("bytes.NewBufferString(`", 1)[1].split("`)", 1)[0]
    for inst in parse(text).instructions[1:]:
        total += 1
        if inst.heredocs:
            bad.append(f"JSON form {inst.raw!r} read as a heredoc")
    body = _go_test(source, "TestParseHeredocHelpers")
    for kind in ("validHeredocs", "invalidHeredocs", "notHeredocs"):
        listing = body.split(f"{kind} := []string{{", 1)[1].split("}", 1)[0]
        for word in re.findall(r'"(?:[^"\\]|\\.)*"|`[^`]*`', listing):
            total += 1
            word = json.loads(word) if word.startswith('"') else word[1:-1]
            try:
                found = heredoc_word(word)
            except WordError:
                found = "error"  # type: ignore[assignment]
            ok = (
                (kind == "validHeredocs" and found not in (None, "error") and found[0] == "EOF")  # type: ignore[index]
                or (kind == "invalidHeredocs" and found == "error")
                or (kind == "notHeredocs" and found is None)
            )
            if not ok:
                bad.append(f"heredoc word {word!r} ({kind}): got {found}")
    total += 1
    if heredoc_content(Heredoc("X", "\thello\n\tworld\n", True, True)) != "hello\nworld\n":
        bad.append("heredoc <<- does not strip leading tabs")
    return bad, total


def main(argv: list[str]) -> int:
    git_dir = argv[1]
    heredoc_bad, heredoc_total = check_heredocs(git_dir)
    bad = check_positive(git_dir) + check_negative(git_dir) + heredoc_bad
    total = len(cases(git_dir, "testfiles")) + len(cases(git_dir, "testfiles-negative")) + heredoc_total
    for line in bad:
        print(line)
    print(f"{len(bad)} of {total} cases disagree with Docker's parser")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
