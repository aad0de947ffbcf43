"""Run a command with stderr on a real pseudo-terminal and stdout on a pipe (progress tests)."""

from __future__ import annotations

import os
import pty
import subprocess
import threading


def run_with_tty_stderr(argv: list[str], env: dict[str, str], *, timeout: float) -> tuple[int, str, str]:
    """Run ARGV with stderr on a pseudo-terminal, stdout on a pipe: (code, stdout, terminal)."""
    master, slave = pty.openpty()
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # the other end closed
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    proc = subprocess.run(
        argv, stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL, env=env, timeout=timeout, check=False
    )
    os.close(slave)
    reader.join(timeout=10)
    os.close(master)
    return proc.returncode, proc.stdout.decode(), b"".join(chunks).decode("utf-8", "replace")
