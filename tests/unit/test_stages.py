"""Provenance across stages (drift.dockerfile.stages): one folder per case under stage_cases/,
each a Dockerfile in its build context and `carried`, what its COPY --from lines bring:
`LINE KIND VALUE [-> NAME==VERSION | ?] WHERE whole|part`, `LINE image SOURCE DEST`, `LINE unread LINE`."""

from __future__ import annotations

from pathlib import Path

import pytest

from drift.dockerfile import stages
from drift.dockerfile.declared import declare
from drift.dockerfile.parse import parse
from drift.dockerfile.shell import analyse, is_local_spec

CASES = Path(__file__).parent / "stage_cases"


def describe(folder: Path) -> list[str]:
    df = parse((folder / "Dockerfile").read_text(), str(folder / "Dockerfile"))
    decl = declare(df, base_config=None, build_args={}, known_venvs=set())
    out = []
    for c in stages.carried(decl):
        if c.image:
            out.append(f"{c.line} image {c.source} {c.dest}")
            continue
        if c.unread is not None:
            out.append(f"{c.line} unread {c.unread}")
        for item in c.items:
            named = ""
            if item.kind == "pip" and is_local_spec(item.value):
                named = f" -> {stages.local_requirement(item.value, item.stage, str(folder)) or '?'}"
            where = "whole" if item.env.whole else "part"
            out.append(f"{c.line} {item.kind} {item.value}{named} {item.env.path} {where}")
    return out


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir()))
def test_case(case: str) -> None:
    expected = (CASES / case / "carried").read_text().splitlines()
    assert sorted(describe(CASES / case)) == sorted(expected)


def test_pip_target_and_local_paths_are_read_against_the_working_directory() -> None:
    found = analyse("pip install --prefix=install -r req.txt ./dist/a-1.0-py3-none-any.whl . six", workdir="/b")
    assert [(p.spec, p.target) for p in found.pip_install] == [
        ("/b/dist/a-1.0-py3-none-any.whl", "/b/install"),
        ("/b", "/b/install"),
        ("six", "/b/install"),
    ]
    assert found.requirement_files[0][2]["target"] == "/b/install"  # -r before --target is still a target install


def test_requirements_of_a_target_install_are_not_the_system_s() -> None:
    df = parse("FROM debian\nRUN pip install -r /r.txt --target /x\n", "Dockerfile")
    decl = declare(df, base_config=None, build_args={}, known_venvs=set())
    assert [tuple(a.value) for a in decl.requirement_files] == [("/r.txt", "*", False, "/x")]


@pytest.mark.parametrize(
    ("spec", "local"),
    [
        (".", True),
        ("dist/app-1.0-py3-none-any.whl", True),
        ("app-1.0.tar.gz", True),
        ("six==1.16.0", False),
        ("app @ file:///src", False),
        ("git+https://example.org/app.git", False),
        ("requests[socks]>=2", False),
    ],
)
def test_local_specs(spec: str, local: bool) -> None:
    assert is_local_spec(spec) is local


def test_a_later_stage_of_the_same_name_is_not_the_one_copied_from() -> None:
    text = "FROM debian AS b\nRUN pip install six\nFROM debian\nCOPY --from=b /usr/local /usr/local\nFROM debian AS b\n"
    df = parse(text, "Dockerfile")
    decl = declare(df, base_config=None, build_args={}, known_venvs=set())
    assert decl.copies == [] and decl.from_stages == {}  # the final stage is the last one: it copies nothing
