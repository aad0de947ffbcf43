"""What `docker run` makes inside a container (mount points, -w, --init) is not drift:
`drift inspect` shows it as context with the reason, `drift diff CONTAINER ITS_IMAGE` finds
nothing, and a file written by hand in the same container is still found (both read modes)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RUN_ID, build, run_drift, sh

pytestmark = pytest.mark.engine

MADE = {
    "/data",  # parent of the volume's mount point
    "/data/vol",
    "/etc/app",
    "/etc/app/app.conf",  # a bound file
    "/srv/deep",
    "/srv/deep/bind",
    "/scratch",
    "/scratch/tmp",
    "/newdir",
    "/newdir/sub",
}


def _sleeper(docker_client: Any, image: str, name: str, cleanup: list[tuple[str, str]], **run: Any) -> Any:
    """A container of IMAGE that sleeps, started with --init and host network plus RUN's docker run options."""
    container = docker_client.containers.run(
        image, ["sleep", "infinity"], name=name, detach=True, network_mode="host", init=True, **run
    )
    cleanup.append(("container", name))
    return container


@pytest.fixture(scope="module")
def mounted(docker_client: Any, base_image: str, cleanup: list[tuple[str, str]], tmp_path_factory: Any) -> str:
    tmp = tmp_path_factory.mktemp("run-paths")
    (tmp / "app.conf").write_text("setting=1\n")
    (tmp / "dir").mkdir()
    name = f"drift-test-runpaths-{RUN_ID}"
    volume = f"drift-test-runpaths-{RUN_ID}"
    container = _sleeper(
        docker_client,
        base_image,
        name,
        cleanup,
        working_dir="/newdir/sub",
        tmpfs={"/scratch/tmp": ""},
        volumes={
            volume: {"bind": "/data/vol", "mode": "rw"},
            str(tmp / "app.conf"): {"bind": "/etc/app/app.conf", "mode": "ro"},
            str(tmp / "dir"): {"bind": "/srv/deep/bind", "mode": "rw"},
        },
    )
    # written into the mounts (not the container's own layer), and one real hand-made file
    sh(container, "echo v > /data/vol/in-volume && echo t > /scratch/tmp/in-tmpfs && echo hand > /opt/handmade.txt")
    yield name
    container.remove(force=True)
    docker_client.volumes.get(volume).remove(force=True)


@pytest.mark.parametrize("mode", ["overlay", "api"])
def test_inspect_shows_run_paths_as_context(mounted: str, mode: str) -> None:
    env = {"DRIFT_READ": mode} if mode == "api" else {}
    proc = run_drift("inspect", f"container:{mounted}", "--format", "json", env=env, check=0)
    doc = json.loads(proc.stdout)
    files = {f["path"]: f for f in (doc.get("inventory") or doc)["files"]}
    unexplained = {p for p, f in files.items() if f["class"] == "unexplained"}
    assert unexplained == {"/opt/handmade.txt"}
    init = [p for p in files if p.endswith("/sbin/docker-init")]
    assert init, files.keys()
    for path in MADE | set(init):
        assert files[path]["class"] == "noise", (path, files[path])
        assert files[path]["reason"].startswith("made by docker run: "), files[path]
    text = run_drift("inspect", f"container:{mounted}", env=env, check=0).stdout
    section = text.split("== Made by docker run")[1].split("\n== ")[0]
    assert "/etc/app/app.conf" in section and "mount point of a bind mount" in section
    assert "working folder" in section and "--init" in section
    assert "/opt/handmade.txt" not in section


@pytest.mark.parametrize("mode", ["overlay", "api"])
def test_diff_with_its_image_finds_only_the_hand_made_file(mounted: str, base_image: str, mode: str) -> None:
    env = {"DRIFT_READ": mode} if mode == "api" else {}
    proc = run_drift("diff", mounted, base_image, "--format", "json", env=env, check=1)
    findings = json.loads(proc.stdout)["findings"]
    assert [(f["category"], f["name"]) for f in findings] == [("file", "/opt/handmade.txt")]


