"""Static and --build must agree: a corpus of image + Dockerfile pairs (clean builds and hand
changes) where both modes run and give the same finding keys, and the keys expected."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RUN_ID, build, commit, run_drift, run_script

pytestmark = pytest.mark.engine

Key = tuple[str, str | None, str]


@dataclass(frozen=True)
class Case:
    dockerfile: str
    files: dict[str, str] = field(default_factory=dict)
    hand: str | None = None  # a script run in a container of the built image, then committed
    want: frozenset[Key] = frozenset()


APT_NANO = "RUN apt-get update && apt-get install -y --no-install-recommends nano && rm -rf /var/lib/apt/lists/*\n"
COPY_ROOT = "COPY files/ /\nCOPY app.py /srv/\nWORKDIR /srv\n"
COPY_FILES = {
    "files/etc/app/app.conf": "port=8080\n",
    "files/usr/local/bin/tool": "#!/bin/sh\necho tool\n",
    "app.py": "print(1)\n",
}

CASES = {
    # a conffile edited by hand while the Dockerfile installs its package (item 3)
    "conffile": Case(
        "FROM {base}\n" + APT_NANO,
        hand="echo 'set tabsize 4' >> /etc/nanorc",
        want=frozenset({("file", "apt", "/etc/nanorc")}),
    ),
    "conffile-clean": Case("FROM {base}\n" + APT_NANO),
    # COPY files/ / covers what the context holds, and only with its content (item 2)
    "copy-root": Case(
        "FROM {base}\n" + COPY_ROOT,
        COPY_FILES,
        hand="echo extra > /etc/extra.conf && echo port=7070 > /etc/app/app.conf && echo 'print(2)' > /srv/app.py",
        want=frozenset(
            {("file", None, "/etc/extra.conf"), ("file", None, "/etc/app/app.conf"), ("file", None, "/srv/app.py")}
        ),
    ),
    "copy-root-deleted": Case(
        "FROM {base}\n" + COPY_ROOT,
        COPY_FILES,
        hand="rm /usr/local/bin/tool && chmod 600 /etc/app/app.conf",
        want=frozenset({("file", None, "/usr/local/bin/tool"), ("file", None, "/etc/app/app.conf")}),
    ),
    "copy-root-clean": Case("FROM {base}\n" + COPY_ROOT, COPY_FILES),
    # the builder's default PATH on a base without Env, and ENV PATH=/x:$PATH (item 5)
    "scratch-path": Case("FROM scratch\nCOPY app.py /app.py\nENV PATH=/opt/bin:$PATH\n", {"app.py": "print(1)\n"}),
    # a virtual package declared, installed as the real package that Provides it
    "virtual": Case(
        "FROM {base}\nRUN apt-get update && apt-get install -y --no-install-recommends libc-dev"
        " && rm -rf /var/lib/apt/lists/*\n"
    ),
    # useradd -m fills a home from /etc/skel (item 6)
    "useradd-home": Case("FROM {base}\nRUN useradd -m -s /bin/bash alice\nWORKDIR /home/alice/\n"),
    "useradd-home-edited": Case(
        "FROM {base}\nRUN useradd -m -s /bin/bash alice\nWORKDIR /home/alice/\n",
        hand="sed -i 's/^#force_color_prompt=yes/force_color_prompt=yes/' /home/alice/.bashrc",
        want=frozenset({("file", None, "/home/alice/.bashrc")}),
    ),
}


@pytest.fixture(scope="session")
def pairs(
    docker_client: Any, base_image: str, tmp_path_factory: pytest.TempPathFactory, cleanup: list[tuple[str, str]]
) -> dict[str, tuple[str, Path]]:
    """Each case built from its own context, and changed by hand where the case says so."""
    out = {}
    for name, case in CASES.items():
        ctx = tmp_path_factory.mktemp(f"agree-{name}")
        (ctx / "Dockerfile").write_text(case.dockerfile.format(base=base_image))
        for rel, text in case.files.items():
            (ctx / rel).parent.mkdir(parents=True, exist_ok=True)
            (ctx / rel).write_text(text)
        tag = f"drift-test/agree-{name}:{RUN_ID}"
        build(docker_client, ctx, tag, cleanup)
        if case.hand:
            container = run_script(docker_client, tag, case.hand, f"drift-test-agree-{name}-{RUN_ID}", cleanup)
            config = docker_client.images.get(tag).attrs["Config"]
            tag = commit(
                container, f"drift-test/agree-{name}-hand", cleanup, changes=[f"CMD {json.dumps(config['Cmd'])}"]
            )
        out[name] = (tag, ctx / "Dockerfile")
    return out


def finding_keys(image: str, dockerfile: Path, *extra: str) -> set[Key]:
    proc = run_drift("diff", image, str(dockerfile), *extra, "--format", "json")
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    return {(f["category"], f["manager"], f["name"]) for f in json.loads(proc.stdout)["findings"]}


@pytest.mark.parametrize("name", sorted(CASES))
def test_static_and_build_give_the_same_findings(pairs: dict[str, tuple[str, Path]], name: str) -> None:
    image, dockerfile = pairs[name]
    static = finding_keys(image, dockerfile)
    built = finding_keys(image, dockerfile, "--build", "--network", "host")
    assert static == set(CASES[name].want), f"static: {static}"
    assert built == static
