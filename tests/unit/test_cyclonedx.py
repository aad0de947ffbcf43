"""CycloneDX BOMs built from fixture inventories: schema-valid (the library's strict validator),
purls, dependency edges, drift's properties, findings on their component, no secret."""

from __future__ import annotations

import json
from typing import Any

import pytest

from drift.inventory import origin
from drift.model import (
    AptPackage,
    BaseRef,
    ConffileChange,
    FileChange,
    ImageConfig,
    Inventory,
    PackageDigest,
    PipPackage,
    PythonEnv,
    Target,
)
from drift.render import cyclonedx, report_cyclonedx
from drift.secrets import redact_inventory
from tests.unit.helpers import tar_layer, view_of

SITE = "/usr/local/lib/python3.11/dist-packages"
VENV_SITE = "/opt/venv/lib/python3.11/site-packages"
TOKEN = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"


def apt_pkg(name: str, version: str = "1.0", arch: str = "amd64", **kw: Any) -> AptPackage:
    return AptPackage(name, version, arch, kw.pop("source", name), kw.pop("source_version", version), True, **kw)


def pip_pkg(name: str, version: str, site: str = SITE, env: str = "/usr/local", **kw: Any) -> PipPackage:
    return PipPackage(name, version, site, kw.pop("requested", False), env, f"{site}/{name}-{version}.dist-info", **kw)


def inventory() -> Inventory:
    libc = apt_pkg("libc6", "2.36-9+deb12u4", source="glibc")
    apt = (
        libc,
        apt_pkg("mawk", "1.3.4", provides=("awk",), depends=("libc6 (>= 2.34)",)),
        apt_pkg("curl", "7.88.1", depends=("libc6 (>= 2.17)", "gawk | awk", "missing-pkg")),
        apt_pkg(
            "python3-pip",
            "23.0.1+dfsg-1",
            "all",
            source="python-pip",
            conffiles_changed=(ConffileChange("/etc/pip.conf", "modified"),),
        ),
    )
    pip = (
        pip_pkg("requests", "2.31.0", requires=("urllib3", "charset_normalizer", "idna"), requested=True),
        pip_pkg("urllib3", "2.0.7"),
        pip_pkg("charset-normalizer", "3.3.2"),
        pip_pkg("six", "1.16.0", site=VENV_SITE, env="/opt/venv", venv="/opt/venv", requested=True),
        pip_pkg("needs-idna", "1.0", site=VENV_SITE, env="/opt/venv", venv="/opt/venv", requires=("idna", "six")),
        pip_pkg("idna", "3.4"),
    )
    envs = (
        PythonEnv("/usr/local", "local", (SITE,)),
        PythonEnv("/opt/venv", "venv", (VENV_SITE,)),
    )
    files = (
        FileChange("/etc/myapp.conf", "added", "file", 12, 0o644, 0, 0, "unexplained", sha256="a" * 64),
        FileChange("/root/.ssh/id_rsa", "added", "file", 99, 0o600, 0, 0, "unexplained", sha256="b" * 64),
        FileChange(
            "/usr/bin/curl",
            "modified",
            "file",
            9,
            0o755,
            0,
            0,
            "unexplained",
            sha256="c" * 64,
            package_file=PackageDigest("apt:curl", "md5", "1" * 32, "2" * 32),
        ),
        FileChange("/etc/issue.net", "deleted", "file", 0, 0o644, 0, 0, "unexplained"),
        FileChange("/usr/share/doc/x", "added", "file", 1, 0o644, 0, 0, "package", owner="curl"),
    )
    config = ImageConfig(env=(f"GITHUB_TOKEN={TOKEN}", "APP_MODE=prod-mode-value"), labels=(("k", "label-value"),))
    inv = Inventory(
        target=Target("image", "shop:1", "image", id="sha256:" + "1" * 64, digest="sha256:" + "2" * 64),
        base=BaseRef("debian:12", "sha256:" + "3" * 64, "parent", 1),
        apt=apt,
        pip=pip,
        environments=envs,
        files=files,
        config=config,
        base_config=None,
        config_changes=(),
        package_changes=(),
        history=(),
        base_apt=(libc,),
    )
    return redact_inventory(inv)


