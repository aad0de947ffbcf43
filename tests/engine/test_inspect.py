"""`drift inspect` on a real engine: every kind of target, checked against the image's own tools."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import (
    RUN_ID,
    assert_matches_truth,
    drift_json,
    export_root,
    run_drift,
    sh,
    truth_in_container,
    truth_in_image,
)
from tests.oci import docker_archive_to_oci

pytestmark = pytest.mark.engine

HAND_MADE = {
    ("/etc/myapp.conf", "added"),
    ("/etc/bash.bashrc", "modified"),
    ("/etc/issue.net", "deleted"),
}


def unexplained(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(f["path"], f["change"]) for f in doc["files"] if f["class"] == "unexplained"}


def test_running_container_matches_its_own_tools(hand_container: Any) -> None:
    before = hand_container.client.api.inspect_container(hand_container.id)["State"]
    doc = drift_json("inspect", hand_container.name)
    after = hand_container.client.api.inspect_container(hand_container.id)["State"]
    assert after["Running"] and not after["Paused"]
    assert after["StartedAt"] == before["StartedAt"]
    assert doc["schema"] == "drift.inventory/v1"
    assert doc["target"]["kind"] == "container"
    assert doc["target"]["resolved_by"] == "container name or id"
    assert_matches_truth(doc, truth_in_container(hand_container))


def test_running_container_delta_is_what_was_done_by_hand(hand_container: Any, base_image: str) -> None:
    doc = drift_json("inspect", f"container:{hand_container.name}")
    assert doc["base"]["name"] == base_image
    assert unexplained(doc) == HAND_MADE
    added = {c["name"] for c in doc["package_changes"] if c["manager"] == "apt" and c["change"] == "added"}
    assert {"python3", "python3-pip", "python3-venv", "python3.11", "ca-certificates"} <= added
    pkgs = {(p["manager"], p["name"], p.get("location")): p for p in doc["packages"]}
    requests = pkgs[("pip", "requests", "/usr/local/lib/python3.11/dist-packages")]
    assert requests["requested"] and requests["version"] == "2.31.0" and requests["installer"] == "pip"
    urllib3 = pkgs[("pip", "urllib3", "/usr/local/lib/python3.11/dist-packages")]
    assert not urllib3["requested"]
    pip_deb = pkgs[("pip", "pip", "/usr/lib/python3/dist-packages")]
    assert pip_deb["apt_owner"] == "python3-pip"
    six = pkgs[("pip", "six", "/opt/venv/lib/python3.11/site-packages")]
    assert six["venv"] == "/opt/venv" and six["requested"]
    bash = next(p for p in doc["packages"] if p["manager"] == "apt" and p["name"] == "bash")
    assert {"path": "/etc/bash.bashrc", "state": "modified"} in bash["conffiles_changed"]
    envs = {e["path"]: e for e in doc["environments"]}
    assert envs["/opt/venv"]["kind"] == "venv"
    assert envs["/usr/local"]["externally_managed"] is True
    # its command (given at docker run) is its config, not a change against its own image
    assert doc["config"]["Cmd"] == ["sleep", "infinity"]
    assert doc["config_changes"] == []


def test_committed_image(docker_client: Any, hand_image: str, base_image: str) -> None:
    doc = drift_json("inspect", hand_image)
    assert doc["target"]["kind"] == "image"
    assert doc["base"]["name"] == base_image
    assert_matches_truth(doc, truth_in_image(docker_client, hand_image))
    assert unexplained(doc) == HAND_MADE
    origins = [h["origin"] for h in doc["history"] if not h["in_base"]]
    assert origins == ["commit"]


def test_stopped_container(docker_client: Any, stopped_container: Any, hand_image: str) -> None:
    stopped_container.reload()
    assert stopped_container.status == "exited"
    doc = drift_json("inspect", stopped_container.name)
    assert doc["base"]["name"] == hand_image
    assert unexplained(doc) == {("/root/notes.txt", "added"), ("/etc/debian_version", "deleted")}
    truth_image = stopped_container.commit(repository="drift-test/stopped-truth", tag="x")
    try:
        truth = truth_in_image(docker_client, truth_image.id)
    finally:
        docker_client.images.remove(truth_image.id, force=True)
    assert_matches_truth(doc, truth)
    venv = next(p for p in doc["packages"] if p["manager"] == "apt" and p["name"] == "python3-venv")
    assert venv["manual"] is False


def test_built_image(docker_client: Any, built_image: str, hand_image: str) -> None:
    doc = drift_json("inspect", f"image:{built_image}")
    assert doc["base"]["name"] == hand_image
    assert_matches_truth(doc, truth_in_image(docker_client, built_image))
    changes = {(c["manager"], c["name"], c["change"]) for c in doc["package_changes"]}
    assert ("apt", "jq", "added") in changes
    assert ("pip", "six", "added") in changes
    files = {f["path"]: f for f in doc["files"]}
    assert files["/srv/app.py"]["class"] == "unexplained"
    assert files["/usr/bin/jq"]["owner"] == "apt:jq"
    config = {c["key"]: c for c in doc["config_changes"]}
    assert config["Env.APP_MODE"]["actual"] == "prod"
    assert config["WorkingDir"]["actual"] == "/srv"
    assert {h["origin"] for h in doc["history"] if not h["in_base"]} == {"build"}


def test_api_path_equals_overlay_path(hand_container: Any, built_image: str) -> None:
    for target in (hand_container.name, built_image):
        fast = drift_json("inspect", target)
        slow = drift_json("inspect", target, env={"DRIFT_READ": "api"})
        assert fast["packages"] == slow["packages"]
        assert unexplained(fast) == unexplained(slow)
        assert fast["config_changes"] == slow["config_changes"]


SMALL_CHANGES = (
    "echo hi > /etc/pp.conf; mkdir -m 0700 /srv/data; chown 1000:1000 /srv/data; echo x > /srv/data/a.txt;"
    " ln -s /etc/pp.conf /etc/pp.link; ln /etc/pp.conf /etc/pp.hard; mkfifo /srv/fifo; rm /etc/issue.net;"
    " echo X >> /etc/debian_version; head -c 3000000 /dev/urandom > /srv/big.bin; : > /srv/empty;"
    " touch \"/srv/$(printf 'caf\\303\\251')\"; chmod 4755 /srv/empty"
)


@pytest.mark.parametrize("many", [False, True], ids=["by-path", "export"])
def test_api_reads_a_containers_changes_by_path_or_export_as_overlay_does(
    docker_client: Any, base_image: str, cleanup: Any, many: bool
) -> None:
    """Over the API (a remote engine), a container's few changes are read path by path (what
    `docker cp` reads), many of them from one `docker export`: either way the file list equals
    the one read from the overlay2 folders in place, kind, mode, size and content digest."""
    import time

    name = f"drift-test-api-{'many' if many else 'few'}-{RUN_ID}"
    container = docker_client.containers.run(
        base_image, ["sleep", "infinity"], name=name, detach=True, network_mode="none"
    )
    cleanup.append(("container", name))
    extra = "; mkdir /srv/many; for i in $(seq 300); do echo $i > /srv/many/f$i; done" if many else ""
    sh(container, SMALL_CHANGES + extra)
    since = int(time.time()) - 1
    fast = drift_json("inspect", name)
    slow = drift_json("inspect", name, env={"DRIFT_READ": "api"})
    assert fast["files"] == slow["files"]
    assert len(fast["files"]) == (11 + 301 if many else 11)
    kinds = {f["path"]: (f["kind"], f["mode"]) for f in slow["files"]}
    assert kinds["/srv/data"] == ("dir", "0700") and kinds["/etc/pp.link"][0] == "symlink"
    assert kinds["/srv/fifo"][0] == "fifo" and kinds["/srv/empty"] == ("file", "4755")
    diff_fast = json.loads(run_drift("diff", name, base_image, "--format", "json", check=1).stdout)
    env = {"DRIFT_READ": "api"}
    diff_slow = json.loads(run_drift("diff", name, base_image, "--format", "json", env=env, check=1).stdout)
    assert diff_fast["findings"] == diff_slow["findings"] and len(diff_fast["findings"]) >= 11
    until = int(time.time()) + 1
    actions = [
        e["Action"]
        for e in docker_client.events(since=since, until=until, decode=True, filters={"container": container.id})
    ]
    assert ("export" in actions) == many
    assert ("archive-path" in actions) == (not many)


def test_docker_save_archive_plain_and_gzipped(
    docker_client: Any, saved_archive: Path, hand_image: str, tmp_path: Path, base_image: str
) -> None:
    image_doc = drift_json("inspect", hand_image)
    doc = drift_json("inspect", str(saved_archive))
    assert doc["target"]["kind"] == "archive"
    assert doc["target"]["resolved_by"].startswith("path")
    assert doc["packages"] == image_doc["packages"]
    assert doc["base"]["name"] == base_image  # found by layer prefix among local images
    assert unexplained(doc) == HAND_MADE
    gz = tmp_path / "hand.tar.gz"
    with open(saved_archive, "rb") as src, gzip.open(gz, "wb", compresslevel=1) as dst:
        shutil.copyfileobj(src, dst)
    doc_gz = drift_json("inspect", f"archive:{gz}")
    assert doc_gz["packages"] == image_doc["packages"]


def test_oci_layout(saved_archive: Path, hand_image: str, tmp_path: Path) -> None:
    layout = docker_archive_to_oci(saved_archive, tmp_path / "oci")
    doc = drift_json("inspect", str(layout))
    assert doc["target"]["kind"] == "oci"
    assert doc["packages"] == drift_json("inspect", hand_image)["packages"]


def test_root_folder(hand_container: Any, tmp_path: Path, base_image: str) -> None:
    root = export_root(hand_container, tmp_path / "root")
    doc = drift_json("inspect", f"dir:{root}")
    assert doc["target"]["kind"] == "dir"
    assert_matches_truth(doc, truth_in_container(hand_container))
    with_base = drift_json("inspect", str(root), "--base", base_image)
    # against a base that is not a layer prefix, the whole trees are compared
    assert unexplained(with_base) >= HAND_MADE


def test_distroless_status_d(docker_client: Any, distroless_image: str, hand_container: Any) -> None:
    doc = drift_json("inspect", distroless_image)
    apt = {p["name"]: p for p in doc["packages"] if p["manager"] == "apt"}
    names = ("base-files", "libc6", "libssl3", "ca-certificates", "netbase", "tzdata")
    script = (
        "for p in " + " ".join(names) + "; do dpkg-query -W -f='${Package}|${Version}|${Architecture}\\n' $p "
        "2>/dev/null; done"
    )
    out = hand_container.exec_run(["bash", "-c", script]).output.decode()
    truth = sorted(line.split("|") for line in out.split())
    assert sorted([p["name"], p["version"], p["architecture"]] for p in apt.values()) == truth
    assert all(p["database"].startswith("/var/lib/dpkg/status.d/") for p in apt.values())
    pip = [(p["name"], p["version"]) for p in doc["packages"] if p["manager"] == "pip"]
    assert pip == [("requests", "2.31.0")]


def test_image_without_dpkg_or_python(scratch_image: str) -> None:
    doc = drift_json("inspect", scratch_image)
    assert doc["packages"] == []
    assert doc["environments"] == []
    assert any(u["where"] == "apt" for u in doc["unknowns"])


@pytest.mark.parametrize("fmt", ["table", "markdown"])
def test_human_formats_lead_with_the_delta(hand_image: str, fmt: str) -> None:
    out = run_drift("inspect", hand_image, "--format", fmt, check=0).stdout
    assert out.index("Unexplained file changes") < out.index("apt packages (")
    assert "/etc/myapp.conf" in out
    assert "docker commit" in out


def test_output_file_is_written_whole(hand_image: str, tmp_path: Path) -> None:
    dest = tmp_path / "inv.json"
    run_drift("inspect", hand_image, "-f", "json", "-o", str(dest), check=0)
    assert json.loads(dest.read_text())["target"]["name"] == hand_image
    assert [p.name for p in tmp_path.iterdir()] == ["inv.json"]
