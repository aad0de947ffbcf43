"""Shared fixtures: a real Docker engine and the images the engine tests share.

Engine tests are marked `engine`. Without an engine they skip on a laptop and fail under
CI=true. Shared images are built once per run (session fixtures); containers are
removed at the end.

The suite runs in parallel (`make test`: pytest-xdist, `-n 3`). The images and
containers every module may ask for are made once for the whole run, by whichever worker asks
first (`shared`, a file lock in a folder the main process made); the main process removes them
when every worker is done. A test module whose tests share something of their own (a fixture of
module or session scope defined in the module itself) runs whole on one worker (`_runs_whole`,
`pytest_xdist_make_scheduler`); every other test goes wherever a worker is free.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

ROOT = Path(__file__).resolve().parent.parent
# build contexts modelled on other projects (their own tests inside are theirs, not drift's)
collect_ignore = ["corpus"]
BASE_IMAGE = os.environ.get("DRIFT_BASE_IMAGE", "drift-base:bookworm")
# This process's own id: what a test makes is named with it (each worker has its own).
RUN_ID = uuid.uuid4().hex[:8]

# What the whole run shares: the process that imports this first (pytest itself, or xdist's main
# process) makes a folder and an id; the workers it starts inherit them through the environment.
# The process that made them removes what was made in them at the end (pytest_sessionfinish).
OWNER = "DRIFT_TEST_SHARED" not in os.environ or "PYTEST_XDIST_WORKER" not in os.environ
if OWNER:
    os.environ["DRIFT_TEST_SHARED"] = tempfile.mkdtemp(prefix=f"drift-test-shared-{RUN_ID}-")
    os.environ["DRIFT_TEST_SHARED_ID"] = RUN_ID
SHARED = Path(os.environ["DRIFT_TEST_SHARED"])
SHARED_ID = os.environ["DRIFT_TEST_SHARED_ID"]
# Tests never touch the user's own layer cache: they get one of their own (one for the whole run,
# the cache is made for processes sharing it), removed at the end.
TEST_CACHE = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"drift-test-cache-{SHARED_ID}")
os.environ["DRIFT_CACHE_DIR"] = TEST_CACHE

# What a developer does by hand in the story drift exists for.
HAND_STORY = r"""
set -e
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends python3 python3-pip python3-venv >/dev/null
pip install -q --break-system-packages requests==2.31.0
python3 -m venv /opt/venv
/opt/venv/bin/pip install -q six==1.16.0
echo 'listen=8080' > /etc/myapp.conf
echo '# tuned by hand' >> /etc/bash.bashrc
rm -f /etc/issue.net
"""


T = TypeVar("T")


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def shared(key: str, make: Callable[[], T]) -> T:
    """MAKE() once for the whole run, whichever worker asks first; the others wait for it and get
    the same value (JSON: an image's tag, a container's name, a path in SHARED). Whatever MAKE
    makes is registered in SHARED_CLEANUP, removed when the run ends."""
    done = SHARED / f"{key}.json"
    with _locked(SHARED / f"{key}.lock"):
        if done.exists():
            value: T = json.loads(done.read_text())["value"]
            return value
        value = make()
        done.write_text(json.dumps({"value": value}))
        return value


def shared_fixture(func: Callable[..., T]) -> Callable[..., T]:
    """Marks a session fixture that makes its value through `shared` (once for all workers): the
    modules that use it need not run on one worker for it."""
    func._drift_shared = True  # type: ignore[attr-defined]
    return func


class _SharedCleanup(list):  # type: ignore[type-arg]
    """What shared fixtures made, in a file every worker appends to; the owner removes it all."""

    path = SHARED / "cleanup.jsonl"

    def append(self, item: tuple[str, str]) -> None:
        with _locked(SHARED / "cleanup.lock"), open(self.path, "a") as fh:
            fh.write(json.dumps(list(item)) + "\n")

    def items(self) -> list[tuple[str, str]]:
        if not self.path.exists():
            return []
        return [tuple(json.loads(line)) for line in self.path.read_text().splitlines() if line]  # type: ignore[misc]


SHARED_CLEANUP = _SharedCleanup()


def _docker_lines(*args: str) -> list[str]:
    try:
        proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return proc.stdout.split() if proc.returncode == 0 else []


# Test runs on this machine that share its engine (a `make test` and a single test beside it):
# each has a file here while it runs. The untagged images a run's builds leave are removed by the
# last run to end, against what was untagged before the first one began (BASELINE): a run ending
# while another builds would otherwise remove that build's step images between its steps.
RUNS = Path(os.environ.get("TMPDIR", "/tmp")) / "drift-test-runs"
BASELINE = RUNS / "dangling-before"


def _live_runs() -> list[Path]:
    live = []
    for path in RUNS.glob("run-*"):
        try:
            pid = int(path.read_text())
            os.kill(pid, 0)
        except (OSError, ValueError):
            path.unlink(missing_ok=True)  # a run that died without its end
            continue
        live.append(path)
    return live


def pytest_sessionstart(session: pytest.Session) -> None:
    if OWNER:
        RUNS.mkdir(exist_ok=True)
        with _locked(RUNS / "lock"):
            if not _live_runs() or not BASELINE.exists():
                # untagged images that were there before the first run began are not ours to remove
                before = _docker_lines("images", "-q", "--no-trunc", "-f", "dangling=true")
                BASELINE.write_text("\n".join(before))
            (RUNS / f"run-{SHARED_ID}").write_text(str(os.getpid()))


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The owner, once every test (and every worker) is done: what the shared fixtures made, the
    untagged images the run's builds left (the classic builder keeps a multi-stage build's
    earlier stages as dangling images; those not there when the run started), the layer cache."""
    if not OWNER:
        return
    import shutil

    items = SHARED_CLEANUP.items()
    containers = [name for kind, name in items if kind == "container"]
    if containers:
        subprocess.run(["docker", "rm", "-f", *containers], capture_output=True, timeout=300)
    for kind, name in reversed(items):
        if kind == "image":
            subprocess.run(["docker", "rmi", "-f", name], capture_output=True, timeout=300)
    with _locked(RUNS / "lock"):
        (RUNS / f"run-{SHARED_ID}").unlink(missing_ok=True)
        if not _live_runs() and BASELINE.exists():  # the last run on this engine to end
            before = set(BASELINE.read_text().split())
            for image in _docker_lines("images", "-q", "--no-trunc", "-f", "dangling=true"):
                if image not in before:  # still in use: not ours to force
                    subprocess.run(["docker", "rmi", image], capture_output=True, timeout=300)
            BASELINE.unlink()
    shutil.rmtree(SHARED, ignore_errors=True)
    shutil.rmtree(TEST_CACHE, ignore_errors=True)


