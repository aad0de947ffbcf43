"""CycloneDX BOMs of real images: `drift inspect -f cyclonedx` and `drift report -o cyclonedx:DIR`.

The hand-made image (apt-get install, pip install, a venv, files written by hand, committed)
gives a BOM that the library's strict validator accepts, that syft reads back with every
package, and that holds what drift knows; a secret-looking ENV value appears nowhere.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RUN_ID, commit, run_drift, sh

pytestmark = pytest.mark.engine
SECRET = "sk_live_cdx0123456789abcdefXYZ"
SYFT = os.path.join(os.path.dirname(sys.executable), "syft")


def _validate(text: str) -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    assert error is None, str(error)[:2000]


def _props(component: dict[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in component.get("properties", []):
        out.setdefault(p["name"], []).append(p["value"])
    return out


def _packages(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(c["name"], c["version"]) for c in doc["components"] if c["type"] != "file"}


@pytest.fixture(scope="module")
def hand_bom(hand_image: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    path = tmp_path_factory.mktemp("cdx") / "hand.cdx.json"
    run_drift("inspect", hand_image, "-f", "cyclonedx", "-o", str(path), check=0)
    return path, path.read_text()


def test_inspect_bom_is_valid_and_holds_every_package(hand_image: str, hand_bom: tuple[Path, str]) -> None:
    _, text = hand_bom
    _validate(text)
    doc = json.loads(text)
    inv = json.loads(run_drift("inspect", hand_image, "-f", "json", check=0).stdout)
    expected = {(p["name"], p["version"]) for p in inv["packages"]}
    assert _packages(doc) == expected
    by_ref = {c["bom-ref"]: c for c in doc["components"]}
    pip3 = by_ref["apt:python3-pip"]
    assert pip3["purl"].startswith("pkg:deb/debian/python3-pip@") and "distro=debian-12" in pip3["purl"]
    assert "arch=all" in pip3["purl"]
    p = _props(pip3)
    assert p["drift:origin"] == ["later-layer"] and p["drift:apt:manual"] == ["true"]
    layer = int(p["drift:layer"][0])
    assert layer >= 1 and p["drift:layer:id"] == _props(doc["metadata"]["component"])[f"drift:layer:{layer}"]
    libc = next(c for c in doc["components"] if c["name"] == "libc6")
    assert _props(libc)["drift:origin"] == ["base-image"] and _props(libc)["drift:layer"] == ["0"]
    requests = next(c for c in doc["components"] if c["name"] == "requests")
    assert requests["purl"] == "pkg:pypi/requests@2.31.0"
    assert _props(requests)["drift:pip:requested"] == ["true"]
    six = next(c for c in doc["components"] if c["name"] == "six")
    assert _props(six)["drift:pip:environment"] == ["/opt/venv"]
    deps = {d["ref"]: set(d.get("dependsOn", [])) for d in doc["dependencies"]}
    urllib3 = next(c["bom-ref"] for c in doc["components"] if c["name"] == "urllib3")
    assert urllib3 in deps[requests["bom-ref"]]
    assert "apt:python3:amd64" in deps["apt:python3-pip"]
    image = doc["metadata"]["component"]
    assert image["type"] == "container" and image["version"].startswith("sha256:")
    assert _props(image)["drift:target:id"] == [inv["target"]["id"]]


def test_inspect_bom_hand_made_files_have_their_sha256(
    docker_client: Any, hand_image: str, hand_bom: tuple[Path, str]
) -> None:
    doc = json.loads(hand_bom[1])
    files = {c["name"]: c for c in doc["components"] if c["type"] == "file"}
    assert "/etc/myapp.conf" in files and "/etc/issue.net" not in files  # deleted: no component
    out = docker_client.containers.run(hand_image, ["sha256sum", "/etc/myapp.conf"], remove=True, network_mode="host")
    assert files["/etc/myapp.conf"]["hashes"] == [{"alg": "SHA-256", "content": out.decode().split()[0]}]
    assert _props(files["/etc/myapp.conf"])["drift:finding:category"] == ["file"]


def test_syft_reads_every_package_back(hand_bom: tuple[Path, str], tmp_path: Path) -> None:
    path, text = hand_bom
    env = {**os.environ, "SYFT_CHECK_FOR_APP_UPDATE": "false"}
    proc = subprocess.run(
        [SYFT, "convert", str(path), "-o", "spdx-json"], capture_output=True, text=True, env=env, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    spdx = json.loads(proc.stdout)
    read_back = {(p["name"], p.get("versionInfo")) for p in spdx["packages"]}
    packages = _packages(json.loads(text))
    assert len(packages) > 100 and packages <= read_back, sorted(packages - read_back)[:10]


def test_secret_env_value_appears_nowhere(
    docker_client: Any, hand_image: str, cleanup: list[tuple[str, str]], tmp_path: Path
) -> None:
    name = f"drift-test-cdx-secret-{RUN_ID}"
    container = docker_client.containers.create(hand_image, ["true"], name=name)
    cleanup.append(("container", name))
    tag = commit(container, "drift-test/cdx-secret", cleanup, changes=[f"ENV STRIPE_API_KEY={SECRET}"])
    out = tmp_path / "secret.cdx.json"
    run_drift("inspect", tag, "-f", "cyclonedx", "-o", str(out), check=0)
    text = out.read_text()
    _validate(text)
    assert SECRET not in text and "STRIPE_API_KEY" not in text
    shown = run_drift("inspect", tag, "-f", "cyclonedx", "--show-secrets", check=0).stdout
    assert SECRET not in shown  # a BOM holds no env value, whatever --show-secrets says


def test_report_writes_one_valid_bom_per_target(
    docker_client: Any, hand_image: str, cleanup: list[tuple[str, str]], tmp_path: Path
) -> None:
    name = f"drift-test-cdx-report-{RUN_ID}"
    container = docker_client.containers.run(
        hand_image, ["sleep", "infinity"], name=name, detach=True, network_mode="host"
    )
    cleanup.append(("container", name))
    store = f"sqlite:///{tmp_path / 'store.db'}"
    folder = tmp_path / "boms"
    run_drift("report", name, hand_image, "--store", store, "-q", check=0)  # the first run: the baselines
    sh(container, "echo 'debug=1' > /etc/myapp.override")
    proc = run_drift("report", name, hand_image, "--store", store, "-q", "-o", f"cyclonedx:{folder}")
    assert proc.returncode == 1, proc.stderr  # a new finding: the file written by hand
    boms = sorted(folder.iterdir())
    assert len(boms) == 2, boms
    docs = {}
    for path in boms:
        text = path.read_text()
        _validate(text)
        doc = json.loads(text)
        docs[doc["metadata"]["component"]["name"]] = doc
    assert set(docs) == {name, hand_image}
    assert _packages(docs[name]) == _packages(docs[hand_image])
    override = next(c for c in docs[name]["components"] if c["name"] == "/etc/myapp.override")
    p = _props(override)
    assert p["drift:finding:state"] == ["new"] and p["drift:finding:category"] == ["file"]
    assert p["drift:finding:severity"]
    assert not any(c["name"] == "/etc/myapp.override" for c in docs[hand_image]["components"])
