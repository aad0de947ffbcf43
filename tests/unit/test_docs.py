"""The documentation stays true: the site builds in strict mode (no broken link, page or include),
every `drift ...` command line shown in README.md and docs/ uses commands and options drift has,
and the README's example outputs are the ones scripts/docs-examples.sh recorded."""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHELL_OPERATORS = {"|", "||", "&&", ";", "&", ">", ">>", "<", "2>&1", "2>", "$(", ")"}
CODE_LANGS = {"", "sh", "bash", "shell", "console", "text"}


def doc_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def code_blocks(text: str) -> Iterator[list[str]]:
    """The shell-like fenced code blocks, as lines, continuation lines (ending in \\) joined."""
    lang: str | None = None
    block: list[str] = []
    pending = ""
    for line in text.splitlines():
        fence = re.match(r"^\s*(```|~~~)\s*([\w+-]*)", line)
        if fence:
            if lang is not None and lang in CODE_LANGS:
                yield block
            lang = None if lang is not None else fence.group(2).lower()
            block, pending = [], ""
            continue
        if lang is None:
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        block.append(pending + line)
        pending = ""


def command_lines(block: list[str]) -> list[str]:
    """In a session (a block with '$ ' prompts), the prompted lines; else every line."""
    prompted = [line for line in block if line.lstrip().startswith("$ ")]
    return prompted or block


def example_lines() -> Iterator[tuple[str, str]]:
    """(where, line) for every code line of the docs and of the recorded examples they include."""
    for path in doc_files():
        for block in code_blocks(path.read_text()):
            for line in command_lines(block):
                yield str(path.relative_to(ROOT)), line
    for path in sorted((ROOT / "docs" / "examples").glob("*.txt")):
        for line in command_lines(path.read_text().splitlines()):
            yield str(path.relative_to(ROOT)), line


def drift_invocations(line: str) -> Iterator[list[str]]:
    """The words after each `drift` command in a shell line ('$ ' prompts, sudo, env, pipes).

    Output lines are not commands: `drift: error: ...`, `drift report: run 1 ...`, `drift report,
    cold` (a first word that ends in ':' or ',' is output), `# comments`."""
    text = line.strip()
    text = text[2:] if text.startswith("$ ") else text
    if text.startswith("#"):
        return
    try:
        words = shlex.split(text, comments=True)
    except ValueError:  # an output line with an odd quote
        words = text.split()
    segment_start = True
    for i, word in enumerate(words):
        if word in SHELL_OPERATORS or word.startswith(("(", "$(")):
            segment_start = True
            continue
        if segment_start and (word in ("sudo", "env", "time", "exec") or re.match(r"^[A-Z_][A-Z0-9_]*=", word)):
            continue
        if segment_start and (word == "drift" or word.endswith("/drift")):
            rest: list[str] = []
            for w in words[i + 1 :]:
                if w in SHELL_OPERATORS:
                    break
                rest.append(w)
            if not rest or not rest[0].endswith((":", ",")):
                yield rest
        segment_start = False


def cli() -> Any:
    """drift's command line as click sees it (typer vendors its own click: duck-typed here)."""
    from typer.main import get_command

    from drift.cli import app

    group = get_command(app)
    assert hasattr(group, "commands")
    return group


def options_of(command: Any) -> set[str]:
    from drift.console import HELP_OPTIONS

    return {o for p in command.params for o in (*p.opts, *p.secondary_opts) if o.startswith("-")} | set(HELP_OPTIONS)


def problems(args: list[str]) -> list[str]:
    """What in one `drift ARGS...` line drift's command line does not have (empty: all known)."""
    command = cli()
    path = ["drift"]
    found: list[str] = []
    words = [w.strip("[]").rstrip(".") for w in args]
    i = 0
    while i < len(words):
        word = words[i]
        if word.startswith("-") and len(word) > 1:
            name = word.split("=", 1)[0]
            if name not in options_of(command):
                found.append(f"{' '.join(path)}: no option {name}")
        elif hasattr(command, "commands") and word:
            sub = command.commands.get(word)
            if sub is None:
                found.append(f"{' '.join(path)}: no command {word!r}")
                return found
            command = sub
            path.append(word)
        i += 1
    return found


def test_documented_commands_and_options_exist() -> None:
    seen = 0
    bad: list[str] = []
    for where, line in example_lines():
        for args in drift_invocations(line):
            seen += 1
            bad += [f"{where}: {line.strip()}\n    {p}" for p in problems(args)]
    assert seen > 40, seen  # the parser still finds the documented commands
    assert not bad, "documented command lines that drift does not accept:\n" + "\n".join(bad)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("$ drift inspect IMAGE --no-such-flag", ["drift inspect: no option --no-such-flag"]),
        ("drift frobnicate x", ["drift: no command 'frobnicate'"]),
        ("sudo drift cache purge", ["drift cache: no command 'purge'"]),
        ("cd x && drift report [--all] [-o FORMAT:PATH]... --fail-on=new", []),
        ("drift report: run 1 (complete)", None),
        ("drift: error: no such file", None),
        ("echo hi | drift diff A B -f json > out.json  # --not-an-option", []),
    ],
)
def test_the_checker_reads_command_lines(line: str, expected: list[str] | None) -> None:
    invocations = list(drift_invocations(line))
    if expected is None:
        assert invocations == []
    else:
        (args,) = invocations
        assert problems(args) == expected


def test_readme_examples_are_the_recorded_ones() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "docs-readme.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "<!-- example: docs/examples/" in (ROOT / "README.md").read_text()


def test_examples_are_recorded_runs_and_all_used() -> None:
    """Every example file is a recorded command ('$ ...' first) and some page or the README uses it."""
    pages = "\n".join(p.read_text() for p in doc_files())
    for path in sorted((ROOT / "docs" / "examples").glob("*.txt")):
        assert path.read_text().startswith("$ "), path
        assert f"docs/examples/{path.name}" in pages, f"{path.name} is included nowhere"


def test_readme_is_the_front_door() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) < 350
    for needed in ("make demo", "make test", "make docs", "pip install"):
        assert needed in readme


def test_site_builds_offline_in_strict_mode(tmp_path: Path) -> None:
    if importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("material") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("mkdocs and mkdocs-material are not installed (pip install -e '.[dev]')")
        pytest.skip("mkdocs and mkdocs-material are not installed")
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-f", str(ROOT / "mkdocs.yml"), "-d", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    inspect_page = (site / "guide" / "inspect.html").read_text()
    assert "== drift inspect" in inspect_page  # the recorded example was included
    assert "--8&lt;--" not in inspect_page and "--8<--" not in inspect_page
    assert "fonts.googleapis.com" not in (site / "index.html").read_text()
