"""Accounts are findings (issue 15, item 5): users and groups made by hand, by a package, or by
a Dockerfile's RUN line, on a real engine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RUN_ID, build, commit, drift_json, run_drift, run_script

pytestmark = pytest.mark.engine

HAND = r"""
set -e
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends uuid-runtime >/dev/null 2>&1
useradd -m -s /bin/bash eve
usermod -aG sudo eve
echo 'eve:Not-a-real-password-42' | chpasswd
passwd -l eve >/dev/null
echo 'my notes' > /home/eve/notes.txt
"""
ACCOUNT_FILES = {"/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow", "/etc/subuid", "/etc/subgid"}


@pytest.fixture(scope="module")
def accounts_container(docker_client: Any, base_image: str, cleanup: list[tuple[str, str]]) -> Any:
    return run_script(docker_client, base_image, HAND, f"drift-test-account-changes-{RUN_ID}", cleanup)


def test_inspect_shows_accounts_not_account_files(accounts_container: Any) -> None:
    proc = run_drift("inspect", accounts_container.name, "--format", "json", check=0)
    assert "$y$" not in proc.stdout and "$6$" not in proc.stdout  # never the hash
    doc = json.loads(proc.stdout)
    accs = {(a["kind"], a["name"]): a for a in doc["accounts"]}
    eve = accs["user", "eve"]
    assert eve["change"] == "added" and eve["explained_by"] is None and eve["home_created"]
    assert eve["after"]["groups"] == ["eve", "sudo"] and eve["after"]["password"] == "locked"
    assert eve["after"]["shell"] == "/bin/bash" and eve["after"]["home"] == "/home/eve"
    assert accs["group", "eve"]["change"] == "added"
    assert accs["user", "uuidd"]["explained_by"] == "apt:uuid-runtime"  # its postinst's adduser
    assert accs["group", "uuidd"]["explained_by"] == "apt:uuid-runtime"
    unexplained = {f["path"] for f in doc["files"] if f["class"] == "unexplained"}
    assert not unexplained & ACCOUNT_FILES
    assert unexplained == {"/home/eve/notes.txt"}  # the home and its skel copies are eve's
    grouped = {f["path"] for f in doc["files"] if f["class"] == "account"}
    assert {"/etc/passwd", "/etc/shadow", "/home/eve", "/home/eve/.bashrc"} <= grouped
    table = run_drift("inspect", accounts_container.name, check=0).stdout
    assert "== Accounts" in table and "$y$" not in table


def test_diff_container_against_its_image_gives_account_findings(accounts_container: Any, base_image: str) -> None:
    proc = run_drift("diff", accounts_container.name, base_image, "--format", "json")
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "$y$" not in proc.stdout
    findings = json.loads(proc.stdout)["findings"]
    accounts = {(f["name"], f["detail"]) for f in findings if f["category"] == "account"}
    assert accounts == {("user eve", "added"), ("group eve", "added")}
    files = {f["name"] for f in findings if f["category"] == "file"}
    assert files == {"/home/eve/notes.txt"}


@pytest.fixture(scope="module")
def declared_image(
    docker_client: Any, base_image: str, tmp_path_factory: pytest.TempPathFactory, cleanup: list[tuple[str, str]]
) -> tuple[str, Path]:
    ctx = tmp_path_factory.mktemp("accounts-declared")
    (ctx / "Dockerfile").write_text(
        f"FROM {base_image}\n"
        "RUN apt-get update && apt-get install -y --no-install-recommends uuid-runtime"
        " && rm -rf /var/lib/apt/lists/*\n"
        "RUN useradd -mU -s /bin/bash app\n"
    )
    tag = f"drift-test/accounts-declared:{RUN_ID}"
    build(docker_client, ctx, tag, cleanup)
    return tag, ctx / "Dockerfile"


def test_static_audit_explains_declared_and_packaged_accounts(declared_image: tuple[str, Path]) -> None:
    image, dockerfile = declared_image
    doc = drift_json("diff", image, str(dockerfile))
    assert doc["findings"] == []


def test_static_audit_finds_an_account_made_by_hand(
    docker_client: Any, declared_image: tuple[str, Path], cleanup: list[tuple[str, str]]
) -> None:
    image, dockerfile = declared_image
    c = run_script(docker_client, image, "useradd -r mallory", f"drift-test-acc2-{RUN_ID}", cleanup)
    cmd = docker_client.images.get(image).attrs["Config"]["Cmd"]
    hand = commit(c, "drift-test/accounts-hand", cleanup, changes=[f"CMD {json.dumps(cmd)}"])
    proc = run_drift("diff", hand, str(dockerfile), "--format", "json")
    assert proc.returncode == 1, proc.stderr[-2000:]
    findings = json.loads(proc.stdout)["findings"]
    got = {(f["category"], f["name"], f["detail"]) for f in findings}
    assert got == {("account", "user mallory", "added"), ("account", "group mallory", "added")}


def test_snapshot_remakes_accounts_and_verify_proves_them(accounts_container: Any, tmp_path: Path) -> None:
    out = tmp_path / "snap"
    proc = run_drift("snapshot", accounts_container.name, "-o", str(out), "--verify", "--network", "host")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    dockerfile = (out / "Dockerfile").read_text()
    assert "groupadd -g 1000 eve" in dockerfile
    assert "useradd -l -m -u 1000 -g 1000 -d /home/eve -s /bin/bash -G sudo eve" in dockerfile
    assert "uuidd" not in dockerfile  # the package makes it again
    assert not (out / "files" / "etc" / "passwd").exists() and not (out / "files" / "etc" / "shadow").exists()
    assert (out / "files" / "home" / "eve" / "notes.txt").exists()
    assert not (out / "files" / "home" / "eve" / ".bashrc").exists()  # useradd -m copies it from /etc/skel
