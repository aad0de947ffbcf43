"""Writing safely on a real engine: a racing container cannot make drift copy host files,
a killed snapshot leaves nothing for good, parent folders keep their modes and owners, and
the builds drift makes are removed afterwards."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RUN_ID, build, run_drift, run_script, sh

pytestmark = pytest.mark.engine

TRIES = int(os.environ.get("DRIFT_RACE_TRIES", "30"))
MARKER = f"HOSTMARKER{RUN_ID}"

# /srv/data flips between a folder of the container and a link to a host folder that holds
# a file of the same name (and one whose name is the marker).
SWAPPER = r"""
mkdir -p /srv/data && echo container-data > /srv/data/secret.txt
ln -s {host} /srv/link
while true; do
  mv -T /srv/data /srv/real; mv -T /srv/link /srv/data
  mv -T /srv/data /srv/link; mv -T /srv/real /srv/data
done
"""


@pytest.fixture
def host_folder() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=f"drift-race-{RUN_ID}-", dir="/tmp"))
    (path / "secret.txt").write_text(MARKER + "\n")
    (path / f"{MARKER}.txt").write_text(MARKER + "\n")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _leaks_in(folder: Path) -> bool:
    for top, dirs, files in os.walk(folder):
        for name in dirs + files:
            if MARKER in name:
                return True
            p = Path(top) / name
            if p.is_file() and not p.is_symlink() and MARKER.encode() in p.read_bytes():
                return True
    return False


def _assert_clean_exit(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stderr, proc.stderr
    if proc.returncode == 2:  # the container changed a file while it was read: one line, honest
        assert proc.stderr.strip().splitlines()[-1].startswith("drift: error: "), proc.stderr
    else:
        assert proc.returncode == 0, proc.stderr


def test_racing_container_never_gets_host_files_copied(
    docker_client: Any, base_image: str, host_folder: Path, tmp_path: Path, cleanup: list[tuple[str, str]]
) -> None:
    """Item 6: a container swaps a folder for a link to the host while drift reads it."""
    name = f"drift-test-race-{RUN_ID}"
    docker_client.containers.run(
        base_image, ["bash", "-c", SWAPPER.format(host=host_folder)], name=name, detach=True, network_mode="none"
    )
    cleanup.append(("container", name))
    time.sleep(1)
    # inspect prints the sha256 of hand-made files: the host file's must never be among them
    host_sha = hashlib.sha256((host_folder / "secret.txt").read_bytes()).hexdigest()
    leaks = {"inspect": 0, "snapshot": 0}
    for i in range(TRIES):
        proc = run_drift("inspect", name, "-f", "json")
        _assert_clean_exit(proc)
        leaks["inspect"] += MARKER in proc.stdout + proc.stderr or host_sha in proc.stdout
        out = tmp_path / f"snap{i}"
        proc = run_drift("snapshot", name, "-o", str(out))
        _assert_clean_exit(proc)
        leaks["snapshot"] += MARKER in proc.stdout + proc.stderr or (out.exists() and _leaks_in(out))
        shutil.rmtree(out, ignore_errors=True)
    assert leaks == {"inspect": 0, "snapshot": 0}, f"{leaks} of {TRIES} tries each showed the host's file"
    assert sorted(p.name for p in host_folder.iterdir()) == sorted(["secret.txt", f"{MARKER}.txt"])


def test_killed_snapshot_leftover_is_cleaned_next_run(
    docker_client: Any, base_image: str, tmp_path: Path, cleanup: list[tuple[str, str]]
) -> None:
    """Item 14: kill -9 while the context is written; the next run removes the half-written sibling."""
    name = f"drift-test-big-{RUN_ID}"
    run_script(docker_client, base_image, "head -c 256M /dev/zero > /srv/big.bin", name, cleanup)
    out = tmp_path / "snap"
    proc = subprocess.Popen([sys.executable, "-m", "drift", "snapshot", name, "-o", str(out)], stderr=subprocess.PIPE)
    deadline = time.time() + 300
    leftovers: list[Path] = []
    while time.time() < deadline and proc.poll() is None and not leftovers:
        leftovers = [p for p in tmp_path.iterdir() if p.name.startswith(".snap.drift-")]
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "drift finished before it could be killed"
    assert leftovers and all(p.exists() for p in leftovers)  # what a kill -9 leaves
    assert f"-{proc.pid}-" in leftovers[0].name  # the temporary name says whose it is
    assert not out.exists()
    run_drift("snapshot", name, "-o", str(out), check=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snap"]
    assert (out / "files/srv/big.bin").stat().st_size == 256 * 1024 * 1024
    assert oct(out.stat().st_mode & 0o777) == oct(0o777 & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# -- parents keep modes and owners; builds are removed --------------------------------------


@pytest.fixture(scope="module")
def owners_base(docker_client: Any, base_image: str, tmp_path_factory: pytest.TempPathFactory, cleanup: Any) -> str:
    """A base with a 0750 folder owned by a non-root user (and /root 0700, as Debian has it)."""
    ctx = tmp_path_factory.mktemp("owners")
    (ctx / "Dockerfile").write_text(
        f"FROM {base_image}\n"
        f"LABEL drift.test.run={RUN_ID}\n"
        "RUN useradd -u 1234 -M -d /srv/app app && mkdir -p /srv/app && chown app:app /srv/app"
        " && chmod 0750 /srv/app && chmod 0700 /root\n"
    )
    tag = f"drift-test/owners-base:{RUN_ID}"
    build(docker_client, ctx, tag, cleanup)
    return tag


STAT = "stat -c '%a %u:%g %n' /root /root/.config /root/.config/app /srv/app /srv/app/cache /srv/app/config.ini"


@pytest.fixture(scope="module")
def owners_container(docker_client: Any, owners_base: str, cleanup: Any) -> Any:
    name = f"drift-test-owners-{RUN_ID}"
    c = docker_client.containers.run(owners_base, ["sleep", "infinity"], name=name, detach=True, network_mode="host")
    cleanup.append(("container", name))
    sh(
        c,
        "mkdir -p /root/.config/app && echo k=v > /root/.config/app/settings.ini"
        " && echo cfg > /srv/app/config.ini && chown app:app /srv/app/config.ini && chmod 0640 /srv/app/config.ini"
        " && mkdir /srv/app/cache && echo c > /srv/app/cache/c.bin && chown -R app:app /srv/app/cache"
        " && chmod 0700 /srv/app/cache",
    )
    return c


def _descendants(docker_client: Any, image: str) -> set[str]:
    """Every image on the engine (docker images -a) that has IMAGE among its parents."""
    root = docker_client.images.get(image).id
    rows = docker_client.api.images(all=True)
    parent = {r["Id"]: r.get("ParentId") or None for r in rows}
    out = set()
    for image_id in parent:
        current = parent[image_id]
        while current:
            if current == root:
                out.add(image_id)
                break
            current = parent.get(current)
    return out


def test_verify_keeps_parent_modes_and_removes_its_build(
    docker_client: Any, owners_base: str, owners_container: Any, tmp_path: Path
) -> None:
    """Items 15 and 17: /root (0700) and a user's 0750 folder survive COPY; the build is removed."""
    before = _descendants(docker_client, owners_base)
    proc = run_drift("snapshot", owners_container.name, "-o", str(tmp_path / "a"), "--verify", "--network", "host")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "findings: no drift" in proc.stdout
    assert "drift: removed image" in proc.stderr
    assert _descendants(docker_client, owners_base) == before  # nothing left: no tag, no parents

    tag = f"drift-test/owners-rebuilt:{RUN_ID}"
    proc = run_drift(
        "snapshot",
        owners_container.name,
        "-o",
        str(tmp_path / "b"),
        "--verify",
        "--network",
        "host",
        "--keep-image",
        "--tag",
        tag,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    try:
        kept = docker_client.images.get(tag)
        assert f"left image {tag} ({kept.short_id.split(':')[1][:12]})" in proc.stderr
        rebuilt = docker_client.containers.run(tag, ["bash", "-c", STAT], remove=True, network_mode="none")
        assert rebuilt.decode() == sh(owners_container, STAT)
        assert "700 0:0 /root\n" in rebuilt.decode() and "750 1234:1234 /srv/app\n" in rebuilt.decode()
    finally:
        docker_client.images.remove(tag)  # prunes its untagged parents
    assert _descendants(docker_client, owners_base) == before  # exactly the named image was left


def test_diff_build_removes_its_build_even_when_it_fails(docker_client: Any, owners_base: str, tmp_path: Path) -> None:
    """Item 17: `diff --build` leaves no tag and no untagged step images, also after a failed build."""
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "app.txt").write_text("app\n")
    (ctx / "Dockerfile").write_text(f"FROM {owners_base}\nRUN echo {RUN_ID} > /srv/step\nCOPY app.txt /srv/app.txt\n")
    before = _descendants(docker_client, owners_base)
    proc = run_drift("diff", owners_base, str(ctx / "Dockerfile"), "--build", "--network", "host")
    assert proc.returncode == 1, proc.stdout + proc.stderr  # the base lacks what the Dockerfile adds
    assert _descendants(docker_client, owners_base) == before
    (ctx / "Dockerfile").write_text(f"FROM {owners_base}\nRUN echo {RUN_ID}-b > /srv/step\nRUN exit 3\n")
    proc = run_drift("diff", owners_base, str(ctx / "Dockerfile"), "--build", "--network", "host")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert _descendants(docker_client, owners_base) == before
