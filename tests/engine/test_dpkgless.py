"""dpkg's file lists deleted after an install (issue 16): one `unknown` naming the line, no file
or undocumented finding for what that line's packages may own; --build agrees; what a person
did afterwards (a file, a pip install, in a `docker commit` layer) is still found."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BASE_IMAGE, RUN_ID, build, commit, drift_json, run_drift, run_script

pytestmark = pytest.mark.engine

DOCKERFILE = f"""FROM {BASE_IMAGE}
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-pip \\
 && rm -rf /var/lib/apt/lists/* /var/lib/dpkg/info/*
COPY app.conf /etc/app.conf
RUN pip install --break-system-packages six==1.16.0
"""
BY_HAND = """set -e
echo 'by hand' > /etc/planted.conf
pip install --break-system-packages --no-cache-dir idna==3.6
"""


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("dpkgless")
    (root / "Dockerfile").write_text(DOCKERFILE)
    (root / "app.conf").write_text("listen=8080\n")
    return root


@pytest.fixture(scope="module")
def dpkgless_image(docker_client: Any, context: Path, cleanup: list[tuple[str, str]]) -> str:
    tag = f"drift-test/dpkgless:{RUN_ID}"
    build(docker_client, context, tag, cleanup)
    return tag


def _counts(doc: dict[str, Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for f in doc["findings"]:
        out[f["category"]] = out.get(f["category"], 0) + 1
    return out


def test_static_audit_says_unknown_once(dpkgless_image: str, context: Path) -> None:
    doc = drift_json("diff", dpkgless_image, str(context / "Dockerfile"))
    assert [(f["category"], f["name"], f["line"]) for f in doc["findings"]] == [("unknown", "/var/lib/dpkg/info", 2)], (
        doc["findings"][:5]
    )
    assert doc["findings"][0]["actual"]["files"] > 1000  # the files that line's packages may own
    assert run_drift("diff", dpkgless_image, str(context / "Dockerfile"), "--fail-on", "unknown").returncode == 1


def test_inventory_keeps_debian_dists_with_apt(dpkgless_image: str) -> None:
    doc = drift_json("inspect", dpkgless_image)
    owners = {p["name"]: p["apt_owner"] for p in doc["packages"] if p.get("manager") == "pip"}
    assert owners["pip"] == "python3-pip" and owners["setuptools"] == "python3-setuptools"
    assert owners["six"] is None
    assert [u["where"] for u in doc["unknowns"]] == ["/var/lib/dpkg/info"]
    hand = [f["path"] for f in doc["files"] if f["class"] == "unexplained"]
    assert hand == ["/etc/app.conf"]  # the COPY (the Dockerfile accounts for it)


def test_build_mode_agrees(dpkgless_image: str, context: Path) -> None:
    doc = drift_json("diff", dpkgless_image, str(context / "Dockerfile"), "--build")
    assert doc["findings"] == []


def test_what_a_person_did_afterwards_is_found(
    docker_client: Any, dpkgless_image: str, context: Path, cleanup: list[tuple[str, str]]
) -> None:
    box = run_script(docker_client, dpkgless_image, BY_HAND, f"drift-test-dpkgless-{RUN_ID}", cleanup)
    planted = commit(box, "drift-test/dpkgless-planted", cleanup)
    proc = run_drift("diff", planted, str(context / "Dockerfile"), "--format", "json", check=1)
    doc = json.loads(proc.stdout)
    got = {(f["category"], f["name"]) for f in doc["findings"]}
    assert ("file", "/etc/planted.conf") in got
    assert ("undocumented", "idna") in got
    assert ("unknown", "/var/lib/dpkg/info") in got
    assert _counts(doc)["file"] == 1, doc["findings"]
