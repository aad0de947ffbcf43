"""Which Dockerfile line accounts for a path in the image.

COPY/ADD from the build context account for exactly the paths they place (and the folders
made to hold them); a COPY/ADD whose sources the context does not hold (a URL, `--from`, a
heredoc, an archive ADD unpacks, a context that is not there) accounts for everything under
its destination, as before. WORKDIR, venvs and the paths RUN lines write
(the homes account commands make among them) account for the rest.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from dataclasses import dataclass

from drift.dockerfile.context import BuildContext, CopySpec
from drift.dockerfile.declared import At, Declaration
from drift.sources.fs import View

_VARIABLE = re.compile(r"\$\{[^}/]*\}|\$[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True, slots=True)
class Placed:
    """A path a COPY/ADD put in the image from the build context."""

    rel: str  # its path in the context
    line: int
    spec: CopySpec


class Coverage:
    def __init__(self, decl: Declaration, context: BuildContext | None, view: View) -> None:
        self.decl = decl
        self.placed: dict[str, Placed] = {}
        self.opaque: list[At] = []  # copies whose content is not known: cover their whole destination
        self.parents: dict[str, int] = {}
        for at in decl.copies:
            spec: CopySpec = at.value
            mapping = context.place(spec, lambda p: _is_dir(view, p)) if context is not None else None
            if mapping is None:
                self.opaque.append(at)
                mapping = {spec.dest: ""}
            for path, rel in mapping.items():
                if rel:
                    self.placed[path] = Placed(rel, at.line, spec)
                parent = posixpath.dirname(path)
                while parent not in ("/", "") and parent not in self.parents:
                    self.parents[parent] = at.line
                    parent = posixpath.dirname(parent)
            self.parents.setdefault(spec.dest, at.line)

    def line(self, path: str) -> int | None:
        """The line that accounts for a path, or None."""
        placed = self.placed.get(path)
        if placed is not None:
            return placed.line
        for at in self.opaque:
            dest = at.value.dest
            if path == dest or path.startswith(dest.rstrip("/") + "/"):
                return at.line
        if path in self.parents:
            return self.parents[path]
        return self.written(path, after=0) or self._other(path)

    def written(self, path: str, *, after: int, content: bool = False) -> int | None:
        """A RUN line after `after` that names this path, a folder of it, or a glob matching it
        (`content`: only lines that may change what it holds, not just its owner or mode)."""
        return written(self.decl, path, after=after, content=content)

    def _other(self, path: str) -> int | None:
        for at in self.decl.workdirs + self.decl.venvs:
            if path == at.value or (at in self.decl.venvs and path.startswith(at.value + "/")):
                return at.line
            if at.value.startswith(path + "/"):  # parents a WORKDIR created
                return at.line
        return None  # account files: grouped under the account changes (drift.inventory.accounts)


def written(decl: Declaration, path: str, *, after: int, content: bool = False) -> int | None:
    """Coverage.written without a build context: the first RUN line after AFTER naming PATH."""
    for at in decl.paths if content else decl.paths + decl.meta_paths:
        if at.line <= after:
            continue
        pattern = _VARIABLE.sub("*", at.value)  # `ln -s ... /usr/local/bin/$dst`: any name there
        if path == pattern or path.startswith(pattern.rstrip("/") + "/") or fnmatch.fnmatchcase(path, pattern):
            return at.line
        if pattern.startswith(path + "/"):  # a folder made to hold what a RUN wrote
            return at.line
    return None


def _is_dir(view: View, path: str) -> bool:
    entry = view.entries.get(view.resolve(path)) if path in view.entries else None
    return entry is not None and entry.kind == "dir"
