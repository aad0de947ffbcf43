"""Shell completion: `drift completion bash|zsh|fish` prints the script, and the names of local
containers and images complete where a TARGET or IMAGE is expected.

The machinery is click's (as typer ships it): the script the shell sources runs `drift` again
with `_DRIFT_COMPLETE=complete_SHELL` and the words typed so far, and drift answers with the
candidates instead of running a command (`drift.console.run` registers the shells' classes
first). Commands, options and choices come from the command tree itself; a TARGET's
candidates are asked of the engine `drift` would talk to (`-H` when typed, else the one the
docker CLI picks) with a short deadline: an engine that is down or slow gives no names, never
an error or a wait.

bash gets a script of its own: typer's joins `COMP_WORDS`, which bash splits at every `:`, so
`drift inspect drift-base:bo<TAB>` would reach drift as three words. This one sends the line up
to the cursor (`COMP_LINE`, `COMP_POINT`) and answers relative to bash's current word, as
bash-completion's `__ltrim_colon_completions` does.
"""

from __future__ import annotations

import contextlib
import os
import threading
from enum import Enum
from typing import Any

COMPLETE_VAR = "_DRIFT_COMPLETE"
LINE_VAR = "_DRIFT_COMP_LINE"
ENGINE_DEADLINE = 2.0  # seconds a TAB may wait for the engine's lists

BASH_SCRIPT = """\
_drift_completion() {
    local IFS=$'\\n'
    COMPREPLY=( $( env %(line_var)s="${COMP_LINE:0:$COMP_POINT}" \\
                   COMP_WORDBREAKS="$COMP_WORDBREAKS" \\
                   COMP_WORDS="${COMP_WORDS[*]}" COMP_CWORD="$COMP_CWORD" \\
                   %(complete_var)s=complete_bash "$1" 2>/dev/null ) )
    return 0
}

complete -o default -F _drift_completion drift
"""


class Shell(str, Enum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


def script(shell: Shell) -> str:
    """The completion script for SHELL, ending in a newline."""
    if shell is Shell.bash:
        return BASH_SCRIPT % {"line_var": LINE_VAR, "complete_var": COMPLETE_VAR}
    from typer.completion import get_completion_script

    return get_completion_script(prog_name="drift", complete_var=COMPLETE_VAR, shell=shell.value) + "\n"


def requested() -> bool:
    """Whether this run answers a shell's completion request rather than running a command."""
    return bool(os.environ.get(COMPLETE_VAR))


def register_shells() -> None:
    """The shells' completion classes: typer's for zsh and fish, drift's own for bash."""
    from typer._click.shell_completion import add_completion_class
    from typer.completion import completion_init

    completion_init()
    add_completion_class(_bash_class(), Shell.bash.value)


def _bash_class() -> Any:
    from typer._click.shell_completion import split_arg_string
    from typer._completion_classes import BashComplete

    class LineBashComplete(BashComplete):  # type: ignore[misc]  # typer's classes are untyped
        """Reads the line up to the cursor; answers relative to bash's own current word."""

        def get_completion_args(self) -> tuple[list[str], str]:
            line = os.environ.get(LINE_VAR)
            if line is None:  # a script of typer's making: COMP_WORDS and COMP_CWORD
                return super().get_completion_args()  # type: ignore[no-any-return]
            words = split_arg_string(line)
            if not line or line[-1].isspace():
                words.append("")
            return words[1:-1], words[-1] if len(words) > 1 else ""

        def complete(self) -> str:
            args, incomplete = self.get_completion_args()
            values = [item.value for item in self.get_completions(args, incomplete)]
            breaks = os.environ.get("COMP_WORDBREAKS", "")
            # bash replaces only its current word, which starts after the last word-break
            # character (e.g. ':') of what was typed
            cut = max((incomplete.rfind(c) for c in set(breaks) if not c.isspace()), default=-1) + 1
            if cut:
                values = [v[cut:] for v in values if v.startswith(incomplete[:cut])]
            return "\n".join(values)

    return LineBashComplete


# --- names from the engine -------------------------------------------------------------------

CONTAINER_PREFIX = "container:"
IMAGE_PREFIX = "image:"


def targets(ctx: Any, incomplete: str) -> list[tuple[str, str]]:
    """Containers and images (names and tags) starting with INCOMPLETE; `container:` and
    `image:` narrow to one kind and stay in front of the name."""
    prefix = next((p for p in (CONTAINER_PREFIX, IMAGE_PREFIX) if incomplete.startswith(p)), "")
    rest = incomplete[len(prefix) :]
    found = _engine_names(_host(ctx))
    kinds = {CONTAINER_PREFIX: ("container",), IMAGE_PREFIX: ("image",)}.get(prefix, ("container", "image"))
    return [(prefix + name, help_) for name, kind, help_ in found if kind in kinds and name.startswith(rest)]


def images(ctx: Any, incomplete: str) -> list[tuple[str, str]]:
    """Local image tags starting with INCOMPLETE."""
    return [
        (name, help_)
        for name, kind, help_ in _engine_names(_host(ctx))
        if kind == "image" and name.startswith(incomplete)
    ]


def _host(ctx: Any) -> str | None:
    host = (getattr(ctx, "params", None) or {}).get("host")
    if isinstance(host, list):  # drift report: -H is repeatable; complete from the first
        host = host[0] if host else None
    return host if isinstance(host, str) and host else None


def _engine_names(host: str | None) -> list[tuple[str, str, str]]:
    """(name, kind, help) of the engine's containers and images; nothing when it does not
    answer within ENGINE_DEADLINE (the thread asking is left behind: the process ends next)."""
    box: list[list[tuple[str, str, str]]] = []

    def ask() -> None:
        with contextlib.suppress(BaseException):  # a completion offers names or nothing, never an error
            box.append(_ask_engine(host))

    worker = threading.Thread(target=ask, daemon=True)
    worker.start()
    worker.join(ENGINE_DEADLINE)
    return box[0] if box else []


def _ask_engine(host: str | None) -> list[tuple[str, str, str]]:
    from drift.sources import make_engine
    from drift.sources.contexts import current_endpoint

    if host:
        from drift.report.engines import host_endpoint

        endpoint = host_endpoint(host, "-H")
    else:
        endpoint = current_endpoint()
    engine = make_engine(endpoint, timeout=ENGINE_DEADLINE)
    try:
        api = engine.api
        containers = api.containers(all=True)
        image_list = api.images()
    finally:
        engine.close()
    out: dict[str, tuple[str, str, str]] = {}
    for c in containers:
        state = str(c.get("State") or "")
        names = [str(raw).lstrip("/") for raw in c.get("Names") or ()]
        # Docker lists a legacy link's alias (/web/db) beside the name; containerd's names
        # (NAMESPACE/POD/CONTAINER) have slashes of their own
        for name in [n for n in names if n and "/" not in n] or [n for n in names if n]:
            out.setdefault(name, (name, "container", f"container, {state or 'unknown state'}"))
    for image in image_list:
        for tag in image.get("RepoTags") or ():
            tag = str(tag)
            if tag and "<none>" not in tag:
                out.setdefault(tag, (tag, "image", "image"))
    return sorted(out.values())
