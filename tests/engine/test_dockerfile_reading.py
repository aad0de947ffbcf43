"""drift reads a Dockerfile as Docker's builder does: checked against real builds.

Each Dockerfile here is tricky but buildable. The classic builder's image config (Env,
WorkingDir, Cmd, Labels, User, ports) must be exactly what drift resolves, and a static
`drift diff IMAGE Dockerfile` of the clean build must report no config finding.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from drift.dockerfile.declared import declare
from drift.dockerfile.parse import parse
from drift.dockerfile.resolve import DEFAULT_PATH
from drift.model import ImageConfig
from tests.conftest import RUN_ID, build, run_drift

pytestmark = pytest.mark.engine

# Continuations join without a space, an escaped backslash ends a value, a tab follows a
# keyword, ARG values are quoted, PATH expands against the base's, WORKDIR is quoted,
# relative and ends with a slash, `COPY --` ends the flags.
TRICKY = """\
ARG BASE=drift-base:bookworm
FROM ${{BASE}}
ENV HOME2=/home/x
ARG a="1 2" b c=${{a:+set}}
ENV A1=$a B1="${{b:-none}}" C1=$c
ENV\tTABBED=yes
RUN echo good\\
bye > /tmp/gb
ENV ESC=back\\\\
ENV PATH=/opt/x:$PATH OLD_PATH=$PATH
ENV LEGACY with  two   words
LABEL "com.example.quoted"="a b" plain=c\\ d
COPY -- hello /srv/hello
WORKDIR "${{HOME2}}"
WORKDIR sub/
WORKDIR /app/
EXPOSE 8080 53/udp
USER "root"
CMD echo hi\\
there \\
  "$HOME2"
"""


def config_findings(image: str, dockerfile: Path) -> list[dict[str, Any]]:
    proc = run_drift("diff", image, str(dockerfile), "--format", "json")
    assert proc.returncode in (0, 1), proc.stderr
    return [f for f in json.loads(proc.stdout)["findings"] if f["category"] == "config"]


@pytest.fixture(scope="module")
def tricky(
    docker_client: Any, base_image: str, tmp_path_factory: pytest.TempPathFactory, cleanup: list[tuple[str, str]]
) -> tuple[str, Path]:
    context = tmp_path_factory.mktemp("tricky")
    (context / "hello").write_text("hi\n")
    (context / "Dockerfile").write_text(TRICKY.format())
    tag = f"drift-test/tricky:{RUN_ID}"
    build(docker_client, context, tag, cleanup, buildargs={"BASE": base_image})
    return tag, context / "Dockerfile"


def test_tricky_file_reads_as_the_builder_wrote_it(
    docker_client: Any, tricky: tuple[str, Path], base_image: str
) -> None:
    tag, dockerfile = tricky
    attrs = docker_client.images.get(tag).attrs["Config"]
    base = docker_client.images.get(base_image).attrs["Config"]
    decl = declare(
        parse(dockerfile.read_text(), str(dockerfile)),
        base_config=ImageConfig(env=tuple(base.get("Env") or ())),
        build_args={"BASE": base_image},
        known_venvs=set(),
    )
    env = dict(e.split("=", 1) for e in attrs["Env"])
    assert env["A1"] == "1 2" and env["B1"] == "none" and env["C1"] == ""  # what Docker did
    assert env["ESC"] == "back\\" and env["LEGACY"] == "with  two   words"
    assert {k: decl.config[f"Env.{k}"].value for k in env} == env
    assert decl.config["WorkingDir"].value == attrs["WorkingDir"] == "/app/"
    assert decl.workdir == "/app" and [w.value for w in decl.workdirs] == ["/home/x", "/home/x/sub", "/app"]
    assert decl.config["Cmd"].value == attrs["Cmd"] == ["/bin/sh", "-c", 'echo hithere   "$HOME2"']
    assert decl.config["Labels.com.example.quoted"].value == attrs["Labels"]["com.example.quoted"] == "a b"
    assert decl.config["Labels.plain"].value == attrs["Labels"]["plain"] == "c d"
    assert decl.config["User"].value == attrs["User"] == "root"
    assert decl.config["ExposedPorts"].value == sorted(attrs["ExposedPorts"])
    out = docker_client.containers.run(tag, ["cat", "/tmp/gb"], remove=True, network_mode="host")
    assert out == b"goodbye\n"  # the continuation joined `good` and `bye`, as drift reads it


def test_tricky_file_gives_no_config_finding(tricky: tuple[str, Path], base_image: str) -> None:
    tag, dockerfile = tricky
    proc = run_drift("diff", tag, str(dockerfile), "--build-arg", f"BASE={base_image}", "--format", "json")
    assert proc.returncode in (0, 1), proc.stderr
    findings = json.loads(proc.stdout)["findings"]
    assert [f for f in findings if f["category"] in ("config", "dockerfile")] == []


@pytest.fixture(scope="module")
def no_env_base(docker_client: Any, base_image: str, cleanup: list[tuple[str, str]]) -> str:
    """A base with no Env at all, as `docker import` makes."""
    tag = f"drift-test/noenv:{RUN_ID}"
    name = f"drift-test-noenv-{RUN_ID}"
    docker_client.containers.create(base_image, ["true"], name=name)
    cleanup.append(("container", name))
    export = subprocess.Popen(["docker", "export", name], stdout=subprocess.PIPE)
    subprocess.run(["docker", "import", "-", tag], stdin=export.stdout, check=True, capture_output=True)
    assert export.wait() == 0
    cleanup.append(("image", tag))
    assert not docker_client.images.get(tag).attrs["Config"].get("Env")
    return tag


@pytest.mark.parametrize(
    "body, path",
    [
        ("COPY hello /hello\n", DEFAULT_PATH),
        ("RUN echo hi > /tmp/x\nENV PATH=/opt/x:$PATH\n", f"/opt/x:{DEFAULT_PATH}"),
    ],
)
def test_builder_default_path(
    docker_client: Any,
    no_env_base: str,
    tmp_path: Path,
    cleanup: list[tuple[str, str]],
    body: str,
    path: str,
) -> None:
    context = tmp_path / f"noenv-{len(body)}"
    context.mkdir()
    (context / "hello").write_text("hi\n")
    (context / "Dockerfile").write_text(f"FROM {no_env_base}\n{body}")
    tag = f"drift-test/noenv-built:{RUN_ID}-{len(body)}"
    build(docker_client, context, tag, cleanup)
    assert docker_client.images.get(tag).attrs["Config"]["Env"] == [f"PATH={path}"]
    assert config_findings(tag, context / "Dockerfile") == []
