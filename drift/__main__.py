"""`python -m drift` and the `drift` script: an interrupt while drift starts prints one line, exit 130."""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from drift.cli import main as cli_main
    except KeyboardInterrupt:
        print("drift: interrupted", file=sys.stderr)
        raise SystemExit(130) from None
    cli_main()


if __name__ == "__main__":
    main()
