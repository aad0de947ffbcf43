"""The image's own history as evidence in the static audit (issue 16, item 2): files a RUN
line's tools wrote where the shell analysis cannot see (a maintainer helper, a program's own
open(), a script) are that line's; a `docker commit` layer on top matches no line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RUN_ID, build, commit, run_drift, run_script

pytestmark = pytest.mark.engine

DOCKERFILE = """\
FROM drift-base:bookworm
COPY gen.sh /usr/local/bin/gen.sh
RUN export DEBIAN_FRONTEND=noninteractive && apt-get update -qq \\
    && apt-get install -y -qq --no-install-recommends libpam-tmpdir >/dev/null && rm -rf /var/lib/apt/lists/*
RUN perl -e 'open(my $f, ">", "/etc/x.conf"); print $f "1\\n"'
RUN sh /usr/local/bin/gen.sh
"""
GEN = '#!/bin/sh\nset -e\nmkdir -p /opt/gen\nprintf "%s\\n" made > /opt/gen/made.txt\n'


def paths(doc: dict[str, Any]) -> dict[str, str]:
    return {f["name"]: f["category"] for f in doc["findings"] if f["name"].startswith("/")}


def diff(*args: str) -> dict[str, Any]:
    return json.loads(run_drift("diff", *args, "--format", "json").stdout)


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ctx = tmp_path_factory.mktemp("history-evidence")
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    (ctx / "gen.sh").write_text(GEN)
    return ctx


@pytest.fixture(scope="module")
def image(docker_client: Any, base_image: str, context: Path, cleanup: list[tuple[str, str]]) -> str:
    tag = f"drift-test/history-evidence:{RUN_ID}"
    build(docker_client, context, tag, cleanup)
    return tag


def test_files_a_run_lines_tools_wrote_are_that_lines(image: str, context: Path) -> None:
    doc = diff(image, str(context / "Dockerfile"))
    assert paths(doc) == {}
    assert doc["summary"]["failing"] == 0
    made = doc["expected"]["history"]["layers"]
    assert {v["line"] for v in made.values()} == {2, 3, 5, 6} and doc["expected"]["history"]["stopped"] is None


def test_without_history_evidence_they_are_reported(image: str, context: Path) -> None:
    doc = diff(image, str(context / "Dockerfile"), "--no-history-evidence")
    found = paths(doc)
    # pam-auth-update (libpam-tmpdir's postinst), perl's open(), the script's printf
    assert {"/etc/pam.d/common-session", "/etc/x.conf", "/opt/gen/made.txt"} <= set(found)
    assert doc["expected"]["history"] is None


def test_a_commit_on_top_is_where_drift_lives(
    docker_client: Any, image: str, context: Path, cleanup: list[tuple[str, str]]
) -> None:
    script = "echo hand > /etc/hand.conf && echo again >> /etc/x.conf"
    container = run_script(docker_client, image, script, f"drift-test-history-commit-{RUN_ID}", cleanup)
    committed = commit(container, "drift-test/history-committed", cleanup)
    doc = diff(committed, str(context / "Dockerfile"))
    # in the commit's layer: hand-made, not "may come from line 6" (line 6 made its own layer)
    assert paths(doc) == {"/etc/hand.conf": "file", "/etc/x.conf": "file"}
    assert "matches no line" in doc["expected"]["history"]["stopped"]