def _runs_whole(item: pytest.Item) -> bool:
    """Does the test use a fixture of module, class or session scope defined in its own module
    (not made through `shared`)? Then its module runs on one worker, so that it is made once."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    module = item.nodeid.split("::")[0]
    for name in item.fixturenames:
        for fixturedef in (info.name2fixturedefs.get(name) or ())[-1:]:
            if fixturedef.scope == "function" or getattr(fixturedef.func, "_drift_shared", False):
                continue
            if fixturedef.baseid == module or fixturedef.baseid.startswith(module + "::"):
                return True
    return False


# Modules that take longest go to the workers first (the rest keep their order): a long one
# started last would keep the run waiting for it alone. Seconds of one run in brackets.
SLOW_FIRST = (
    "tests/engine/test_realworld.py",  # 8 builds, shared (130)
    "tests/engine/test_corpus.py",  # 5 cases, each built twice (180)
    "tests/engine/test_podman.py",  # a Podman service and its builds (95)
    "tests/engine/test_registry.py",  # a registry, pushes (90)
    "tests/engine/test_report.py",  # (75)
    "tests/engine/test_snapshot.py",  # (70)
    "tests/engine/test_multi.py",  # a second dockerd, sshd (60)
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return

    def rank(item: pytest.Item) -> int:
        module = item.nodeid.split("::")[0]
        return SLOW_FIRST.index(module) if module in SLOW_FIRST else len(SLOW_FIRST)

    items.sort(key=rank)  # stable: each module's own order is kept
    # the main process's scheduler (below) reads which tests go together
    groups = {item.nodeid: item.nodeid.split("::")[0] for item in items if _runs_whole(item)}
    (SHARED / f"groups-{worker}.json").write_text(json.dumps(groups))


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Work units for the workers: a whole module where `_runs_whole` says so, else one test.
    (xdist's own `--dist loadgroup` does this with xdist_group marks, but it names a test by its
    group through the item's nodeid, which pytest 9 no longer lets a plugin change.) Units go
    out in the order the workers collected them: SLOW_FIRST first."""
    if config.getvalue("dist") not in ("load", "loadgroup"):
        return None
    from xdist.scheduler import LoadScopeScheduling

    config.option.loadscopereorder = False

    class ByModule(LoadScopeScheduling):  # type: ignore[misc]
        groups: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self.groups is None:
                self.groups = {}
                for path in SHARED.glob("groups-*.json"):
                    self.groups.update(json.loads(path.read_text()))
            return self.groups.get(nodeid) or nodeid

    return ByModule(config, log)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def run_drift(
    *args: str, env: dict[str, str] | None = None, check: int | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = dict(os.environ)
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "drift", *args], capture_output=True, text=True, env=full_env, timeout=900
    )
    if check is not None and proc.returncode != check:
        raise AssertionError(
            f"drift {' '.join(args)} exited {proc.returncode}, expected {check}\n"
            f"stdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}"
        )
    return proc


