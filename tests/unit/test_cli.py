"""The command line a person meets: help, option mistakes, --debug, interrupts (no engine needed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_drift


def one_error_line(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert proc.returncode == 2, proc.stderr + proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("drift: error: ")
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def test_help_reads_like_a_standard_cli() -> None:
    out = run_drift("diff", "--help", check=0).stdout
    assert out.startswith("Usage: drift diff [OPTIONS] ACTUAL EXPECTED\n")
    for shown in (
        "--network NAME",
        "--build-arg KEY=VALUE",
        "-f, --format FORMAT",
        "--base IMAGE",
        "-o, --output FILE",
    ):
        assert shown in out, shown
    assert "table, json, markdown, sarif, junit" in " ".join(out.split())  # (wrapped as the columns fall)
    for typer_noise in ("<bool>", "<str>", "list[str]", "{actual}", "╭", "│"):
        assert typer_noise not in out, typer_noise
    flag = next(line for line in out.splitlines() if line.strip().startswith("--build "))
    assert "--build " in flag and "BUILD" not in flag.split("Build")[0]


@pytest.mark.parametrize("args", [("-h",), ("diff", "-h"), ("snapshot", "-h"), ("inspect", "-h"), ("cache", "-h")])
def test_short_help_everywhere(args: tuple[str, ...]) -> None:
    proc = run_drift(*args, check=0)
    assert proc.stdout.startswith("Usage: drift") and "-h, --help" in proc.stdout
    assert proc.stderr == ""


def test_top_level_help_lists_commands() -> None:
    out = run_drift("--help", check=0).stdout
    assert out.startswith("Usage: drift [OPTIONS] COMMAND [ARGS]...")
    assert all(f"\n  {name} " in out for name in ("inspect", "snapshot", "diff", "cache"))


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (("diff", "--bogus", "a", "b"), ("no such option: --bogus", "drift diff --help")),
        (("diff", "a", "b", "--format", "xml"), ("'--format'", "'xml'", "sarif")),
        (("inspect", "-f", "yaml", "x"), ("'yaml'", "drift inspect --help")),
        (("diff", "a"), ("missing argument 'EXPECTED'",)),
        (("diff", "a", "b", "--network"), ("--network", "requires an argument")),
        (("frobnicate",), ("no such command 'frobnicate'",)),
        (("snapshot",), ("missing argument 'TARGET'",)),
    ],
)
def test_option_mistakes_are_one_line(args: tuple[str, ...], needles: tuple[str, ...]) -> None:
    proc = run_drift(*args)
    one_error_line(proc, *needles)
    assert proc.stdout == ""


def test_debug_keeps_the_exit_code(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"\x00" * 3000)
    plain = run_drift("inspect", str(junk))
    one_error_line(plain)
    debug = run_drift("--debug", "inspect", str(junk))
    assert debug.returncode == 2, debug.stderr
    assert "Traceback" in debug.stderr
    assert debug.stderr.strip().splitlines()[-1] == plain.stderr.strip()


def test_fix_and_patch_together_are_refused(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM scratch\n")
    proc = run_drift("diff", "image:x", str(dockerfile), "--fix", "--patch")
    one_error_line(proc, "--fix", "--patch")
    assert dockerfile.read_text() == "FROM scratch\n"


def test_missing_dockerfile_says_no_such_file(tmp_path: Path) -> None:
    for name in (tmp_path / "nope" / "Dockerfile", tmp_path / "app.dockerfile", "./not-here/Dockerfile"):
        proc = run_drift("diff", "image:x", str(name))
        line = one_error_line(proc, "no such file", str(name))
        assert "--base" not in line


# An interrupt while drift's modules load: a finder that raises KeyboardInterrupt when typer is
# imported stands for Ctrl-C at that moment (deterministic, unlike a timed signal).
_INTERRUPT_AT_IMPORT = """
import sys
class Boom:
    def find_spec(self, name, path=None, target=None):
        if name == "typer":
            raise KeyboardInterrupt
        return None
sys.meta_path.insert(0, Boom())
sys.argv = ["drift", "--help"]
from drift.__main__ import main
main()
"""


def test_interrupt_during_start_up_prints_no_traceback() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _INTERRUPT_AT_IMPORT],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=dict(os.environ),
        timeout=60,
    )
    assert proc.returncode == 130, proc.stderr
    assert proc.stderr.strip() == "drift: interrupted"


def test_a_sub_app_added_with_a_bare_typer_gets_plain_help(capsys: pytest.CaptureFixture[str]) -> None:
    """Commands others register later (a plain typer.Typer() group) look like the rest."""
    import typer

    from drift.console import DriftTyper, run

    app = DriftTyper(context_settings={"help_option_names": ["-h", "--help"]})
    sub = typer.Typer(help="A group someone added.")
    app.add_typer(sub, name="report")

    @sub.command()
    def show(store: str = typer.Option(None, "--store", metavar="URL", help="Where runs are kept.")) -> None:
        """Show the report."""

    assert run(app, ["report", "show", "-h"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Usage: drift report show [OPTIONS]") and "--store URL" in out and "╭" not in out
    assert run(app, ["report", "-h"]) == 0
    assert "Commands:" in capsys.readouterr().out
    assert run(app, ["report", "show", "--nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("drift: error: no such option: --nope") and err.count("\n") == 1


def test_no_build_cache_without_build_is_refused(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    proc = run_drift("diff", "some-image", str(tmp_path / "Dockerfile"), "--no-build-cache")
    one_error_line(proc, "--no-build-cache", "--build")
