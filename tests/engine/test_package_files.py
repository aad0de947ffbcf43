"""Package files are not taken on trust (issue 15): a file whose content is not what dpkg's md5sums
or pip's RECORD holds is a hand-made change, in a flattened image as in a running container; the
snapshot carries it and --verify / diff --build prove it; executables in noise folders are findings;
the engine's init-layer paths of a flattened image are Docker's."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BASE_IMAGE, RUN_ID, drift_json, run_drift, run_script

pytestmark = pytest.mark.engine

SITE = "/usr/local/lib/python3.11/dist-packages"
PIP_INIT = "/usr/lib/python3/dist-packages/pip/__init__.py"  # Debian's python3-pip: apt's md5sums
SAME_SIZE = "/usr/lib/python3/dist-packages/pip/_internal/main.py"  # edited to the same size, mtime put back

# On top of the story image (tests/conftest.py HAND_STORY): hot fixes of package files, one of
# them hidden from the screen (same size, mtime restored), and runtime drift in /tmp.
HOTFIX = rf"""
set -e
echo '# hotfix: timeout' >> {SITE}/requests/api.py
sed -i 's/^__version__ = .*/&  # patched/' {PIP_INIT}
printf '\0patched' >> /usr/bin/python3.11
cp -p {SAME_SIZE} /tmp/orig && sed -i '0,/import/s//IMPORT/' {SAME_SIZE}
touch -r /tmp/orig {SAME_SIZE} && rm /tmp/orig
cp /bin/ls /tmp/dropper && chmod +x /tmp/dropper
echo 'just data' > /var/tmp/data.txt
"""
PLANTED = {
    f"{SITE}/requests/api.py": "pip:requests",
    PIP_INIT: "apt:python3-pip",
    "/usr/bin/python3.11": "apt:python3.11-minimal",
}
# what the story itself did by hand (HAND_STORY), besides the hot fixes
STORY = {"/etc/myapp.conf", "/etc/bash.bashrc", "/etc/issue.net"}


@pytest.fixture(scope="module")
def hotfixed(docker_client: Any, hand_image: str, cleanup: list[tuple[str, str]]) -> Any:
    return run_script(docker_client, hand_image, HOTFIX, f"drift-test-hotfix-{RUN_ID}", cleanup)


@pytest.fixture(scope="module")
def flat_image(hotfixed: Any, cleanup: list[tuple[str, str]]) -> str:
    """`docker export | docker import`: one layer, the hot fixes in the layer that installed the packages."""
    tag = f"drift-test/flat:{RUN_ID}"
    subprocess.run(
        f"docker export {hotfixed.name} | docker import - {tag}", shell=True, check=True, capture_output=True
    )
    cleanup.append(("image", tag))
    return tag


def unexplained(inv: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["path"]: f for f in inv["files"] if f["class"] == "unexplained"}


def test_flattened_image_shows_every_hotfix_and_nothing_else(flat_image: str) -> None:
    inv = drift_json("inspect", flat_image, "--base", BASE_IMAGE)
    found = unexplained(inv)
    for path, package in PLANTED.items():
        check = found[path]["package_file"]
        assert check["package"] == package, found[path]
        assert check["recorded"] != check["actual"]
        assert check["algorithm"] == ("sha256" if package.startswith("pip:") else "md5")
    assert found["/usr/bin/python3.11"]["executable"] is True
    # the same-size edit with its mtime put back passes the screen: only --verify-packages sees it
    assert SAME_SIZE not in found
    # the engine's init layer (/dev/console, /etc/mtab ...) is Docker's; data in /var/tmp is noise
    assert set(found) == set(PLANTED) | STORY | {"/tmp/dropper"}, sorted(found)
    classes = {f["path"]: f for f in inv["files"]}
    assert classes["/etc/mtab"]["class"] == "noise" and "init layer" in classes["/etc/mtab"]["reason"]
    assert classes["/var/tmp/data.txt"]["class"] == "noise"
    assert found["/tmp/dropper"]["executable"] is True


def test_verify_packages_hashes_every_file(flat_image: str) -> None:
    inv = drift_json("inspect", flat_image, "--base", BASE_IMAGE, "--verify-packages")
    found = unexplained(inv)
    assert found[SAME_SIZE]["package_file"]["package"] == "apt:python3-pip"
    assert set(found) == set(PLANTED) | STORY | {"/tmp/dropper", SAME_SIZE}, sorted(found)


def test_without_a_base_the_package_files_are_still_checked(flat_image: str) -> None:
    inv = drift_json("inspect", flat_image)
    assert inv["base"] is None
    assert {f["path"]: f["package_file"]["package"] for f in inv["files"]} == PLANTED
    table = run_drift("inspect", flat_image, check=0).stdout
    assert "3 package file(s) not as their package recorded" in table
    assert "/usr/bin/python3.11  (package file of apt:python3.11-minimal, not as recorded)" in table


def test_running_container_package_edit_and_dropped_binary(hotfixed: Any, docker_client: Any) -> None:
    """The hot-fix container against the story image: edits in a layer above the packages'."""
    inv = drift_json("inspect", f"container:{hotfixed.name}")
    found = unexplained(inv)
    assert found[f"{SITE}/requests/api.py"]["package_file"]["package"] == "pip:requests"
    assert found[PIP_INIT]["package_file"]["package"] == "apt:python3-pip"
    # written in a layer above its package's: hashed whatever its mtime says
    assert found[SAME_SIZE]["package_file"]["package"] == "apt:python3-pip"
    assert found["/tmp/dropper"]["executable"] is True
    assert "/var/tmp/data.txt" not in found


def test_snapshot_carries_the_hotfixes_and_verify_proves_them(flat_image: str, tmp_path: Path) -> None:
    out = tmp_path / "snap"
    proc = run_drift(
        "snapshot",
        flat_image,
        "--base",
        BASE_IMAGE,
        "-o",
        str(out),
        "--verify",
        "--network",
        "host",
        "--keep-image",
        "--tag",
        f"drift-test/flat-rebuilt:{RUN_ID}",
    )
    try:
        # no finding: not the hot fixes, and not Env.PATH (the import has none: the engine's default)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "findings: no drift" in proc.stdout
        dockerfile = (out / "Dockerfile").read_text()
        assert "#   /usr/bin/python3.11 (apt:python3.11-minimal)" in dockerfile
        assert dockerfile.index("COPY files/ /") > dockerfile.index("requests==2.31.0")
        assert (out / "files" / SITE.lstrip("/") / "requests/api.py").read_text().endswith("# hotfix: timeout\n")
        # a lost hot fix is drift: the Dockerfile's build no longer holds it
        (out / "files" / SITE.lstrip("/") / "requests/api.py").unlink()
        shutil.rmtree(out / "files/tmp")
        diff = run_drift("diff", flat_image, str(out / "Dockerfile"), "--build", "--base", BASE_IMAGE, "-f", "json")
        assert diff.returncode == 1, diff.stdout + diff.stderr
        findings = {f["name"]: f for f in json.loads(diff.stdout)["findings"]}
        lost = findings[f"{SITE}/requests/api.py"]
        assert lost["category"] == "file" and lost["actual"]["package_file"]["package"] == "pip:requests"
        assert set(findings) == {f"{SITE}/requests/api.py", "/tmp/dropper"}, sorted(findings)
    finally:
        subprocess.run(["docker", "rmi", "-f", f"drift-test/flat-rebuilt:{RUN_ID}"], capture_output=True)
