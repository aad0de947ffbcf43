r"""What drift prints on stderr: one line per message, whatever the message holds.

Errors, warnings and notes name things from images and archives (paths, names, values) and
from the command line, and both may hold a newline, an escape sequence or bytes that are not
UTF-8. Every such message goes through `printable` here, so it is ONE line that cannot move
the cursor or forge a second `drift:` line:

- a control character (C0, DEL, C1) is shown as `\xNN` (`\n` -> `\x0a`), as `comment()` in a
  Dockerfile and the progress display show it;
- a byte that was not UTF-8 (decoded with `surrogateescape`, so held as U+DC80..U+DCFF) is
  shown as `\xNN` too, the byte it stands for; any other lone surrogate as `\uXXXX`;
- line and paragraph separators (U+2028, U+2029) and the bidirectional overrides that can
  reorder what a terminal shows (U+202A..U+202E, U+2066..U+2069) as `\uXXXX`.

Everything else (other non-ASCII text included) is shown as it is.
"""

from __future__ import annotations

import re
import sys

_UNSHOWN = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _shown(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0xA0:
        return f"\\x{code:02x}"
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape: the byte that was not UTF-8
        return f"\\x{code - 0xDC00:02x}"
    return f"\\u{code:04x}"


def printable(text: str) -> str:
    """TEXT as one line a terminal shows as it is (see the module's rules)."""
    return _UNSHOWN.sub(_shown, text)


def line(kind: str, message: str) -> None:
    """Print `drift: KIND: MESSAGE` (or `drift: MESSAGE` when KIND is empty) as one line on stderr."""
    head = f"drift: {kind}: " if kind else "drift: "
    print(head + printable(message), file=sys.stderr, flush=True)


def error(message: str) -> None:
    line("error", message)


def warning(message: str) -> None:
    line("warning", message)
