"""Evidence from the image's own history: which Dockerfile line made which layer.

Every layer a build makes records the instruction that made it (the history's `created_by`).
The classic builder writes a RUN as the command it ran (`|2 A=1 B=2 /bin/sh -c make`: the
build args in effect first) and a COPY/ADD as `/bin/sh -c #(nop) COPY file:<hash> in /dest `;
BuildKit writes `RUN |1 A=1 /bin/sh -c make # buildkit` and `COPY --chmod=0755 a /dest # buildkit`.

The history rows that made a layer (not `empty_layer`), above the base's rows, are matched in
order with the final stage's layer-making instructions (RUN, COPY, ADD, and BuildKit's WORKDIR).
The first row that matches no instruction (a `docker commit`, another revision of the file)
ends the matched part: no layer from there up is "made by" any line. The history text is the
image's own claim and can be forged; `drift diff --build` never reads it and
`--no-history-evidence` turns it off (README, threat model).
"""

from __future__ import annotations

import functools
import posixpath
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from drift.dockerfile.parse import Dockerfile
from drift.dockerfile.resolve import Build, Command, resolve
from drift.inventory import Inspection
from drift.sources import RawHistory
from drift.sources.fs import View

BUILDKIT = "# buildkit"
_LAYERED = ("RUN", "COPY", "ADD", "WORKDIR")
# the classic builder writes a COPY's flags glued to the source (`COPY --chown=a:bdir:<hash> in .venv`)
_CLASSIC_COPY = re.compile(
    r"^(?P<shell>.*?) #\(nop\) (?P<kw>COPY|ADD) (?:--[a-z-]+=\S*? ?)*(?:file|dir|multi):[0-9a-f]+ in (?P<dest>.*)$"
)
_BUILDKIT_COPY_FLAGS = re.compile(r"^(?:--(?:parents|chown=\S*|chmod=\S*|link|from=\S*) )*")
_ARGS = re.compile(r"^\|(\d+) ")


@dataclass(frozen=True, slots=True)
class Made:
    """A layer the history says one Dockerfile line made."""

    layer: int  # index in the source's layers (bottom first)
    line: int
    keyword: str  # RUN, COPY, ADD or WORKDIR
    dest: str | None = None  # COPY/ADD/WORKDIR: the absolute destination, cleaned

    def explains(self, path: str) -> bool:
        """Whether this layer's line accounts for a change of PATH in its layer: anything for a
        RUN; for COPY/ADD/WORKDIR only the destination, what is under it and the folders made
        to hold it."""
        if self.keyword == "RUN":
            return True
        dest = self.dest or "/"
        return dest == "/" or path == dest or path.startswith(dest + "/") or dest.startswith(path + "/")

    def reason(self) -> str:
        return f"written by line {self.line}'s {self.keyword} (image history)"


@dataclass(frozen=True, slots=True)
class Evidence:
    """Which layers the history ties to a line; `stop` says where matching ended and why."""

    made: dict[int, Made]
    stop: str | None = None  # why matching ended before the top layer (None: every layer matched)

    def layer_of(self, view: View, path: str, deleted: bool) -> int | None:
        """The layer that last changed PATH: the one holding it, or for a deleted path the last
        layer that whited it (or a folder of it) out."""
        if not deleted:
            return view.layer_of.get(path)
        for index in range(len(view.scans) - 1, -1, -1):
            scan = view.scans[index]
            if path in scan.whiteouts or path in scan.entries:
                return index
            if any(path.startswith(folder.rstrip("/") + "/") for folder in [*scan.whiteouts, *scan.opaque]):
                return index
        return None

    def explaining(self, view: View, path: str, deleted: bool = False) -> Made | None:
        """The line whose layer accounts for PATH's change, or None."""
        index = self.layer_of(view, path, deleted)
        made = self.made.get(index) if index is not None else None
        return made if made is not None and made.explains(path) else None

    def after_build(self, view: View, path: str, deleted: bool = False) -> bool:
        """Whether PATH last changed in a layer above every layer the history ties to a line
        (a `docker commit`, a container's own layer): no line of the build wrote it there."""
        if not self.made:
            return False
        index = self.layer_of(view, path, deleted)
        return index is not None and index > max(self.made)

    def to_json(self) -> dict[str, object]:
        return {
            "layers": {str(k): {"line": m.line, "instruction": m.keyword} for k, m in sorted(self.made.items())},
            "stopped": self.stop,
        }


