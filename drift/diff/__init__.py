"""`drift diff ACTUAL EXPECTED`: an image audited against the Dockerfile that claims to describe
it, or against another target.

    modes.py       the audit: static (the Dockerfile read against the image's layers and history),
                   --build (built and compared), or target against target; its findings
    command.py     the command's glue: --build-arg, --fail-on, .driftignore/--ignore, --fix/--patch
    file_lines.py  what differs inside a file two inspections hold with different content (also
                   used by the rebuild check of `snapshot --verify`)
"""
