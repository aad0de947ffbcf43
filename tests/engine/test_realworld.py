"""Real-world Dockerfiles (tests/corpus/realworld, each modelled on a public project named in
its header) built here and audited against themselves: zero findings, statically and with
--build, with every package file hashed against its record (--verify-packages). Then drift planted
by hand in some of them (an apt package, a pip package, an edit of a file a COPY put there, a hot
fix of a package's own file) must be found exactly, in both modes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from drift.dockerfile.context import BuildContext
from drift.dockerfile.declared import declare
from drift.dockerfile.parse import parse
from tests.conftest import SHARED_CLEANUP, SHARED_ID, build, run_drift, run_script, shared, shared_fixture

pytestmark = pytest.mark.engine

CORPUS = Path(__file__).resolve().parent.parent / "corpus" / "realworld"
NAMES = sorted(p.name for p in CORPUS.iterdir() if (p / "Dockerfile").is_file())

# name -> (pip command in the image, a file a COPY put there)
PLANTS = {
    "django-app": ("pip install -q --no-cache-dir idna==3.6", "/app/mysite/settings.py"),
    "flask-app": ("python3 -m pip install -q --no-cache-dir --break-system-packages idna==3.6", "/app/app.py"),
    "python-worker": ("pip3 install -q --no-cache-dir --break-system-packages idna==3.6", "/srv/worker/__main__.py"),
    "apache-ssl": (None, "/var/www/html/index.html"),
}
# name -> a package's own file hot-fixed by hand (its content no longer what dpkg recorded)
HOTFIX = {"apache-ssl": "/usr/sbin/apache2ctl", "django-app": "/usr/lib/python3.11/shutil.py"}


class Made:
    """Each image made when a test first asks for it, once for the whole run (`shared`: a test on
    another worker asking for the same one waits for it)."""

    def __init__(self, key: str, make: Callable[[str], str]) -> None:
        self.key, self.make = key, make

    def __getitem__(self, name: str) -> str:
        return shared(f"{self.key}-{name}", lambda: self.make(name))


@pytest.fixture(scope="session")
@shared_fixture
def realworld(docker_client: Any, base_image: str) -> Made:
    """Every corpus Dockerfile built (its folder is the build context)."""

    def make(name: str) -> str:
        tag = f"drift-test/rw-{name}:{SHARED_ID}"
        build(docker_client, CORPUS / name, tag, SHARED_CLEANUP)
        return tag

    return Made("realworld", make)


@pytest.fixture(scope="session")
@shared_fixture
def planted(docker_client: Any, realworld: Made) -> Made:
    """Corpus images changed by hand, as a person would in a running container, and committed."""

    def make(name: str) -> str:
        pip, edited = PLANTS[name]
        image = docker_client.images.get(realworld[name])
        config = image.attrs["Config"]
        script = (
            "set -e; apt-get update -qq && apt-get install -y -qq --no-install-recommends jq >/dev/null"
            f" && rm -rf /var/lib/apt/lists/* && echo '# changed by hand' >> {edited}"
        )
        if pip:
            script += f" && {pip}"
        if name in HOTFIX:
            script += f" && echo '# hotfix' >> {HOTFIX[name]}"
        as_root = {"user": "root"} if config.get("User") else {}
        container = run_script(docker_client, realworld[name], script, f"drift-test-rw-{name}-{SHARED_ID}",
                               SHARED_CLEANUP, **as_root)  # fmt: skip
        changes = [f"CMD {json.dumps(config['Cmd'])}"] + ([f"USER {config['User']}"] if as_root else [])
        container.commit(repository=f"drift-test/rw-planted-{name}", tag=SHARED_ID, changes=changes)
        tag = f"drift-test/rw-planted-{name}:{SHARED_ID}"
        SHARED_CLEANUP.append(("image", tag))
        return tag

    return Made("planted", make)


def diff(image: str, name: str, *extra: str, code: int) -> dict[str, Any]:
    proc = run_drift("diff", image, str(CORPUS / name / "Dockerfile"), *extra, "--format", "json", check=code)
    return json.loads(proc.stdout)


def keys(doc: dict[str, Any]) -> set[tuple[str, str | None, str]]:
    return {(f["category"], f["manager"], f["name"]) for f in doc["findings"]}


@pytest.mark.parametrize("name", NAMES)
def test_corpus_image_matches_its_dockerfile_statically(realworld: Made, name: str) -> None:
    doc = diff(realworld[name], name, "--verify-packages", code=0)
    assert doc["findings"] == [], [(f["category"], f["name"], f["detail"]) for f in doc["findings"]]


@pytest.mark.parametrize("name", NAMES)
def test_corpus_image_matches_its_dockerfile_built(realworld: Made, name: str) -> None:
    doc = diff(realworld[name], name, "--build", "--network", "host", "--verify-packages", code=0)
    assert doc["mode"] == "build" and doc["findings"] == []


@pytest.mark.parametrize("name", sorted(PLANTS))
def test_planted_drift_is_found_exactly_in_both_modes(planted: Made, name: str) -> None:
    pip, edited = PLANTS[name]
    want = {("undocumented", "apt", "jq"), ("undocumented", "apt", "libjq1"), ("undocumented", "apt", "libonig5")}
    want.add(("file", None, edited))
    if name in HOTFIX:
        want.add(("file", None, HOTFIX[name]))
    if pip:
        want.add(("undocumented", "pip", "idna"))
    static = diff(planted[name], name, code=1)
    assert keys(static) == want
    roots = {f["name"] for f in static["findings"] if f["category"] == "undocumented" and not f["explained_by"]}
    assert roots == ({"jq", "idna"} if pip else {"jq"})
    edit = next(f for f in static["findings"] if f["name"] == edited)
    assert "differs from the build context's" in edit["detail"] and "content" in edit["detail"]
    built = diff(planted[name], name, "--build", "--network", "host", code=1)
    assert keys(built) == want
    if name in HOTFIX:  # the build holds the package's file as recorded; the image does not
        fixed = next(f for f in built["findings"] if f["name"] == HOTFIX[name])
        assert fixed["expected"] is None and fixed["actual"]["package_file"]["package"].startswith("apt:")


def test_dockerignore_placement_is_what_the_engine_copied(docker_client: Any, realworld: Made) -> None:
    """flask-app's .dockerignore (`**/*.md` with a `!` exception, a folder, the Dockerfile):
    what drift says `COPY . .` placed is exactly what the engine put in /app."""
    name = "flask-app"
    df = parse((CORPUS / name / "Dockerfile").read_text(), str(CORPUS / name / "Dockerfile"))
    decl = declare(df, base_config=None, build_args={}, known_venvs=set())
    ctx = BuildContext(str(CORPUS / name))
    placed: set[str] = set()
    for at in decl.copies:
        placed |= set(ctx.place(at.value, lambda p: p == "/app") or {})
    out = docker_client.containers.run(realworld[name], ["find", "/app", "-mindepth", "1"], remove=True, user="root")
    in_image = set(out.decode().split())
    assert placed == in_image
    assert "/app/notes/KEEP.md" in placed and "/app/notes/todo.md" not in placed
    assert not any(p.startswith("/app/build") or p.endswith("Dockerfile") for p in placed)