def layer_rows(
    history: Sequence[RawHistory], layers: int, folders_only: Callable[[int, str], bool] | None = None
) -> list[int | None] | None:
    """For each history row, the index of the layer it made (None for a row that made none);
    None when the rows and the layers do not add up. The engine's API does not say which rows
    made no layer (drift guesses from the size), so a BuildKit row (`# buildkit`: RUN/COPY/ADD,
    each recorded with a layer; then WORKDIR, a mkdir) counts as one when the guess does not add
    up. The classic builder's WORKDIR makes a layer when it created the folder, recorded with
    size 0: with FOLDERS_ONLY (whether layer I holds nothing but the folder P and its parents)
    such a row is given the layer it made."""
    if folders_only is not None and sum(not row.empty_layer for row in history) < layers:
        made = _classic_workdirs(history, layers, folders_only)
        if made is not None:
            return _indexes(made)
    for made in (
        [not row.empty_layer for row in history],
        [not row.empty_layer or _buildkit_layer(row, workdir=False) for row in history],
        [not row.empty_layer or _buildkit_layer(row, workdir=True) for row in history],
    ):
        if sum(made) == layers:
            return _indexes(made)
    return None


def _indexes(made: Sequence[bool]) -> list[int | None]:
    out: list[int | None] = []
    index = 0
    for has_layer in made:
        out.append(index if has_layer else None)
        index += has_layer
    return out


_CLASSIC_WORKDIR = re.compile(r"^/bin/sh -c #\(nop\) WORKDIR (?P<dest>.+)$")


def _classic_workdirs(
    history: Sequence[RawHistory], layers: int, folders_only: Callable[[int, str], bool]
) -> list[bool] | None:
    """Rows in order: a sized row made a layer; a classic WORKDIR row without size made one when
    the next layer holds only its folder (and the rows left still fit the layers left)."""
    made: list[bool] = []
    index = 0
    for i, row in enumerate(history):
        has = not row.empty_layer
        workdir = _CLASSIC_WORKDIR.match(_norm(row.created_by))
        if not has and workdir is not None and index < layers:
            after = sum(not r.empty_layer for r in history[i + 1 :])
            has = layers - index > after and folders_only(index, _clean(workdir["dest"]))
        made.append(has)
        index += has
    return made if index == layers else None


def _buildkit_layer(row: RawHistory, *, workdir: bool) -> bool:
    """A row BuildKit recorded with a layer: RUN/COPY/ADD (`# buildkit`), WORKDIR (a mkdir)."""
    if row.created_by.rstrip().endswith(BUILDKIT):
        return True
    return workdir and row.comment == "buildkit.dockerfile.v0" and row.created_by.startswith("WORKDIR ")


def match(
    history: Sequence[RawHistory], base_rows: int, layers: int, build: Build, rows: list[int | None] | None = None
) -> Evidence:
    """The layers above the base that the history says the final stage's lines made, in order."""
    rows = rows if rows is not None else layer_rows(history, layers)
    if rows is None:
        return Evidence({}, f"the image's history does not add up to its {layers} layers")
    commands, arg_names = _layered(build)
    made: dict[int, Made] = {}
    j = 0
    for i in range(base_rows, len(history)):
        index = rows[i]
        if index is None:
            continue
        row = history[i]
        found = None
        while j < len(commands) and found is None:
            command = commands[j]
            j += 1
            if _matches(row.created_by, command, arg_names[j - 1]):
                found = command
            elif not _may_skip(command, row.created_by):
                break
        if found is None:
            return Evidence(made, f"layer {index + 1} ({_short(row.created_by)}) matches no line of the Dockerfile")
        made[index] = Made(index, found.line, found.keyword, _dest(found))
    return Evidence(made)


def _layered(build: Build) -> tuple[list[Command], list[frozenset[str]]]:
    """The instructions that may make a layer, root stage first, with the ARG names declared
    before each (BuildKit carries a parent stage's ARGs into the stage built FROM it)."""
    commands: list[Command] = []
    names: list[frozenset[str]] = []
    declared: set[str] = set()
    for stage in build.stages:
        for command in stage.commands:
            if command.keyword == "ARG":
                declared.update(word.partition("=")[0] for word in command.inst.words)
            elif command.keyword in _LAYERED:
                commands.append(command)
                names.append(frozenset(declared))
    return commands, names


def _may_skip(command: Command, created_by: str) -> bool:
    """An instruction that made no layer: a WORKDIR (a layer only when BuildKit made the folder),
    or any line under BuildKit (a step that changed nothing leaves no layer)."""
    return command.keyword == "WORKDIR" or created_by.rstrip().endswith(BUILDKIT)


