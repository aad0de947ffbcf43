"""The build context: which of its files a COPY/ADD puts where in the image.

A COPY/ADD from the context copies exactly the context's files under its sources that
`.dockerignore` lets through, with Docker's rules: a folder source copies what it holds, a
file source lands at the destination, or inside it when the destination ends with `/`, is
an existing folder, or several sources are copied; sources may be globs (`*`, `?`, `[..]`,
per path segment). `.dockerignore` patterns are cleaned paths relative to the context with
`*`, `?`, `**` and `!` exceptions; the last pattern that matches a path or one of its
parents decides. What the context does not hold (a URL, `--from`, a heredoc, an archive that
ADD unpacks, a source that is not there) is not placed: the audit falls back to coverage.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import posixpath
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass

_ARCHIVE = re.compile(r"\.(tar|tgz|tbz2?|txz|tar\.(gz|bz2|xz|zst|lz4))$")
_MAX_ENTRIES = 500_000
_COMPRESSED = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd", b"\x04\x22\x4d\x18")


@dataclass(frozen=True, slots=True)
class CopySpec:
    """One COPY/ADD as the builder reads it."""

    keyword: str  # COPY or ADD
    sources: tuple[str, ...]
    dest: str  # absolute and cleaned
    dest_is_dir: bool  # written with a trailing slash, or `.`
    from_stage: str | None = None
    chown: bool = False
    chmod: bool = False


@dataclass(frozen=True, slots=True)
class ContextEntry:
    rel: str  # path inside the context, '/'-separated
    kind: str  # file, dir, symlink
    mode: int
    size: int


# -- .dockerignore ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IgnoreRule:
    regex: re.Pattern[str]
    exclude: bool  # False for a `!` exception


def parse_dockerignore(text: str) -> list[IgnoreRule]:
    rules = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exclude = not line.startswith("!")
        pattern = line[1:].strip() if not exclude else line
        pattern = posixpath.normpath(pattern) if pattern else pattern
        pattern = pattern.lstrip("/")
        if not pattern or pattern == ".":
            continue
        rules.append(IgnoreRule(re.compile(_pattern_regex(pattern)), exclude))
    return rules


def _pattern_regex(pattern: str) -> str:
    """A .dockerignore pattern as a regex (moby's patternmatcher rules)."""
    out = "^"
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*" and pattern[i + 1 : i + 2] == "*":
            i += 2
            if pattern[i : i + 1] == "/":
                i += 1
            out += ".*" if i >= len(pattern) else "(.*/)?"
            continue
        if ch == "*":
            out += "[^/]*"
        elif ch == "?":
            out += "[^/]"
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out += re.escape(ch)
            else:
                body = pattern[i + 1 : end]
                out += "[" + ("^" + body[1:] if body.startswith("^") else body) + "]"
                i = end
        elif ch == "\\" and i + 1 < len(pattern):
            i += 1
            out += re.escape(pattern[i])
        else:
            out += re.escape(ch)
        i += 1
    return out + "$"


def is_ignored(rel: str, rules: list[IgnoreRule]) -> bool:
    """Does .dockerignore leave this path out? The last rule matching it or a parent decides."""
    candidates = [rel]
    parent = posixpath.dirname(rel)
    while parent:
        candidates.append(parent)
        parent = posixpath.dirname(parent)
    ignored = False
    for rule in rules:
        if any(rule.regex.match(c) for c in candidates):
            ignored = rule.exclude
    return ignored


# -- the context -------------------------------------------------------------------------------


class BuildContext:
    """A build context folder, read lazily: only the folders a COPY/ADD names are walked."""

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)
        self._walked: dict[str, dict[str, ContextEntry]] = {}
        self._looked: dict[str, ContextEntry | None] = {}
        self.rules: list[IgnoreRule] = []
        ignore = os.path.join(self.root, ".dockerignore")
        if os.path.isfile(ignore):
            with open(ignore, encoding="utf-8", errors="replace") as fh:
                self.rules = parse_dockerignore(fh.read())

    @property
    def entries(self) -> dict[str, ContextEntry]:
        """Every path of the context that .dockerignore lets through."""
        return self.under("")

    def entry(self, rel: str) -> ContextEntry | None:
        """One path of the context ('/'-separated, cleaned), or None if absent or ignored."""
        if rel not in self._looked:
            found = None
            if rel and not is_ignored(rel, self.rules):
                found = _entry(os.path.join(self.root, rel), rel)
            self._looked[rel] = found
        return self._looked[rel]

    def under(self, folder: str) -> dict[str, ContextEntry]:
        """The paths below a folder of the context (walked once, without following links)."""
        if folder not in self._walked:
            self._walked[folder] = self._walk(folder)
        return self._walked[folder]

    def _walk(self, folder: str) -> dict[str, ContextEntry]:
        out: dict[str, ContextEntry] = {}
        start = os.path.join(self.root, folder) if folder else self.root
        for top, dirs, files in os.walk(start, followlinks=False):
            rel_top = os.path.relpath(top, self.root).replace(os.sep, "/")
            rel_top = "" if rel_top == "." else rel_top
            for name in sorted(dirs) + sorted(files):
                rel = f"{rel_top}/{name}" if rel_top else name
                if is_ignored(rel, self.rules):
                    continue
                entry = _entry(os.path.join(top, name), rel)
                if entry is not None:
                    out[rel] = entry
            if len(out) > _MAX_ENTRIES:
                break
        return out

    def sha256(self, rel: str) -> str | None:
        try:
            with open(os.path.join(self.root, rel), "rb") as fh:
                digest = hashlib.sha256()
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(chunk)
                return digest.hexdigest()
        except OSError:
            return None

    def matches(self, source: str) -> list[str] | None:
        """Context paths a COPY source names ('' is the context itself); None if it is not there."""
        clean = posixpath.normpath("/" + source.replace("\\", "/")).lstrip("/")
        if clean in ("", "."):
            return [""]
        if any(ch in clean for ch in "*?["):
            fixed = clean[: min(clean.find(ch) for ch in "*?[" if ch in clean)]
            folder = posixpath.dirname(fixed)
            holder = self.entry(folder) if folder else None
            if folder and (holder is None or holder.kind != "dir"):
                return None
            hits = [rel for rel in self.under(folder) if _glob_match(rel, clean)]
            return sorted(hits) or None
        return [clean] if self.entry(clean) is not None else None

    def place(self, spec: CopySpec, image_is_dir: Callable[[str], bool]) -> dict[str, str] | None:
        """Image path -> context path for what one COPY/ADD copies; None when the context
        does not hold it (then nothing is known about what the instruction copied)."""
        if spec.from_stage is not None:
            return None
        found: list[str] = []
        for src in spec.sources:
            if src.startswith(("<<", "http://", "https://", "git@")) or "://" in src:
                return None
            if spec.keyword == "ADD" and _ARCHIVE.search(src):
                return None
            hits = self.matches(src)
            if hits is None or (spec.keyword == "ADD" and any(self._archive(rel) for rel in hits)):
                return None  # ADD unpacks a local tar archive, whatever its name
            found += hits
        into = spec.dest_is_dir or len(found) > 1 or image_is_dir(spec.dest)
        out: dict[str, str] = {}
        for rel in found:
            entry = self.entry(rel)
            if rel == "" or (entry is not None and entry.kind == "dir"):
                prefix = f"{rel}/" if rel else ""
                for sub in self.under(rel):
                    out[posixpath.join(spec.dest, sub[len(prefix) :])] = sub
            else:
                out[posixpath.join(spec.dest, posixpath.basename(rel)) if into else spec.dest] = rel
        return out

    def _archive(self, rel: str) -> bool:
        entry = self.entry(rel)
        if entry is None or entry.kind != "file":
            return False
        try:
            with open(os.path.join(self.root, rel), "rb") as fh:
                head = fh.read(512)
        except OSError:
            return False
        return head.startswith(_COMPRESSED) or head[257:262] == b"ustar"


def _glob_match(rel: str, pattern: str) -> bool:
    """Go's filepath.Match: wildcards never cross a '/'."""
    parts, pats = rel.split("/"), pattern.split("/")
    return len(parts) == len(pats) and all(fnmatch.fnmatchcase(p, q) for p, q in zip(parts, pats, strict=True))


def _entry(full: str, rel: str) -> ContextEntry | None:
    try:
        st = os.lstat(full)
    except OSError:
        return None
    if stat.S_ISLNK(st.st_mode):
        kind = "symlink"
    elif stat.S_ISDIR(st.st_mode):
        kind = "dir"
    elif stat.S_ISREG(st.st_mode):
        kind = "file"
    else:
        return None
    return ContextEntry(rel, kind, stat.S_IMODE(st.st_mode), st.st_size if kind == "file" else 0)