PROV = origin.Provenance(
    distro_id="debian",
    distro_version="12",
    layer_ids=("sha256:" + "4" * 64, "sha256:" + "5" * 64),
    package_layers=(("apt:libc6:amd64", 0), ("apt:curl:amd64", 1), (f"pip:requests@{SITE}", 1)),
)


def bom(findings: list[dict[str, Any]] | None = None) -> tuple[str, dict[str, Any]]:
    text = cyclonedx.render(inventory(), PROV, findings or [])
    return text, json.loads(text)


def props(component: dict[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in component.get("properties", []):
        out.setdefault(p["name"], []).append(p["value"])
    return out


def component(doc: dict[str, Any], ref: str) -> dict[str, Any]:
    return next(c for c in doc["components"] if c["bom-ref"] == ref)


def test_bom_is_valid_cyclonedx_1_6() -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    text, doc = bom([{"category": "file", "name": "/etc/myapp.conf", "severity": "high", "fingerprint": "f1"}])
    assert doc["specVersion"] == "1.6" and doc["bomFormat"] == "CycloneDX"
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None


def test_purls_for_deb_and_pypi() -> None:
    _, doc = bom()
    purls = {c["bom-ref"]: c.get("purl") for c in doc["components"]}
    assert (
        purls["apt:libc6:amd64"] == "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12&upstream=glibc"
    )
    assert purls["apt:python3-pip"] == (
        "pkg:deb/debian/python3-pip@23.0.1%2Bdfsg-1?arch=all&distro=debian-12&upstream=python-pip"
    )
    assert purls["apt:mawk:amd64"] == "pkg:deb/debian/mawk@1.3.4?arch=amd64&distro=debian-12"
    assert purls[f"pip:charset-normalizer@{SITE}"] == "pkg:pypi/charset-normalizer@3.3.2"


def test_image_is_the_metadata_component() -> None:
    _, doc = bom()
    image = doc["metadata"]["component"]
    assert image["type"] == "container" and image["name"] == "shop:1"
    assert image["version"] == "sha256:" + "2" * 64
    p = props(image)
    assert p["drift:target:id"] == ["sha256:" + "1" * 64]
    assert p["drift:layer:1"] == ["sha256:" + "5" * 64]
    assert p["drift:base:name"] == ["debian:12"]
    assert doc["metadata"]["tools"]["components"][0]["name"] == "drift"


def test_dependency_edges_resolve_to_installed_packages() -> None:
    _, doc = bom()
    deps = {d["ref"]: set(d.get("dependsOn", [])) for d in doc["dependencies"]}
    # gawk is not installed: the alternative awk is, provided by mawk; missing-pkg has no edge
    assert deps["apt:curl:amd64"] == {"apt:libc6:amd64", "apt:mawk:amd64"}
    assert deps["apt:mawk:amd64"] == {"apt:libc6:amd64"}
    assert deps[f"pip:requests@{SITE}"] == {f"pip:urllib3@{SITE}", f"pip:charset-normalizer@{SITE}", f"pip:idna@{SITE}"}
    # a venv without system site packages does not see /usr/local's idna
    assert deps[f"pip:needs-idna@{VENV_SITE}"] == {f"pip:six@{VENV_SITE}"}
    assert len(deps[cyclonedx.IMAGE_REF]) == len(doc["components"])


def test_drift_properties() -> None:
    _, doc = bom()
    libc, curl = component(doc, "apt:libc6:amd64"), component(doc, "apt:curl:amd64")
    assert props(libc)["drift:origin"] == ["base-image"] and props(libc)["drift:layer"] == ["0"]
    assert props(curl)["drift:origin"] == ["later-layer"]
    assert props(curl)["drift:layer:id"] == ["sha256:" + "5" * 64]
    assert props(curl)["drift:modified-file"] == ["/usr/bin/curl"]
    assert props(curl)["drift:apt:manual"] == ["true"]
    assert props(component(doc, "apt:python3-pip"))["drift:apt:conffile:modified"] == ["/etc/pip.conf"]
    req = props(component(doc, f"pip:requests@{SITE}"))
    assert req["drift:pip:requested"] == ["true"] and req["drift:pip:environment"] == ["/usr/local"]
    assert props(component(doc, f"pip:urllib3@{SITE}"))["drift:pip:requested"] == ["false"]


def test_hand_made_files_with_hashes_and_no_secret() -> None:
    text, doc = bom()
    files = {c["name"]: c for c in doc["components"] if c["type"] == "file"}
    assert set(files) == {"/etc/myapp.conf", "/root/.ssh/id_rsa", "/usr/bin/curl"}  # not deleted, not packaged
    assert files["/etc/myapp.conf"]["hashes"] == [{"alg": "SHA-256", "content": "a" * 64}]
    assert "hashes" not in files["/root/.ssh/id_rsa"] and props(files["/root/.ssh/id_rsa"])["drift:file:secret"]
    for value in (TOKEN, "prod-mode-value", "label-value", "GITHUB_TOKEN"):
        assert value not in text


def test_findings_go_on_the_component_they_concern() -> None:
    findings = [
        {"category": "file", "name": "/etc/myapp.conf", "severity": "high", "fingerprint": "f1", "state": "new"},
        {"category": "undocumented", "manager": "pip", "name": "Requests", "location": SITE, "severity": "medium",
         "fingerprint": "f2", "detail": "pip install by hand"},
        {"category": "config", "name": "Env.GITHUB_TOKEN", "severity": "high", "fingerprint": "f3",
         "detail": f"was {TOKEN}"},
    ]  # fmt: skip
    text, doc = bom(findings)
    conf = props(component(doc, "file:/etc/myapp.conf"))
    assert conf["drift:finding:severity"] == ["high"] and conf["drift:finding:state"] == ["new"]
    assert conf["drift:finding"] == ["severity=high category=file state=new fingerprint=f1: /etc/myapp.conf"]
    req = props(component(doc, f"pip:requests@{SITE}"))
    assert req["drift:finding:category"] == ["undocumented"]
    image = props(doc["metadata"]["component"])
    assert image["drift:finding:category"] == ["config"]
    assert TOKEN not in text  # a config finding's detail is left out
    assert "drift:finding" not in props(component(doc, f"pip:urllib3@{SITE}"))


def test_os_release_and_package_layers_from_a_view() -> None:
    base = tar_layer(
        {
            "/usr/lib/os-release": 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n',
            "/var/lib/dpkg/info/libc6:amd64.list": "/.\n",
        },
        links={"/etc/os-release": "../usr/lib/os-release"},
    )
    top = tar_layer(
        {
            "/var/lib/dpkg/info/curl.list": "/.\n",
            f"{SITE}/requests-2.31.0.dist-info/METADATA": "Name: requests\nVersion: 2.31.0\n",
        }
    )
    view = view_of(base, top)
    assert origin.os_release(view) == ("debian", "12")
    layers = origin.package_layers(view, inventory())
    assert layers["apt:libc6:amd64"] == 0 and layers["apt:curl:amd64"] == 1 and layers[f"pip:requests@{SITE}"] == 1
    assert "apt:mawk:amd64" not in layers  # its record is gone: no layer is claimed


@pytest.mark.parametrize(
    ("line", "expected"),
    [("ID=ubuntu", "ubuntu"), ('ID="debian"', "debian"), ("ID='alpine'", "alpine"), ("# ID=x", None)],
)
def test_parse_os_release(line: str, expected: str | None) -> None:
    assert origin.parse_os_release(line + "\n").get("ID") == expected


def test_report_file_names_stay_in_the_folder(tmp_path: Any) -> None:
    boms = {"default/container/../../etc/passwd": "{}", "default/image/shop:1": "{}", "default/image/shop_1": "{}"}
    paths = report_cyclonedx.write(str(tmp_path / "boms"), boms)
    assert len(set(paths)) == 3
    for p in paths:
        assert p.startswith(str(tmp_path / "boms") + "/") and "/" not in p[len(str(tmp_path / "boms")) + 1 :]
    assert sorted(p.rsplit("/", 1)[1] for p in paths)[2] == "default_image_shop_1.cdx.json"