def _matches(created_by: str, command: Command, arg_names: frozenset[str]) -> bool:
    text = created_by.strip()
    buildkit = text.endswith(BUILDKIT)
    if buildkit:
        text = text[: -len(BUILDKIT)].rstrip()
    if command.keyword == "RUN":
        if buildkit:
            if not text.startswith("RUN "):
                return False
            text = text[4:]
        return _run_matches(text, command, arg_names)
    if command.keyword == "WORKDIR":
        classic = _CLASSIC_WORKDIR.match(text)
        if classic is not None:
            return _clean(classic["dest"].strip()) == command.workdir
        return buildkit is False and text.startswith("WORKDIR ") and _clean(text[8:].strip()) == command.workdir
    if buildkit:
        return _buildkit_copy(text, command)
    found = _CLASSIC_COPY.match(text)
    if found is None or not command.values or found["kw"] != command.keyword:
        return False
    return _norm(found["shell"]) == _norm(" ".join(command.shell)) and found["dest"].strip() == command.values[-1]


def _buildkit_copy(text: str, command: Command) -> bool:
    if not text.startswith(command.keyword + " ") or not command.values:
        return False
    rest = _BUILDKIT_COPY_FLAGS.sub("", text[len(command.keyword) + 1 :])
    if command.values[0] == "<<heredoc>>":
        return _norm(rest).endswith(" " + _norm(command.values[-1]))
    return _norm(rest) == _norm(" ".join(command.values))


def _run_matches(text: str, command: Command, arg_names: frozenset[str]) -> bool:
    """`[|N K=V ...] BODY`: BODY is the shell and the script as written (or the exec form's
    words); the K=V are N build args, each an ARG the Dockerfile declared before the line
    (their values are what the build was given: not compared)."""
    inst = command.inst
    body = " ".join(inst.json) if inst.json is not None else " ".join(command.shell) + " " + inst.args
    text, body = _norm(text), _norm(body)
    args = _ARGS.match(text)
    if args is None:
        return text == body or (bool(inst.heredocs) and text.startswith(body))
    count, rest = int(args[1]), text[args.end() :]
    at = rest.rfind(body) if inst.heredocs else (len(rest) - len(body) if rest.endswith(body) else -1)
    if at < 0 or (at > 0 and rest[at - 1] != " "):
        return False
    return _args_ok(rest[:at].strip(), count, arg_names)


def _args_ok(items: str, count: int, names: frozenset[str]) -> bool:
    if count == 0:
        return items == ""
    if not names:
        return False
    keys = "|".join(re.escape(k) for k in sorted(names, key=len, reverse=True))
    starts = [m.start() for m in re.finditer(rf"(?:^| )(?:{keys})=", items)]
    return bool(starts) and starts[0] == 0 and len(starts) == count


def _dest(command: Command) -> str | None:
    if command.keyword == "WORKDIR":
        return command.workdir
    if command.keyword in ("COPY", "ADD") and command.values:
        dest = command.values[-1]
        return _clean(dest if dest.startswith("/") else posixpath.join(command.workdir, dest))
    return None


def _clean(path: str) -> str:
    return posixpath.normpath("/" + path.lstrip("/")) if path else "/"


def _norm(text: str) -> str:
    return " ".join(text.split())


def _short(text: str, limit: int = 80) -> str:
    """A history row as a message shows it: the classic builder's build-arg prefix (`|2 TOKEN=...
    KEY=... /bin/sh -c ...`) holds the build args' values, which are never shown."""
    from drift.secrets import redact_text

    text = _norm(text)
    if text.startswith("|"):
        count, _, rest = text[1:].partition(" ")
        shell = rest.find("/bin/sh -c")
        text = f"|{count} (build args not shown) " + (rest[shell:] if shell >= 0 else "...")
    text = redact_text(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def from_inspection(insp: Inspection, df: Dockerfile, build_args: Mapping[str, str]) -> Evidence:
    """The evidence for a static audit: the target's history (an image's, or a container's
    image's: the container's own layer matches nothing) against the Dockerfile's final stage."""
    source, inv = insp.source, insp.inventory
    layers = source.base_layers if source.base_layers is not None else len(source.layers)
    base_rows = sum(1 for h in inv.history if h.in_base)
    if not source.history or layers == 0:
        return Evidence({}, "the image records no history")
    rows = layer_rows(source.history, layers, functools.partial(_folders_only, insp.top))
    base_layers = sum(1 for index in (rows or [])[:base_rows] if index is not None)
    if rows is not None and inv.base is not None and base_layers != inv.base.layers:
        return Evidence({}, f"the image's history does not start with its base's {inv.base.layers} layers")
    build = resolve(df, base_config=inv.base_config, build_args=build_args)
    return match(source.history, base_rows, layers, build, rows)


def _folders_only(view: View, index: int, path: str) -> bool:
    """Whether layer INDEX holds nothing but folders on the way to PATH (a WORKDIR's mkdir)."""
    if index >= len(view.scans):
        return False
    scan = view.scans[index]
    if scan.whiteouts or not scan.entries:
        return False
    return all(e.kind == "dir" and (p == path or path.startswith(p.rstrip("/") + "/")) for p, e in scan.entries.items())
