"""drift.dockerfile.escape and the snapshot's use of it: no value from an image can add an
instruction, and what is written passes hadolint (the engine round trip is in
tests/engine/test_snapshot_escape.py)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

import drift.snapshot.plan as snapshot
from drift.dockerfile import escape, generate
from drift.inventory import Inspection
from drift.model import BaseRef, FileChange, ImageConfig, Inventory, Target

ROOT = Path(__file__).resolve().parents[2]
HADOLINT = ROOT / ".venv" / "bin" / "hadolint"
INJECTED = "\nRUN touch /pwned\n"
AWKWARD = ['say "hi"', "back\\slash", "ends in \\", "two\\\\", "$HOME and ${X}", "it's", "tab\there", "ü – `x`"]


def hadolint(text: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    if not HADOLINT.exists():
        pytest.skip("hadolint is not installed (make venv)")
    path = tmp_path / "Dockerfile"
    path.write_text(text)
    return subprocess.run([str(HADOLINT), "--failure-threshold", "warning", str(path)], capture_output=True, text=True)


@pytest.mark.parametrize("value", AWKWARD)
def test_words_need_no_line_breaks(value: str) -> None:
    for text in (escape.env("X", value), escape.label("k", value), escape.word(value)):
        assert "\n" not in text


@pytest.mark.parametrize("value", ["a\nb", "a\rb", "x\x00y", "v\x1b[31m", "line\u2028sep"])
def test_control_characters_cannot_be_written_as_words(value: str) -> None:
    for write in (lambda: escape.env("X", value), lambda: escape.label("k", value), lambda: escape.sh(value)):
        with pytest.raises(escape.Unsafe):
            write()
    assert "\n" not in escape.comment(value) and "\r" not in escape.comment(value)


def test_keys_and_names_that_cannot_be_written() -> None:
    with pytest.raises(escape.Unsafe):
        escape.label("a=b", "v")
    with pytest.raises(escape.Unsafe):
        escape.env("A B", "v")
    assert escape.comment("ends with \\") == "ends with \\x5c"


@pytest.mark.parametrize("items", [AWKWARD, ["sh", "-c", 'echo "a\\"b"\nline2 $HOME'], ["\x01\x7f", ""]])
def test_json_form_reads_back_exactly(items: list[str]) -> None:
    text = escape.json_list(items)
    assert json.loads(text) == items
    assert "\n" not in text and '\\"' not in text


def _inspection(config: ImageConfig, files: tuple[FileChange, ...] = ()) -> Inspection:
    inv = Inventory(
        target=Target("container", "c\nRUN touch /pwned", "test"),
        base=BaseRef("drift-base:bookworm", None, "test", 1),
        apt=(),
        pip=(),
        environments=(),
        files=files,
        config=config,
        base_config=ImageConfig(env=("PATH=/usr/bin",), cmd=("bash",)),
        config_changes=(),
        package_changes=(),
        history=(),
    )
    return Inspection(inv, source=None, top=None, base=None)  # type: ignore[arg-type]


def _evil_config() -> ImageConfig:
    return ImageConfig(
        env=("PATH=/usr/bin", "EVIL=x" + INJECTED, "ODD=" + AWKWARD[0] + AWKWARD[1] + AWKWARD[4], "TAIL=c:\\"),
        cmd=("sh", "-c", 'echo "a\\"b"' + INJECTED + "echo $HOME"),
        entrypoint=("/entry\\point",),
        working_dir="/my app",
        user="root",
        labels=(("evil", "v" + INJECTED), ("odd", AWKWARD[3] + AWKWARD[2]), ("k=v", "x"), ("sp ace", "ok")),
    )


def test_snapshot_of_hostile_values_adds_no_instruction(tmp_path: Path) -> None:
    files = (
        FileChange("/srv/a\nRUN touch /pwned", "added", "file", 1, 0o644, 1000, 1000, "unexplained"),
        FileChange("/srv/gone\nRUN touch /pwned", "deleted", "file", 1, 0o644, 0, 0, "unexplained"),
    )
    plan = snapshot.plan(_inspection(_evil_config(), files), base=None, include_secrets=False)
    text = generate.render(plan)
    assert not [line for line in text.splitlines() if line.lstrip().startswith("RUN touch")]
    keys = {item.key for item in plan.left_out}
    assert {"Env.EVIL", "Labels.evil", "Labels.k=v", "/srv/a\nRUN touch /pwned"} <= keys
    assert "Cmd" not in keys  # the JSON form holds a newline
    assert 'ENV ODD="say \\"hi\\"back\\\\slash\\$HOME and \\${X}"' in text
    assert "ENV TAIL=\"c:\"\\\\''" in text and 'LABEL "sp ace"=ok' in text
    assert 'WORKDIR "/my app"' in text
    assert "# hadolint ignore=DL3002" in text.split("USER root")[0].splitlines()[-1]
    assert "container the container" not in text and any("docker commit" in n for n in plan.notes)
    proc = hadolint(text, tmp_path)
    assert proc.returncode == 0, proc.stdout + text


def test_cmd_and_entrypoint_overrides(tmp_path: Path) -> None:
    insp = _inspection(_evil_config())
    plan: Any = snapshot.plan(
        insp, base=None, include_secrets=False, cmd='["serve", "--port", "80"]', entrypoint="exec ./start"
    )
    text = generate.render(plan)
    assert 'CMD ["serve", "--port", "80"]' in text
    assert 'ENTRYPOINT ["/bin/sh", "-c", "exec ./start"]' in text
    assert {"Cmd", "Entrypoint"} <= {item.key for item in plan.left_out}
    assert hadolint(text, tmp_path).returncode == 0


def test_verify_file_detail_says_which_lines_differ() -> None:
    from drift.diff.file_lines import describe

    before = ["root:x:0:", "zeta:x:3002:bob", "alpha:x:3000:bob"]
    after = ["root:x:0:", "alpha:x:3000:bob", "zeta:x:3002:bob"]
    text = describe(before, after)
    assert text == (
        "same lines in another order: line 2 is 'zeta:x:3002:bob' in the original, 'alpha:x:3000:bob' in the rebuilt"
    )
    text = describe(["a=1", "b=2"], ["a=1", "b=3", "c\n"], ("Dockerfile's build", "image"))
    assert text == "only in the Dockerfile's build: 'b=2'; only in the image: 'b=3', 'c\\\\x0a'"


def test_copy_fix_uses_the_json_form_for_spaces_and_refuses_the_rest() -> None:
    assert escape.copy("etc/a.conf", "/etc/a.conf") == "COPY etc/a.conf /etc/a.conf"
    assert escape.copy("etc/my app/x y", "/etc/my app/x y") == 'COPY ["etc/my app/x y", "/etc/my app/x y"]'
    for bad in ("a$b", 'q"b', "a\nRUN touch /pwned", "back\\slash"):
        with pytest.raises(escape.Unsafe):
            escape.copy(bad, "/" + bad)


def test_drift_reads_back_what_it_writes() -> None:
    """The Dockerfile reader (what static `diff` compares) gets every written value exactly."""
    from drift.dockerfile.declared import declare
    from drift.dockerfile.parse import parse

    config = _evil_config()
    plan = snapshot.plan(_inspection(config), base=None, include_secrets=False)
    base = ImageConfig(env=("PATH=/usr/bin",), cmd=("bash",))
    decl = declare(parse(generate.render(plan), "Dockerfile"), base_config=base, build_args={}, known_venvs=set())
    flat = config.flat()
    for key in ("Env.ODD", "Env.TAIL", "Labels.odd", "Labels.sp ace", "Cmd", "Entrypoint", "WorkingDir", "User"):
        assert decl.config[key].value == flat[key], key
