"""Multi-stage builds on a real engine: a builder stage installs into a venv, a --target or a
--prefix folder (requirements files, a local project, a local wheel from the build context) and
the final stage COPY --from's it. Static and --build agree on 0 findings; a package installed by
hand into the copied environment (a `docker commit` layer) is still found."""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RUN_ID, build, commit, run_drift, run_script

pytestmark = pytest.mark.engine

APT = """RUN apt-get update \\
 && apt-get install -y --no-install-recommends python3 python3-venv python3-pip \\
 && rm -rf /var/lib/apt/lists/*"""

VENV = f"""FROM {{base}} AS builder
{APT}
RUN python3 -m venv /opt/venv
ENV PATH="/opt/venv/bin:$PATH"
WORKDIR /src
COPY requirements.txt pyproject.toml ./
COPY src ./src
RUN pip install --no-cache-dir -r requirements.txt && pip install --no-cache-dir .

FROM {{base}}
{APT}
COPY --from=builder /opt/venv /opt/venv
ENV PATH="/opt/venv/bin:$PATH"
CMD ["python", "-c", "import hello, six"]
"""

TARGET = f"""FROM {{base}} AS builder
{APT}
COPY requirements.txt constraints.txt /tmp/
RUN pip install --no-cache-dir --break-system-packages --target /install \\
      -r /tmp/requirements.txt -c /tmp/constraints.txt

FROM {{base}}
{APT}
COPY --from=builder /install /usr/local/lib/python3.11/dist-packages
CMD ["python3", "-c", "import six, idna"]
"""

PREFIX = f"""FROM {{base}} AS builder
{APT}
WORKDIR /build
COPY requirements.txt ./
COPY dist/ ./dist/
RUN pip install --no-cache-dir --break-system-packages --prefix=/install \\
      -r requirements.txt dist/tool-1.0-py3-none-any.whl

FROM {{base}}
{APT}
# Debian's pip puts a --prefix install under PREFIX/local
COPY --from=builder /install/local /usr/local
CMD ["python3", "-c", "import tool, idna"]
"""

PYPROJECT = """[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "hello-app"
version = "0.3.1"
dependencies = ["idna==3.6"]

[tool.setuptools.packages.find]
where = ["src"]
"""


def wheel(path: Path) -> None:
    """tool 1.0, a pure wheel that requires six (PEP 427), written by hand."""
    files = {
        "tool/__init__.py": b"X = 1\n",
        "tool-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: tool\nVersion: 1.0\nRequires-Dist: six==1.16.0\n",
        "tool-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: drift-tests\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
    }
    record = [
        f"{n},sha256={base64.urlsafe_b64encode(hashlib.sha256(d).digest()).rstrip(b'=').decode()},{len(d)}"
        for n, d in files.items()
    ]
    with zipfile.ZipFile(path, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
        z.writestr("tool-1.0.dist-info/RECORD", "\n".join([*record, "tool-1.0.dist-info/RECORD,,"]) + "\n")


def make(folder: Path, kind: str, base: str) -> Path:
    folder.mkdir(parents=True)
    if kind == "venv":
        (folder / "requirements.txt").write_text("six==1.16.0\n")
        (folder / "pyproject.toml").write_text(PYPROJECT)
        (folder / "src" / "hello").mkdir(parents=True)
        (folder / "src" / "hello" / "__init__.py").write_text("X = 1\n")
    elif kind == "target":
        (folder / "requirements.txt").write_text("six\nidna\n")
        (folder / "constraints.txt").write_text("six==1.16.0\nidna==3.6\n")
    else:
        (folder / "requirements.txt").write_text("idna==3.6\n")
        (folder / "dist").mkdir()
        wheel(folder / "dist" / "tool-1.0-py3-none-any.whl")
    text = {"venv": VENV, "target": TARGET, "prefix": PREFIX}[kind]
    (folder / "Dockerfile").write_text(text.format(base=base))
    return folder


# where each pattern's packages are in the final image, and a pip that installs into it by hand
WHERE = {
    "venv": ("/opt/venv/lib/python3.11/site-packages", "/opt/venv/bin/pip install"),
    "target": ("/usr/local/lib/python3.11/dist-packages", "pip install --break-system-packages"),
    "prefix": ("/usr/local/lib/python3.11/dist-packages", "pip install --break-system-packages"),
}


@pytest.fixture(scope="module", params=sorted(WHERE))
def staged(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    docker_client: Any,
    base_image: str,
    cleanup: list[tuple[str, str]],
) -> tuple[str, Path, str]:
    kind = request.param
    context = make(tmp_path_factory.mktemp(f"stages-{kind}") / "ctx", kind, base_image)
    tag = f"drift-test/stages-{kind}:{RUN_ID}"
    build(docker_client, context, tag, cleanup)
    return tag, context / "Dockerfile", kind


def diff(*args: str, code: int) -> list[dict[str, Any]]:
    proc = run_drift("diff", *args, "--format", "json", check=code)
    return json.loads(proc.stdout)["findings"]


def test_static_audit_reads_what_the_copied_stage_declares(staged: tuple[str, Path, str]) -> None:
    tag, dockerfile, _ = staged
    assert diff(tag, str(dockerfile), code=0) == []


def test_build_mode_agrees(staged: tuple[str, Path, str]) -> None:
    tag, dockerfile, _ = staged
    assert diff(tag, str(dockerfile), "--build", "--network", "host", code=0) == []


def test_a_package_installed_by_hand_into_the_copied_environment_is_found(
    staged: tuple[str, Path, str], docker_client: Any, cleanup: list[tuple[str, str]]
) -> None:
    tag, dockerfile, kind = staged
    site, pip = WHERE[kind]
    name = f"drift-test-stages-{kind}-{RUN_ID}"
    container = run_script(docker_client, tag, f"{pip} -q --no-cache-dir attrs==23.2.0", name, cleanup)
    cmd = docker_client.images.get(tag).attrs["Config"]["Cmd"]
    changed = commit(container, f"drift-test/stages-{kind}-hand", cleanup, changes=[f"CMD {json.dumps(cmd)}"])
    findings = diff(changed, str(dockerfile), code=1)
    assert [(f["category"], f["name"], f["actual"], f["location"]) for f in findings] == [
        ("undocumented", "attrs", "23.2.0", site)
    ]