def drift_json(*args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    proc = run_drift(*args, "--format", "json", env=env, check=0)
    return json.loads(proc.stdout)


@pytest.fixture(scope="session")
def docker_client() -> Any:
    try:
        import docker

        client = docker.from_env(timeout=600)
        client.ping()
    except Exception as exc:
        if in_ci():
            pytest.fail(f"CI=true and no Docker engine answers: {exc}")
        pytest.skip(f"no Docker engine: {exc}")
    return client


@pytest.fixture(scope="session")
def base_image(docker_client: Any) -> str:
    try:
        docker_client.images.get(BASE_IMAGE)
    except Exception:
        subprocess.run(["bash", str(ROOT / "scripts" / "base-image.sh"), BASE_IMAGE], check=True)
    return BASE_IMAGE


def sh(container: Any, script: str, *, user: str | None = None) -> str:
    result = container.exec_run(["bash", "-c", script], user=user or "")
    out = result.output.decode("utf-8", "replace")
    if result.exit_code != 0:
        raise AssertionError(f"in container {container.name}: exit {result.exit_code}\n{out[-3000:]}")
    return out


def wait_exit(container: Any, timeout: int = 600) -> None:
    result = container.wait(timeout=timeout)
    if result.get("StatusCode") != 0:
        logs = container.logs().decode("utf-8", "replace")
        raise AssertionError(f"container {container.name} failed: {logs[-3000:]}")


def build(
    docker_client: Any, context: Path, tag: str, cleanup: list[tuple[str, str]] | None = None, **kwargs: Any
) -> Any:
    """docker build (classic builder, host network); the image is removed at the end when `cleanup` is given."""
    try:
        image, _ = docker_client.images.build(
            path=str(context), tag=tag, network_mode="host", rm=True, forcerm=True, **kwargs
        )
    except Exception as exc:
        log = getattr(exc, "build_log", None) or []
        text = "".join(item.get("stream", "") for item in log if isinstance(item, dict))
        raise AssertionError(f"docker build {tag} failed: {exc}\n{text[-3000:]}") from exc
    if cleanup is not None:
        cleanup.append(("image", tag))
    return image


def run_script(
    docker_client: Any, image: str, script: str, name: str, cleanup: list[tuple[str, str]], **kwargs: Any
) -> Any:
    """Run `bash -c SCRIPT` in a new container and wait for it to exit (it is removed at the end)."""
    kwargs.setdefault("network_mode", "host")
    container = docker_client.containers.run(image, ["bash", "-c", script], name=name, detach=True, **kwargs)
    cleanup.append(("container", name))
    wait_exit(container)
    return container


def commit(container: Any, repository: str, cleanup: list[tuple[str, str]], **kwargs: Any) -> str:
    """docker commit as REPOSITORY:RUN_ID (removed at the end); returns the tag."""
    container.commit(repository=repository, tag=RUN_ID, **kwargs)
    tag = f"{repository}:{RUN_ID}"
    cleanup.append(("image", tag))
    return tag


@pytest.fixture(scope="session")
def cleanup(docker_client: Any) -> Iterator[list[tuple[str, str]]]:
    """What this process's tests registered is removed at the end of its session (what the
    shared fixtures made, and the untagged images builds left, at the end of the run:
    pytest_sessionfinish)."""
    items: list[tuple[str, str]] = []
    yield items
    for kind, name in reversed(items):
        try:
            if kind == "container":
                docker_client.containers.get(name).remove(force=True)
            else:
                docker_client.images.remove(name, force=True)
        except Exception:
            pass


@pytest.fixture(scope="session")
@shared_fixture
def hand_container(docker_client: Any, base_image: str) -> Any:
    """A running container changed by hand: the story drift exists for."""

    def make() -> str:
        name = f"drift-test-hand-{SHARED_ID}"
        container = docker_client.containers.run(
            base_image, ["sleep", "infinity"], name=name, detach=True, network_mode="host"
        )
        SHARED_CLEANUP.append(("container", name))
        sh(container, HAND_STORY)
        return name

    return docker_client.containers.get(shared("hand_container", make))


@pytest.fixture(scope="session")
@shared_fixture
def hand_image(docker_client: Any, hand_container: Any) -> str:
    """`docker commit` of the hand-made container."""

    def make() -> str:
        tag = f"drift-test/hand:{SHARED_ID}"
        hand_container.commit(repository="drift-test/hand", tag=SHARED_ID, message="made by hand", pause=False)
        SHARED_CLEANUP.append(("image", tag))
        return tag

    return shared("hand_image", make)


@pytest.fixture(scope="session")
@shared_fixture
def stopped_container(docker_client: Any, hand_image: str) -> Any:
    """A stopped container with its own changes on top of the committed image."""

    def make() -> str:
        name = f"drift-test-stopped-{SHARED_ID}"
        script = "echo 'remember' > /root/notes.txt && rm /etc/debian_version && apt-mark auto python3-venv"
        return str(run_script(docker_client, hand_image, script, name, SHARED_CLEANUP).name)

    return docker_client.containers.get(shared("stopped_container", make))


@pytest.fixture(scope="session")
@shared_fixture
def built_image(docker_client: Any, hand_image: str) -> str:
    """An image built from a Dockerfile on top of the committed one."""

    def make() -> str:
        ctx = SHARED / "built"
        ctx.mkdir(exist_ok=True)
        (ctx / "app.py").write_text("print('hello')\n")
        (ctx / "Dockerfile").write_text(
            f"FROM {hand_image}\n"
            "RUN apt-get update && apt-get install -y --no-install-recommends jq && rm -rf /var/lib/apt/lists/*\n"
            "RUN pip install --break-system-packages --no-cache-dir six==1.16.0\n"
            "COPY app.py /srv/app.py\n"
            "ENV APP_MODE=prod\n"
            "WORKDIR /srv\n"
            'CMD ["python3", "/srv/app.py"]\n'
        )
        tag = f"drift-test/built:{SHARED_ID}"
        build(docker_client, ctx, tag, SHARED_CLEANUP)
        return tag

    return shared("built_image", make)


@pytest.fixture(scope="session")
@shared_fixture
def distroless_image(docker_client: Any, hand_image: str) -> str:
    """A distroless-style image: dpkg's status.d/ files, no dpkg, no shell."""

    def make() -> str:
        ctx = SHARED / "distroless"
        ctx.mkdir(exist_ok=True)
        (ctx / "Dockerfile").write_text(
            f"FROM {hand_image} AS src\n"
            "RUN mkdir -p /out/var/lib/dpkg/status.d /out/usr/lib/python3/dist-packages \\\n"
            " && for p in base-files libc6 tzdata netbase libssl3 ca-certificates; do \\\n"
            "      dpkg-query -s $p > /out/var/lib/dpkg/status.d/$p 2>/dev/null || true; \\\n"
            "      dpkg-query -s $p >/dev/null 2>&1 \\\n"
            "        && md5sum /etc/os-release > /out/var/lib/dpkg/status.d/$p.md5sums; \\\n"
            "    done \\\n"
            " && cp -a /usr/local/lib/python3.11/dist-packages/requests* /out/usr/lib/python3/dist-packages/ \\\n"
            " && cp -a /etc/os-release /out/etc-os-release\n"
            "FROM scratch\n"
            "COPY --from=src /out/ /\n"
        )
        tag = f"drift-test/distroless:{SHARED_ID}"
        build(docker_client, ctx, tag, SHARED_CLEANUP)
        return tag

    return shared("distroless_image", make)


@pytest.fixture(scope="session")
@shared_fixture
def scratch_image(docker_client: Any) -> str:
    """An image with neither dpkg nor Python."""

    def make() -> str:
        ctx = SHARED / "scratch"
        ctx.mkdir(exist_ok=True)
        (ctx / "hello.txt").write_text("hello\n")
        (ctx / "Dockerfile").write_text("FROM scratch\nCOPY hello.txt /hello.txt\n")
        tag = f"drift-test/scratch:{SHARED_ID}"
        build(docker_client, ctx, tag, SHARED_CLEANUP)
        return tag

    return shared("scratch_image", make)


@pytest.fixture(scope="session")
@shared_fixture
def saved_archive(docker_client: Any, hand_image: str) -> Path:
    def make() -> str:
        out = SHARED / "save" / "hand.tar"
        out.parent.mkdir(exist_ok=True)
        subprocess.run(["docker", "save", "-o", str(out), hand_image], check=True)
        return str(out)

    return Path(shared("saved_archive", make))


# ---- ground truth, read inside the image by its own tools -------------------------------

TRUTH_SCRIPT = r"""
import importlib.metadata as m, json, os, subprocess, sys
out = {}
st = subprocess.run(["dpkg-query", "-W", "-f=${db:Status-Abbrev}|${Package}|${Version}|${Architecture}\n"],
                    capture_output=True, text=True, check=True).stdout
out["apt"] = sorted(l.split("|")[1:] for l in st.splitlines() if l.startswith("ii"))
out["manual"] = sorted(subprocess.run(["apt-mark", "showmanual"], capture_output=True, text=True,
                       check=True).stdout.split())
pip = set()
for d in m.distributions():
    pip.add((d.metadata["Name"], d.version, str(d._path.parent)))
if os.path.exists("/opt/venv/bin/python"):
    code = ("import importlib.metadata as m, json; print(json.dumps([[d.metadata['Name'], d.version,"
            " str(d._path.parent)] for d in m.distributions()]))")
    res = subprocess.run(["/opt/venv/bin/python", "-c", code], capture_output=True, text=True, check=True)
    pip.update(tuple(x) for x in json.loads(res.stdout))
out["pip"] = sorted(pip)
req = []
for top, dirs, files in os.walk("/"):
    if top.startswith(("/proc", "/sys", "/dev")):
        dirs[:] = []
        continue
    if "REQUESTED" in files and top.endswith(".dist-info"):
        req.append(top)
out["requested"] = sorted(req)
print(json.dumps(out))
"""


def truth_in_container(container: Any) -> dict[str, Any]:
    result = container.exec_run(["python3", "-c", TRUTH_SCRIPT])
    assert result.exit_code == 0, result.output.decode()[-2000:]
    return json.loads(result.output)


def truth_in_image(docker_client: Any, image: str) -> dict[str, Any]:
    out = docker_client.containers.run(image, ["python3", "-c", TRUTH_SCRIPT], remove=True, network_mode="none")
    return json.loads(out)


def drift_sets(doc: dict[str, Any]) -> dict[str, Any]:
    apt = [p for p in doc["packages"] if p["manager"] == "apt"]
    pip = [p for p in doc["packages"] if p["manager"] == "pip"]
    return {
        "apt": sorted([p["name"], p["version"], p["architecture"]] for p in apt),
        "manual": sorted(p["name"] for p in apt if p["manual"]),
        "pip": sorted((p["name"], p["version"], p["location"]) for p in pip),
        "requested": sorted(p["metadata_path"] for p in pip if p["requested"]),
    }


def assert_matches_truth(doc: dict[str, Any], truth: dict[str, Any]) -> None:
    got = drift_sets(doc)
    assert got["apt"] == truth["apt"]
    assert got["manual"] == truth["manual"]
    assert got["pip"] == sorted(tuple(x) for x in truth["pip"])
    assert got["requested"] == truth["requested"]


def export_root(container: Any, dest: Path) -> Path:
    """`docker export` of a container, unpacked into a folder (owners and modes kept)."""
    archive = dest.with_suffix(".tar")
    with open(archive, "wb") as fh:
        for chunk in container.export():
            fh.write(chunk)
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="fully_trusted")  # our own container: keep owners, modes, links
    archive.unlink()
    return dest


def wait_for(predicate: Any, timeout: float = 30) -> None:
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("timed out")


# A real PostgreSQL server and the per-store-kind fixture (tests/pgserver.py).
from tests.pgserver import pg_server, store_url  # noqa: E402,F401
