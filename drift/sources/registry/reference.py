"""`HOST[:PORT]/REPO[:TAG][@DIGEST]` read as the docker CLI reads an image reference."""

from __future__ import annotations

import re
from dataclasses import dataclass

from drift.errors import TargetNotFound
from drift.sources.registry.auth import DOCKER_HUB

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPO = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
_TAG = re.compile(r"[\w][\w.-]{0,127}")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_HOST = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])"
    r"(?::[0-9]{1,5})?"
)
FORM = "registry:HOST[:PORT]/REPO:TAG or registry:HOST[:PORT]/REPO@sha256:DIGEST"


@dataclass(frozen=True, slots=True)
class Reference:
    host: str  # as the user's config names it: docker.io, 127.0.0.1:5000
    repository: str
    tag: str | None
    digest: str | None

    @property
    def api_host(self) -> str:
        """Where the API answers: Docker Hub's API is not on docker.io itself."""
        return "registry-1.docker.io" if self.host == DOCKER_HUB else self.host

    @property
    def reference(self) -> str:
        """What the manifest is asked by: the digest when there is one, else the tag."""
        return self.digest or self.tag or "latest"

    def __str__(self) -> str:
        tail = f":{self.tag}" if self.tag else ""
        return f"{self.host}/{self.repository}{tail}" + (f"@{self.digest}" if self.digest else "")


def parse(text: str) -> Reference:
    """Docker's rules: the first component is a registry when it has a dot or a port or is
    localhost; otherwise the image is on Docker Hub (library/ for one-component names)."""
    rest, digest = text, None
    if "@" in rest:
        rest, _, digest = rest.partition("@")
        if not _DIGEST.fullmatch(digest):
            raise TargetNotFound(f"{text[:120]!r}: {digest[:80]!r} is not a sha256 digest ({FORM})")
    first, sep, remainder = rest.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        host, path = first, remainder
        if not _HOST.fullmatch(host):
            raise TargetNotFound(f"{text[:120]!r}: {host[:80]!r} is not a registry host ({FORM})")
    else:
        host, path = DOCKER_HUB, rest
    tag = None
    name, colon, maybe_tag = path.rpartition(":")
    if colon and "/" not in maybe_tag:
        path, tag = name, maybe_tag
        if not _TAG.fullmatch(tag):
            raise TargetNotFound(f"{text[:120]!r}: {tag[:80]!r} is not a valid tag ({FORM})")
    if host == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    if not path or not _REPO.fullmatch(path) or len(path) > 255:
        raise TargetNotFound(f"{text[:120]!r} is not an image reference ({FORM})")
    if tag is None and digest is None:
        tag = "latest"
    return Reference(host=host, repository=path, tag=tag, digest=digest)
