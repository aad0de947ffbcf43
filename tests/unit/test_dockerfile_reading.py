"""The Dockerfile read as Docker reads it: parse cases, resolution, RUN scripts.

`dockerfile_cases/<case>/Dockerfile` parses to `result` (buildkit's s-expression dump, plus a
`<<NAME` line per heredoc) or is refused with the message in `error`.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from drift.dockerfile.declared import declare
from drift.dockerfile.parse import dump, heredoc_content, parse
from drift.dockerfile.resolve import DEFAULT_PATH, resolve
from drift.dockerfile.shell import analyse, split_commands
from drift.errors import DockerfileError
from drift.model import ImageConfig

CASES = Path(__file__).parent / "dockerfile_cases"


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir()))
def test_case(case: str) -> None:
    folder = CASES / case
    text = (folder / "Dockerfile").read_text()
    if (folder / "error").exists():
        with pytest.raises(DockerfileError, match=(folder / "error").read_text().strip()):
            parse(text, "Dockerfile")
    else:
        assert dump(parse(text), heredocs=True) == (folder / "result").read_text()


def test_cases_cover_each_class() -> None:
    names = {p.name for p in CASES.iterdir()}
    assert {"heredoc-names", "heredoc-not-heredocs", "tab-after-keyword", "continuation-joins-as-written"} <= names
    assert {"escaped-backslash-ends-line", "arg-quoting", "copy-flags", "empty-file", "only-comments"} <= names
    assert "env-no-value" in names


def decl_of(text: str, env: tuple[str, ...] = (), workdir: str = "", build_args: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    config = ImageConfig(env=env, working_dir=workdir)
    return declare(parse(text), base_config=config, build_args=build_args or {}, known_venvs=set())


def test_builder_default_path() -> None:
    bare = decl_of("FROM scratch\nCOPY a /a\n")
    assert bare.config["Env.PATH"].value == DEFAULT_PATH and bare.config["Env.PATH"].line == 1
    grown = decl_of("FROM x\nENV PATH=/opt/bin:$PATH\n")
    assert grown.config["Env.PATH"].value == f"/opt/bin:{DEFAULT_PATH}" and grown.env["PATH"].startswith("/opt/bin:")
    own = decl_of("FROM x\nENV PATH=/opt/bin:$PATH\n", env=("PATH=/usr/bin",))
    assert own.config["Env.PATH"].value == "/opt/bin:/usr/bin"  # the base's own PATH wins


def test_workdir_raw_and_clean() -> None:
    decl = decl_of('FROM x\nENV HOME=/home/app\nWORKDIR "${HOME}"\nWORKDIR sub/../lib/\nWORKDIR /srv/app/\n')
    assert [w.value for w in decl.workdirs] == ["/home/app", "/home/app/lib", "/srv/app"]
    assert decl.config["WorkingDir"].value == "/srv/app/" and decl.workdir_raw == "/srv/app/"
    assert decl.workdir == "/srv/app"
    relative = decl_of("FROM x\nWORKDIR app/\nCOPY a.txt .\n", workdir="/base/")
    assert relative.workdir_raw == "/base/app" and relative.copies[0].value.dest == "/base/app"


def test_args_and_substitution_resolved_once() -> None:
    text = (
        'ARG TAG="bookworm-slim"\nARG UNSET\nFROM debian:${TAG%%-*}\n'
        'ARG TAG\nARG a="1 2" b c=${a:+set}\nENV A=$a B="${b:-none}" C=$c T="$TAG" D=\\$a\n'
        'COPY ["${a%% *}.txt", "/dst/"]\n'  # COPY splits at blanks, quotes or not: JSON keeps one
    )
    build = resolve(parse(text), base_config=None, build_args={})
    assert build.base == "debian:bookworm"
    assert dict(build.stages[0].commands[2].pairs) == {
        "A": "1 2",
        "B": "none",
        "C": "",
        "T": "bookworm-slim",
        "D": "$a",
    }
    assert build.stages[0].commands[3].values == ("1.txt", "/dst/")
    other = resolve(parse(text), base_config=None, build_args={"TAG": "trixie-slim", "b": "given"})
    assert other.base == "debian:trixie" and dict(other.stages[0].commands[2].pairs)["B"] == "given"


def test_heredoc_scripts_are_read() -> None:
    decl = decl_of('FROM x\nRUN <<"EOF"\napt-get install -y jq\nEOF\nRUN <<-EOF\n\tapt-get install -y curl\n\tEOF\n')
    assert [a.value.name for a in decl.apt_install] == ["jq", "curl"]
    doc = parse("FROM x\nRUN <<-EOF\n\tx\n\tEOF\n").instructions[1].heredocs[0]
    assert heredoc_content(doc) == "x\n"


@pytest.mark.parametrize(
    "script, installs",
    [
        ("if [ -f /x ]; then apt-get install -y curl; fi", ["curl"]),
        ("if false; then :; elif true; then apt-get install -y a; else apt-get install -y b; fi", ["a", "b"]),
        ("for p in x y; do apt-get install -y jq; done", ["jq"]),
        ("while false; do apt-get install -y wget; done", ["wget"]),
        ("{ apt-get update; apt-get install -y git; }", ["git"]),
        ("( cd /tmp && apt-get install -y make )", ["make"]),
        ("! apt-get install -y vim", ["vim"]),
        (
            'case "$(dpkg --print-architecture)" in amd64|i386) apt-get install -y a;; *) apt-get install -y b;; esac',
            ["a", "b"],
        ),
        ("apt-get install -y tree 2>&1 >/dev/null | tee /tmp/log", ["tree"]),
    ],
)
def test_commands_after_reserved_words(script: str, installs: list[str]) -> None:
    assert [a.name for a in analyse(script).apt_install] == installs


def test_accounts_in_loops_and_quotes_kept() -> None:
    assert analyse("for u in a b; do useradd -m $u; done").accounts
    assert split_commands("echo 'a && b' \"$(x; y)\" c\\ d; e") == [["echo", "a && b", "$(x; y)", "c d"], ["e"]]
    found = analyse("cat <<EOF > /etc/app.conf\napt-get install -y not-a-command\nEOF\necho x 2>&1 >> /var/log/y")
    assert not found.apt_install and found.paths == ["/etc/app.conf", "/var/log/y"]


def test_ten_megabyte_word_is_linear() -> None:
    """Linearity guard (issue 8 item 8): shlex took 23 s for 1 MB and never ended for 10 MB."""
    word = "a" * 10_000_000
    text = (
        f"FROM x\nRUN echo {word} \\\n && apt-get install -y \"{word}\" '{word}'"
        f' && echo "$(echo {word})"\nENV A="{word}"\n'
    )
    start = time.monotonic()
    decl = decl_of(text)
    assert time.monotonic() - start < 20
    assert decl.config["Env.A"].value == word and [a.value.name for a in decl.apt_install] == [word, word]


def test_deep_nesting_is_refused_not_recursed() -> None:
    text = "FROM x\nENV A=" + "${A:-" * 5000 + "x" + "}" * 5000 + "\n"
    with pytest.raises(DockerfileError, match="nested more than"):
        decl_of(text)
    assert split_commands("echo " + "$(" * 100_000 + ")" * 100_000) == [["echo", "$(" * 100_000 + ")" * 100_000]]
