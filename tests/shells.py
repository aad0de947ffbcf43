"""bash, zsh and fish completing a `drift` command line with their own completion machinery.

bash and zsh run interactively on a pseudo-terminal: the line is typed and TAB pressed, so the
shell itself splits the words (bash's COMP_WORDS, COMP_CWORD, COMP_LINE, COMP_POINT; zsh's
`words`, CURRENT) and calls the function `drift completion SHELL` registered. What it offers is
caught where it is handed to the shell: COMPREPLY after bash's function returns, every `compadd`
in zsh. fish answers `complete -C LINE` without a terminal.

zsh and fish are installed by scripts/shells.sh when missing (root, as in CI).
"""

from __future__ import annotations

import os
import pty
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 60.0  # seconds for one completion (the machine may be busy)


def find_shells(*, install: bool) -> bool:
    """Whether zsh and fish are here; with `install`, scripts/shells.sh installs Debian's when missing."""
    if shutil.which("zsh") and shutil.which("fish"):
        return True
    if not install:
        return False
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "shells.sh")], capture_output=True, text=True, timeout=1200)
    return proc.returncode == 0 and bool(shutil.which("zsh") and shutil.which("fish"))


def drift_env(folder: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """An environment whose PATH has a `drift` running this checkout with this Python."""
    bin_dir = folder / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    launcher = bin_dir / "drift"
    launcher.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m drift "$@"\n')
    launcher.chmod(0o755)
    env = dict(os.environ)
    env.update(extra or {})
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["HOME"] = str(folder)  # no user's rc files or zcompdump
    env["TERM"] = "dumb"
    return env


def script(shell: str, env: dict[str, str], folder: Path) -> Path:
    """`drift completion SHELL` written to a file."""
    proc = subprocess.run(["drift", "completion", shell], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    path = folder / f"drift.{shell}"
    path.write_text(proc.stdout)
    return path


def _bash_setup(source: Path, cap: Path) -> str:
    return f"""
source '{source}'
__drift_f=$(complete -p drift | sed -n 's/.* -F \\([^ ]*\\) .*/\\1/p')
_drift_capture() {{ "$__drift_f" "$@"; printf '%s\\n' "${{COMPREPLY[@]}}" > '{cap}.part'; mv '{cap}.part' '{cap}'; }}
complete -o default -F _drift_capture drift
echo ready > '{cap}.ready'
"""


def _zsh_setup(source: Path, cap: Path) -> str:
    # compadd's -O/-A/-D calls only filter (they add nothing): passed on untouched
    return f"""
autoload -U compinit && compinit -u -D
source '{source}'
compadd() {{
  if [[ ${{@[1,(i)(-|--)]}} == *-(O|A|D)\\ * ]]; then builtin compadd "$@"; return $?; fi
  local -a __hits
  builtin compadd -A __hits "$@"
  (( $#__hits )) && print -rl -- $__hits >> '{cap}.part'
  builtin compadd "$@"
}}
_drift_capture_done() {{ touch '{cap}.part'; mv '{cap}.part' '{cap}'; }}
_drift_capture_arm() {{ comppostfuncs=(_drift_capture_done) }}
compprefuncs=(_drift_capture_arm)
print ready > '{cap}.ready'
"""


def _interactive(argv: list[str], setup: str, line: str, cap: Path, env: dict[str, str]) -> list[str]:
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
    os.close(slave)
    seen: list[bytes] = []

    def drain() -> None:
        while select.select([master], [], [], 0.05)[0]:
            try:
                seen.append(os.read(master, 65536))
            except OSError:
                return

    def wait_for(path: Path) -> None:
        deadline = time.monotonic() + TIMEOUT
        while not path.exists():
            if time.monotonic() > deadline:
                tail = b"".join(seen)[-2000:].decode("utf-8", "replace")
                raise AssertionError(f"{argv[0]}: no {path.name} after {TIMEOUT:.0f} s; terminal:\n{tail}")
            drain()

    try:
        os.write(master, setup.encode())
        wait_for(cap.with_name(cap.name + ".ready"))
        os.write(master, (line + "\t").encode())
        wait_for(cap)
        os.write(master, b"\x15exit\n")  # ^U: the line typed is dropped, not run
        drain()
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return [w for w in cap.read_text().splitlines() if w]


def complete(shell: str, line: str, env: dict[str, str], folder: Path) -> list[str]:
    """What SHELL offers for LINE (the cursor at its end) with drift's completion script loaded."""
    source = script(shell, env, folder)
    cap = folder / f"offered-{shell}-{time.monotonic_ns()}"
    if shell == "bash":
        return _interactive(["bash", "--norc", "--noprofile", "-i"], _bash_setup(source, cap), line, cap, env)
    if shell == "zsh":
        return _interactive(["zsh", "-f", "-i"], _zsh_setup(source, cap), line, cap, env)
    if shell == "fish":
        proc = subprocess.run(
            ["fish", "--no-config", "-c", "source $argv[1]; complete -C $argv[2]", str(source), line],
            capture_output=True,
            text=True,
            env=env,
            timeout=TIMEOUT,
        )
        assert proc.returncode == 0, proc.stderr
        return [w.split("\t")[0] for w in proc.stdout.splitlines() if w]
    raise ValueError(shell)