def test_diff_without_hand_made_change_is_clean(
    docker_client: Any, base_image: str, cleanup: list[tuple[str, str]], tmp_path: Path
) -> None:
    name = f"drift-test-runpaths-clean-{RUN_ID}"
    _sleeper(
        docker_client,
        base_image,
        name,
        cleanup,
        working_dir="/w",
        environment={"MODE": "prod"},
        tmpfs={"/t/mp": ""},
        volumes={str(tmp_path): {"bind": "/mnt/in/here", "mode": "ro"}},
    )
    proc = run_drift("diff", name, base_image, "--format", "json", check=0)
    assert json.loads(proc.stdout)["findings"] == []


@pytest.mark.parametrize("mode", ["static", "build"])
def test_container_against_its_dockerfile_ignores_docker_run_choices(
    docker_client: Any, base_image: str, cleanup: list[tuple[str, str]], tmp_path: Path, mode: str
) -> None:
    """`drift diff CONTAINER Dockerfile`: the Dockerfile built the container's image; the
    command, env, labels and working folder given at docker run are not its drift."""
    (tmp_path / "Dockerfile").write_text(f'FROM {base_image}\nENV APP_MODE=prod\nCMD ["bash"]\n')
    tag = f"drift-test/runpaths-df:{RUN_ID}-{mode}"
    build(docker_client, tmp_path, tag, cleanup)
    name = f"drift-test-runpaths-df-{mode}-{RUN_ID}"
    container = _sleeper(
        docker_client,
        tag,
        name,
        cleanup,
        working_dir="/w",
        environment={"APP_MODE": "staging", "EXTRA": "1"},
        labels={"team": "shop"},
        tmpfs={"/t/mp": ""},
    )
    extra = ["--build", "--network", "host"] if mode == "build" else []
    proc = run_drift("diff", name, str(tmp_path / "Dockerfile"), *extra, "--format", "json", check=0)
    assert json.loads(proc.stdout)["findings"] == []
    sh(container, "echo hand > /etc/hand.conf")
    proc = run_drift("diff", name, str(tmp_path / "Dockerfile"), *extra, "--format", "json", check=1)
    assert [(f["category"], f["name"]) for f in json.loads(proc.stdout)["findings"]] == [("file", "/etc/hand.conf")]


def test_an_image_volume_mount_point_made_by_a_later_run_is_the_engines(
    docker_client: Any, base_image: str, cleanup: list[tuple[str, str]], tmp_path: Path
) -> None:
    """An image built FROM an image that declares a VOLUME: the builder makes the (empty) mount
    point for the RUN, and it lands in that RUN's layer. `drift diff IMAGE Dockerfile --build`
    against the parent's Dockerfile finds only what the RUN wrote, and inspect shows the mount
    point as the engine's, with the reason."""
    parent_dir, child_dir = tmp_path / "parent", tmp_path / "child"
    parent_dir.mkdir()
    child_dir.mkdir()
    (parent_dir / "Dockerfile").write_text(f"FROM {base_image}\nRUN useradd -m app\nVOLUME /home/app/.data\n")
    parent = f"drift-test/volume-parent:{RUN_ID}"
    build(docker_client, parent_dir, parent, cleanup)
    (child_dir / "Dockerfile").write_text(f"FROM {parent}\nRUN echo hand > /etc/hand.conf\n")
    child = f"drift-test/volume-child:{RUN_ID}"
    build(docker_client, child_dir, child, cleanup)
    doc = json.loads(run_drift("inspect", child, "--base", parent, "-f", "json", check=0).stdout)
    files = {f["path"]: f for f in doc["files"]}
    assert files["/home/app/.data"]["class"] == "noise", files.get("/home/app/.data")
    assert "VOLUME" in (files["/home/app/.data"]["reason"] or "")
    assert files["/etc/hand.conf"]["class"] == "unexplained"
    proc = run_drift("diff", child, str(parent_dir / "Dockerfile"), "--build", "--network", "host", "-f", "json")
    assert proc.returncode == 1, proc.stderr
    assert [(f["category"], f["name"]) for f in json.loads(proc.stdout)["findings"]] == [("file", "/etc/hand.conf")]
