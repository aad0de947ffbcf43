"""A corpus of Dockerfiles parsed as Docker reads them, and what their RUN lines declare."""

from __future__ import annotations

import pytest

from drift.dockerfile.declared import declare
from drift.dockerfile.parse import heredoc_content, parse
from drift.dockerfile.resolve import check, substitute_keep
from drift.dockerfile.shell import analyse, split_commands
from drift.dockerfile.words import process_word, process_words
from drift.errors import DockerfileError
from drift.model import ImageConfig
from tests.unit.helpers import FIXTURES

CORPUS = FIXTURES / "dockerfiles"


def load(name: str):  # type: ignore[no-untyped-def]
    path = CORPUS / name
    return parse(path.read_text(), str(path))


def test_heredocs() -> None:
    df = load("heredoc.Dockerfile")
    assert df.directives == {"syntax": "docker/dockerfile:1"}
    run, copy, py = df.instructions[1], df.instructions[2], df.instructions[3]
    assert run.keyword == "RUN" and run.line == 3 and run.end_line == 8
    assert run.heredocs[0].content.startswith("apt-get update\n")
    assert heredoc_content(copy.heredocs[0]) == "port=8080\n" and copy.heredocs[0].strip_tabs
    decl = declare(df, base_config=ImageConfig(), build_args={}, known_venvs=set())
    assert [(a.value.name, a.value.pin) for a in decl.apt_install] == [
        ("curl", "7.88.1-10+deb12u5"),
        ("ca-certificates", None),
    ]
    assert all(a.line == 3 for a in decl.apt_install)
    assert decl.copies[0].value.dest == "/etc/app.conf"
    assert py.heredocs[0].content == 'print("not shell")\n'
    assert not decl.unknowns  # a python heredoc is not shell: nothing declared, nothing unknown


def test_multistage_follows_the_final_stage() -> None:
    df = load("multistage.Dockerfile")
    decl = declare(df, base_config=ImageConfig(), build_args={}, known_venvs=set())
    assert decl.base == "debian:bookworm-slim"
    assert decl.stages == ["runtime"]
    assert [a.value.name for a in decl.apt_install] == ["python3"]
    spec = decl.copies[0].value
    assert (spec.dest, spec.sources, spec.from_stage) == ("/usr/local", ("/install",), "build")
    assert decl.config["Entrypoint"].value == ["python3"]


def test_arg_in_from_and_stage_chain() -> None:
    text = (
        "ARG BASE=debian:bookworm\nFROM ${BASE} AS one\nRUN apt-get install -y jq\n"
        "FROM one\nRUN apt-get install -y curl\n"
    )
    decl = declare(parse(text), base_config=ImageConfig(), build_args={}, known_venvs=set())
    assert decl.base == "debian:bookworm" and decl.stages == ["one", "#1"]
    assert [a.value.name for a in decl.apt_install] == ["jq", "curl"]
    other = declare(parse(text), base_config=ImageConfig(), build_args={"BASE": "ubuntu:24.04"}, known_venvs=set())
    assert other.base == "ubuntu:24.04"


def test_escape_directive_and_comments_in_continuations() -> None:
    df = load("escape.Dockerfile")
    assert df.escape == "`"
    run = df.instructions[1]
    assert run.args == "echo one     two     three"  # joined as written: nothing added, nothing removed
    assert df.instructions[2].args == "C:\\\\app"


def test_forms_env_labels_json_and_unknown_instruction() -> None:
    df = load("forms.Dockerfile")
    kinds = [i.keyword for i in df.instructions]
    assert "FROBNICATE" in kinds
    assert df.instructions[5].json == ["/bin/bash", "-c", "apt-get install -y jq"]
    decl = declare(df, base_config=ImageConfig(env=("PATH=/usr/bin",)), build_args={}, known_venvs=set())
    assert decl.config["Env.A"].value == "1"
    assert decl.config["Env.B"].value == "two words"
    assert decl.config["Env.C"].value == "1-x"
    assert decl.config["Env.D"].value == "-same-instruction"  # as Docker: values from before the instruction
    assert decl.config["Env.LEGACY"].value == "value with spaces"
    assert decl.config["Labels.org.opencontainers.image.title"].value == "drift test"
    assert decl.config["ExposedPorts"].value == ["53/udp", "8080/tcp"]
    assert decl.config["Volumes"].value == ["/data"]
    assert decl.config["User"].value == "nobody"
    assert decl.config["Cmd"].value == ["/bin/sh", "-c", "python3 -m http.server"]
    assert [a.value.name for a in decl.apt_install] == ["jq", "python3-pip"]
    specs = [a.value[0].spec for a in decl.pip_install]
    assert specs == ["requests>=2,<3", "six==1.16.0"]
    assert [a.value[0] for a in decl.requirement_files] == ["/app/req.txt"]
    assert [p.value for p in decl.problems] == ["unknown instruction FROBNICATE"]


def test_undecidable_commands_are_unknown() -> None:
    decl = declare(load("unknowns.Dockerfile"), base_config=ImageConfig(), build_args={}, known_venvs=set())
    reasons = " | ".join(u.value for u in decl.unknowns)
    assert "$EXTRA" in reasons and "piped into a shell" in reasons and "make install" in reasons
    assert decl.unknown_apt and decl.unknown_any
    assert any("without -y" in p.value for p in decl.problems)


@pytest.mark.parametrize(
    "text, message",
    [
        ("RUN echo hi\nFROM x\n", "before the first FROM"),
        ("ARG A=1\n", "no FROM"),
        ("# just a comment\n", "no instructions"),
        ("", "is empty"),
        ("FROM x\nENV NAME\n", "has no value"),
        ("FROM x\nRUN <<EOF\necho\n", "never closed"),
        ("# escape=x\nFROM x\n", "invalid escape"),
        ("FROM x\n!!! garbage\n", "cannot read instruction"),
    ],
)
def test_malformed(text: str, message: str) -> None:
    with pytest.raises(DockerfileError, match=message):
        check(parse(text))


def test_substitution() -> None:
    env = {"A": "1", "EMPTY": ""}
    assert process_word("$A ${A} ${B:-d} ${A:+alt} ${EMPTY:-e} \\$A", env) == "1 1 d alt e $A"
    assert process_word("'$A' \"$A\" ${B-unset} ${EMPTY-set}", env) == "$A 1 unset "
    assert process_words('a="1 2" b', env) == ["a=1 2", "b"]
    assert substitute_keep("$A $UNKNOWN ${B:-d} '\\$A'", env) == "1 $UNKNOWN d '\\$A'"


def test_shell_analysis() -> None:
    assert split_commands("a && b || c; d | e") == [["a"], ["b"], ["c"], ["d"], ["|", "e"]]
    found = analyse(
        "DEBIAN_FRONTEND=noninteractive apt-get -o Dpkg::Options::=--force-confold install -qq "
        "--no-install-recommends nginx=1.22* && apt-get purge -y vim && /opt/venv/bin/pip install -U 'flask~=3.0' "
        "&& python3 -m venv /opt/other && echo x > /etc/motd && useradd app && curl -o /usr/local/bin/tool https://x"
    )
    assert [(a.name, a.pin, a.yes, a.no_recommends) for a in found.apt_install] == [("nginx", "1.22*", True, True)]
    assert found.apt_remove == ["vim"]
    assert [(p.spec, p.interpreter) for p in found.pip_install] == [("flask~=3.0", "/opt/venv/bin/pip")]
    assert found.venvs == ["/opt/other"] and found.accounts
    assert "/etc/motd" in found.paths and "/usr/local/bin/tool" in found.paths
