"""A base pinned by digest only with its own repository's digest (drift/sources/base.py)."""

from __future__ import annotations

import pytest

from drift.sources.base import repo_digest

CASES = [
    # an image pushed to a second registry: its digest there means nothing under its own name
    ("drift-base:bookworm", ["127.0.0.1:45123/base@sha256:aa"], None),
    ("debian:bookworm", ["debian@sha256:bb"], "sha256:bb"),
    ("docker.io/library/debian:12", ["debian@sha256:bb"], "sha256:bb"),
    ("library/debian", ["debian@sha256:bb"], "sha256:bb"),
    ("127.0.0.1:5000/app:1", ["debian@sha256:bb", "127.0.0.1:5000/app@sha256:cc"], "sha256:cc"),
    ("127.0.0.1:5000/app:1", ["127.0.0.1:5001/app@sha256:cc"], None),
    ("localhost/app", ["localhost/app@sha256:dd"], "sha256:dd"),
    ("ghcr.io/org/app:v1", ["ghcr.io/org/app@sha256:ee"], "sha256:ee"),
    ("org/app:v1", ["ghcr.io/org/app@sha256:ee"], None),
    ("app", None, None),
]


@pytest.mark.parametrize(("name", "digests", "expected"), CASES)
def test_only_the_names_own_repository_pins_it(name: str, digests: list[str] | None, expected: str | None) -> None:
    assert repo_digest(name, digests) == expected


@pytest.mark.parametrize(
    "tags",
    [
        ["127.0.0.1:45123/base:1", "drift-base:bookworm"],
        ["drift-base:bookworm", "127.0.0.1:45123/base:1"],
    ],
)
def test_an_image_tagged_twice_is_named_alike_whatever_the_order(tags: list[str]) -> None:
    from drift.sources.base import _name

    assert _name({"RepoTags": tags, "Id": "sha256:" + "a" * 64}) == "drift-base:bookworm"
