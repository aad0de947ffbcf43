"""What a failed `docker build` tells a person: the end of its log, and the network hint.

The error itself stays one line (`drift: error: docker build of DIR failed: ...`); the last
lines of the build's output come before it on stderr, so the reason is on screen. When the
log shows that apt or pip could not reach the network, the line says to retry with
`--network host` (the engine's default bridge often has no route to package mirrors).
"""

from __future__ import annotations

import re

from drift.errors import BuildFailed

TAIL_LINES = 15

# What apt, pip, curl and the resolver print when the build container has no network.
_OFFLINE = re.compile(
    r"Temporary failure (resolving|in name resolution)|Could not resolve|Network is unreachable"
    r"|NewConnectionError|Max retries exceeded|Failed to establish a new connection"
    r"|Could not connect to|Connection timed out|No route to host"
)


_COLOUR = re.compile(r"\x1b\[[0-9;]*m")


def tail(log: list[str], count: int = TAIL_LINES) -> tuple[str, ...]:
    """The last COUNT non-empty lines of a build's output, colours removed, control characters escaped."""
    text = _COLOUR.sub("", "".join(log[-400:]))  # chunks can split a line: join before splitting
    lines = [line.rstrip() for line in text.splitlines()]
    lines = [line for line in lines if line.strip()]
    return tuple(_printable(line) for line in lines[-count:])


def _printable(text: str) -> str:
    text = text[:500]
    return text if text.isprintable() else "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def offline(log: list[str]) -> bool:
    return any(_OFFLINE.search(chunk) for chunk in log)


def build_failed(context: str, reason: str, log: list[str], network: str | None) -> BuildFailed:
    """The error for a failed build: one line, with the log's tail attached for the CLI to show."""
    message = f"docker build of {context} failed: {_printable(' '.join(reason.split()))[-400:]}"
    if offline([*log, reason]) and network != "host":
        message += "; the build could not reach the network: retry with --network host"
    exc = BuildFailed(message)
    exc.log_tail = tail(log)
    return exc
