"""Snapshots of hostile and awkward images on a real engine: nothing from the image becomes an
instruction, what a Dockerfile can hold comes back identical, the rest is left out and said."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, RUN_ID, build, commit, run_drift, run_script

pytestmark = pytest.mark.engine

HADOLINT = ROOT / ".venv" / "bin" / "hadolint"
INJECT = "\nRUN touch /pwned\n"
AWKWARD_ENV = {
    "ODD": 'say "hi" back\\slash $HOME ${X} `x` it\'s',
    "TAIL": "c:\\",
    "EVIL": "x" + INJECT,
}
AWKWARD_LABELS = {"odd": "two\\\\ then end \\", "sp ace": "a b", "evil": "v" + INJECT, "k=v": "x"}
SCRIPT = (
    "set -e\n"
    'echo "quoted \\"setup\\" in $0" > /srv/setup.txt\n'
    "mkdir -p '/srv/named\nRUN touch '\n"
    "touch '/srv/named\nRUN touch /pwned'\n"
    "chown 1234:1234 '/srv/named\nRUN touch /pwned'\n"
    "printf 'plain\\n' > '/srv/with space'\n"
)
ENTRYPOINT = ["/bin/bash", "-c", 'echo "$0" \\ $HOME\nexec "$@"', "ep"]
# a multi-line script with quotes, as `docker run IMAGE bash -c "..."` leaves it
CMD = ["bash", "-c", 'apt-get update && echo "a\\"b" \\\n  && echo $HOME\nexit 0']


@pytest.fixture(scope="module")
def awkward_image(docker_client: Any, base_image: str, cleanup: list[tuple[str, str]]) -> str:
    """A committed container: quotes, backslashes, newlines and `$` in CMD/ENTRYPOINT/ENV/LABEL,
    USER root, a WORKDIR with a space, and a file whose name holds a newline and a RUN."""
    name = f"drift-test-awkward-{RUN_ID}"
    c = run_script(
        docker_client,
        base_image,
        SCRIPT,
        name,
        cleanup,
        environment=AWKWARD_ENV,
        labels=AWKWARD_LABELS,
        working_dir="/my app",
        user="root",
    )
    changes = [f"ENTRYPOINT {json.dumps(ENTRYPOINT)}", f"CMD {json.dumps(CMD)}"]
    return commit(c, "drift-test/awkward", cleanup, changes=changes)


def test_hostile_values_inject_nothing_and_the_rest_rebuilds_identical(
    docker_client: Any, awkward_image: str, tmp_path: Path, cleanup: list[tuple[str, str]]
) -> None:
    out = tmp_path / "snap"
    proc = run_drift("snapshot", awkward_image, "-o", str(out), "--verify", "--network", "host")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "findings: no drift" in proc.stdout
    assert "/pwned" not in proc.stdout
    dockerfile = (out / "Dockerfile").read_text()
    assert not [line for line in dockerfile.splitlines() if line.lstrip().startswith("RUN touch")]
    for what in ("ENV EVIL", "LABEL evil", "LABEL k=v", "/srv/named\\x0aRUN touch /pwned"):
        assert f"left out {what}" in proc.stderr
    assert "drift: note: the CMD is the command the container was started with" in proc.stderr
    assert "# hadolint ignore=DL3002" in dockerfile

    lint = subprocess.run(
        [str(HADOLINT), "--failure-threshold", "warning", str(out / "Dockerfile")], capture_output=True, text=True
    )
    assert lint.returncode == 0, lint.stdout + dockerfile

    # Build it again by hand: the marker an injected RUN would leave is absent, and every value a
    # Dockerfile can hold is exactly the original's.
    tag = f"drift-test/awkward-rebuilt:{RUN_ID}"
    image = build(docker_client, out, tag, cleanup)
    marker = docker_client.containers.run(
        tag, ["-c", "test -e /pwned && echo PWNED || echo clean"], entrypoint=["/bin/sh"], remove=True
    )
    assert marker.decode().strip() == "clean"
    original = docker_client.images.get(awkward_image).attrs["Config"]
    rebuilt = image.attrs["Config"]
    env = dict(item.split("=", 1) for item in rebuilt["Env"])
    assert env["ODD"] == AWKWARD_ENV["ODD"] and env["TAIL"] == AWKWARD_ENV["TAIL"] and "EVIL" not in env
    for key in ("odd", "sp ace"):
        assert rebuilt["Labels"][key] == AWKWARD_LABELS[key]
    assert "evil" not in rebuilt["Labels"]
    for key in ("Cmd", "Entrypoint", "WorkingDir", "User"):
        assert rebuilt[key] == original[key], key
    assert rebuilt["Cmd"] == CMD and rebuilt["Entrypoint"] == ENTRYPOINT


def test_cmd_override_is_written_and_said(awkward_image: str, tmp_path: Path) -> None:
    out = tmp_path / "snap"
    proc = run_drift("snapshot", awkward_image, "-o", str(out), "--cmd", '["sleep", "infinity"]', check=0)
    dockerfile = (out / "Dockerfile").read_text()
    assert 'CMD ["sleep", "infinity"]' in dockerfile
    assert "# CMD replaced by --cmd" in dockerfile and "left out CMD: replaced by --cmd" in proc.stderr


def test_accounts_keep_the_order_of_their_lines(
    docker_client: Any, base_image: str, tmp_path: Path, cleanup: list[tuple[str, str]]
) -> None:
    """Groups and users added by hand in an order that is neither by name nor by id."""
    name = f"drift-test-accounts-{RUN_ID}"
    script = (
        "groupadd -g 3002 zeta && useradd -u 3001 -M -s /bin/bash bob && groupadd -g 3000 alpha"
        " && useradd -u 2999 -M carol && usermod -aG alpha,zeta bob"
    )
    c = run_script(docker_client, base_image, script, name, cleanup)
    image = commit(c, "drift-test/accounts", cleanup)
    out = tmp_path / "snap"
    proc = run_drift("snapshot", image, "-o", str(out), "--verify", "--network", "host")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "findings: no drift" in proc.stdout
    dockerfile = (out / "Dockerfile").read_text()
    order = [dockerfile.index(s) for s in ("groupadd -g 3002 zeta", "groupadd -g 3000 alpha")]
    order += [dockerfile.index(s) for s in ("-u 3001", "-u 2999")]
    assert order == sorted(order)


def test_diff_fix_of_a_hostile_image_adds_no_instruction(
    docker_client: Any, awkward_image: str, base_image: str, tmp_path: Path, cleanup: list[tuple[str, str]]
) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(f"FROM {base_image}\n")
    proc = run_drift("diff", awkward_image, str(dockerfile), "--fix")
    assert proc.returncode == 1, proc.stderr
    fixed = dockerfile.read_text()
    assert not [line for line in fixed.splitlines() if line.lstrip().startswith("RUN touch")], fixed
    assert "ENV ODD=" in fixed and 'LABEL "sp ace"=' in fixed and "EVIL" not in fixed
    assert "/srv/named\\x0aRUN touch /pwned" in fixed  # named in a comment, escaped
    image = build(docker_client, tmp_path, f"drift-test/awkward-fixed:{RUN_ID}", cleanup)
    env = dict(item.split("=", 1) for item in image.attrs["Config"]["Env"])
    assert env["ODD"] == AWKWARD_ENV["ODD"] and image.attrs["Config"]["Labels"]["sp ace"] == "a b"
    marker = docker_client.containers.run(
        image.id, ["-c", "test -e /pwned && echo PWNED || echo clean"], entrypoint=["/bin/sh"], remove=True
    )
    assert marker.decode().strip() == "clean"
