"""`registry:` targets on a real registry (scripts/registry.sh: TLS with its own CA, htpasswd auth),
read by drift with no engine (DOCKER_HOST points at a dead socket), against the engine's own reading
of the same images; zstd layers from skopeo, in a registry and in an OCI layout."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, RUN_ID, run_drift
from tests.engine.conftest import make_context
from tests.engine.test_diff import assert_planted, keys

pytestmark = pytest.mark.engine
DEAD = "unix:///nonexistent/drift-no-engine.sock"


@dataclass
class Registry:
    host: str
    user: str
    password: str
    folder: Path
    docker_config: Path  # `docker login` done here

    def env(self, **extra: str) -> dict[str, str]:
        """What a CI job without an engine has: credentials in a Docker config, no engine."""
        return {"DOCKER_CONFIG": str(self.docker_config), "DOCKER_HOST": DEAD, **extra}

    def push(self, image: str, name: str) -> str:
        """The engine's image into the registry, as `docker push` puts it there (a Docker v2 manifest,
        gzip layers, the same config), by skopeo: no second local tag on the engine's image, which
        tests running beside this one would see as another name of their base image."""
        ref = f"{self.host}/{name}:{RUN_ID}"
        creds = ["--dest-cert-dir", f"/etc/docker/certs.d/{self.host}", "--dest-creds", f"{self.user}:{self.password}"]
        cmd = [_skopeo(), "copy", "-q", *creds, f"docker-daemon:{image}", f"docker://{ref}"]
        subprocess.run(cmd, check=True, capture_output=True)
        return ref


def docker_login(host: str, password: str, config: Path) -> None:
    """`docker login` as the user `drift`, its credentials kept in the Docker config folder CONFIG."""
    subprocess.run(
        ["docker", "login", "-u", "drift", "--password-stdin", host],
        input=password,
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "DOCKER_CONFIG": str(config)},
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def registry(docker_client: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    folder = tmp_path_factory.mktemp("registry") / "srv"
    script = str(ROOT / "scripts" / "registry.sh")
    try:
        host = subprocess.run(
            ["bash", script, "start", str(folder), str(_free_port())], check=True, capture_output=True, text=True
        ).stdout.strip()
        config = tmp_path_factory.mktemp("docker-config")
        password = (folder / "password").read_text().strip()
        docker_login(host, password, config)
        yield Registry(host, "drift", password, folder, config)
    finally:
        subprocess.run(["bash", script, "stop", str(folder)], check=False)


@pytest.fixture(scope="session")
def pushed(registry: Registry, base_image: str, df_image: str, df_changed: str) -> dict[str, str]:
    return {
        "base": registry.push(base_image, "drift-test-base"),
        "df": registry.push(df_image, "drift-test-df"),
        "changed": registry.push(df_changed, "drift-test-dfchg"),
    }


def inspect_json(*args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    return json.loads(run_drift("inspect", *args, "-f", "json", env=env, check=0).stdout)


def same_inventory(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert a["packages"] == b["packages"]
    assert a["files"] == b["files"]
    assert a["packages"] and a["files"]


def test_a_registry_image_with_no_engine_is_the_engines_inventory(
    registry: Registry, pushed: dict[str, str], df_changed: str, base_image: str, tmp_path: Path
) -> None:
    local = inspect_json(df_changed, "--base", base_image)
    env = registry.env(DRIFT_CACHE_DIR=str(tmp_path / "cache"))
    remote = inspect_json(f"registry:{pushed['changed']}", "--base", pushed["base"], env=env)
    same_inventory(local, remote)
    assert remote["target"]["kind"] == "registry" and remote["target"]["id"] == local["target"]["id"]
    assert remote["target"]["digest"].startswith(f"{registry.host}/drift-test-dfchg@sha256:")
    # the layers were kept uncompressed in the cache folder under their diff_ids (the engine's own
    # layer ids), and a second run downloads none again
    layers = tmp_path / "cache" / "blobs" / "layers"
    before = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in layers.iterdir()}
    diff_ids = json.loads(
        subprocess.run(
            ["docker", "image", "inspect", "-f", "{{json .RootFS.Layers}}", df_changed],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    assert {n for n in before if n.endswith(".tar")} == {d.split(":")[1] + ".tar" for d in diff_ids}
    again = inspect_json(f"registry:{pushed['changed']}", "--base", pushed["base"], env=env)
    same_inventory(local, again)
    assert {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in layers.iterdir()} == before


def test_by_digest_and_with_a_credential_helper(
    registry: Registry, pushed: dict[str, str], df_changed: str, base_image: str, tmp_path: Path
) -> None:
    """`@sha256:` names the manifest; credentials from `credHelpers` through docker-credential-NAME."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helper = bin_dir / "docker-credential-drifttest"
    answer = json.dumps({"ServerURL": registry.host, "Username": registry.user, "Secret": registry.password})
    helper.write_text(f"#!/bin/sh\ncat >/dev/null\necho '{answer}'\n")
    helper.chmod(0o755)
    config = tmp_path / "config"
    config.mkdir()
    (config / "config.json").write_text(json.dumps({"credHelpers": {registry.host: "drifttest"}}))
    env = {
        "DOCKER_CONFIG": str(config),
        "DOCKER_HOST": DEAD,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "DRIFT_CACHE_DIR": str(tmp_path / "cache"),
    }
    tagged = inspect_json(f"registry:{pushed['changed']}", "--base", pushed["base"], env=env)
    digest = tagged["target"]["digest"].split("@", 1)[1]
    name = pushed["changed"].rsplit(":", 1)[0]
    by_digest = inspect_json(f"registry:{name}@{digest}", "--base", pushed["base"], "--no-cache", env=env)
    same_inventory(tagged, by_digest)
    local = inspect_json(df_changed, "--base", base_image)
    same_inventory(local, by_digest)


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stdout == ""
    return lines[0]


def test_without_credentials_one_line_and_exit_2(registry: Registry, pushed: dict[str, str], tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = run_drift("inspect", f"registry:{pushed['df']}", env={**registry.env(), "DOCKER_CONFIG": str(empty)})
    line = one_line_error(proc)
    assert "auth:" in line and f"docker login {registry.host}" in line
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    (wrong / "config.json").write_text(json.dumps({"auths": {registry.host: {"username": "drift", "password": "x"}}}))
    proc = run_drift("inspect", f"registry:{pushed['df']}", env={**registry.env(), "DOCKER_CONFIG": str(wrong)})
    line = one_line_error(proc)
    assert "auth:" in line and "refused the credentials" in line and "'x'" not in line


def test_a_bad_ca_is_one_line_and_exit_2(registry: Registry, pushed: dict[str, str], tmp_path: Path) -> None:
    other = tmp_path / "certs.d" / registry.host
    other.mkdir(parents=True)
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=another CA",
            "-keyout",
            str(tmp_path / "k.pem"),
            "-out",
            str(other / "ca.crt"),
        ],
        check=True,
        capture_output=True,
    )
    env = registry.env(DRIFT_CERTS_D=str(tmp_path / "certs.d"))
    line = one_line_error(run_drift("inspect", f"registry:{pushed['df']}", env=env))
    assert line.startswith("drift: error: TLS:") and "certificate verify failed" in line and "ca.crt" in line


def test_diff_of_a_registry_image_against_its_dockerfile_without_engine(
    registry: Registry, pushed: dict[str, str], df_changed: str, df_context: Path, tmp_path: Path
) -> None:
    """What a CI job runs: the pushed image against the Dockerfile; FROM is read from the registry."""
    ctx = make_context(tmp_path / "ctx", pushed["base"])
    env = registry.env(DRIFT_CACHE_DIR=str(tmp_path / "cache"))
    proc = run_drift("diff", f"registry:{pushed['changed']}", str(ctx / "Dockerfile"), "-f", "json", env=env, check=1)
    remote = json.loads(proc.stdout)
    assert_planted(remote)
    local = json.loads(run_drift("diff", df_changed, str(df_context / "Dockerfile"), "-f", "json", check=1).stdout)
    assert keys(remote) == keys(local)
    clean = run_drift("diff", f"registry:{pushed['df']}", str(ctx / "Dockerfile"), env=env, check=0)
    assert "in sync" in clean.stdout


def _skopeo() -> str:
    found = shutil.which("skopeo")
    if found is None:
        subprocess.run(["bash", "-c", "apt-get install -y -q skopeo >/dev/null"], check=True)
        found = shutil.which("skopeo")
    assert found
    return found


def test_zstd_layers_in_a_layout_and_in_a_registry(
    registry: Registry, pushed: dict[str, str], df_changed: str, base_image: str, tmp_path: Path
) -> None:
    skopeo = _skopeo()
    source = f"docker-daemon:{df_changed}"
    for fmt in ("gzip", "zstd"):
        dest = f"oci:{tmp_path / fmt}:x"
        subprocess.run([skopeo, "copy", "-q", "--dest-compress-format", fmt, source, dest], check=True)
    manifest = json.loads((tmp_path / "zstd" / "index.json").read_text())["manifests"][0]["digest"]
    layers = json.loads((tmp_path / "zstd" / "blobs" / "sha256" / manifest.split(":")[1]).read_text())["layers"]
    assert {layer["mediaType"] for layer in layers} == {"application/vnd.oci.image.layer.v1.tar+zstd"}
    gz = inspect_json(f"oci:{tmp_path / 'gzip'}", "--base", base_image, "--no-cache")
    zs = inspect_json(f"oci:{tmp_path / 'zstd'}", "--base", base_image, "--no-cache")
    same_inventory(gz, zs)
    ref = f"{registry.host}/drift-test-zstd:{RUN_ID}"
    subprocess.run(
        [
            skopeo,
            "copy",
            "-q",
            "--dest-compress-format",
            "zstd",
            "--dest-cert-dir",
            f"/etc/docker/certs.d/{registry.host}",
            "--dest-creds",
            f"{registry.user}:{registry.password}",
            source,
            f"docker://{ref}",
        ],
        check=True,
    )
    remote = inspect_json(f"registry:{ref}", "--base", pushed["base"], "--no-cache", env=registry.env())
    same_inventory(gz, remote)


def test_a_local_inspect_imports_no_registry_or_zstd_code(base_image: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "drift", "inspect", base_image, "-f", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "drift.sources.docker" in proc.stderr  # -X importtime lists what was imported
    for module in ("zstandard", "drift.sources.registry", "drift.sources.zstd"):
        assert module not in proc.stderr


def test_a_base_pushed_to_a_registry_keeps_its_own_name_and_no_foreign_digest(
    registry: Registry, docker_client: Any, base_image: str, cleanup: list[Any], tmp_path: Path
) -> None:
    """A base of this test's own, tagged HOST/NAME and pushed with `docker push`, gets a second tag
    and that registry's RepoDigest: a child image's base is still named by its own tag, and never
    pinned FROM NAME@(the other repository's digest), which a build would look up under NAME."""
    from tests.conftest import commit, run_script

    base = commit(run_script(docker_client, base_image, "echo b > /etc/pbase", f"drift-test-pb-{RUN_ID}", cleanup),
                  "drift-test/pbase", cleanup)  # fmt: skip
    ref = f"{registry.host}/drift-test-pbase:{RUN_ID}"
    subprocess.run(["docker", "tag", base, ref], check=True)
    cleanup.append(("image", ref))
    env = {**os.environ, "DOCKER_CONFIG": str(registry.docker_config)}
    subprocess.run(["docker", "push", "-q", ref], check=True, capture_output=True, env=env)
    digests = subprocess.run(
        ["docker", "image", "inspect", "-f", "{{json .RepoDigests}}", base], capture_output=True, text=True
    ).stdout
    assert "drift-test-pbase@sha256:" in digests  # the push did give it a foreign digest
    child = commit(run_script(docker_client, base, "echo c > /etc/child", f"drift-test-pc-{RUN_ID}", cleanup),
                   "drift-test/pchild", cleanup)  # fmt: skip
    doc = inspect_json(child)
    assert doc["base"]["name"] == base
    assert doc["base"]["digest"] is None
    out = tmp_path / "snap"
    run_drift("snapshot", child, "-o", str(out), check=0)
    assert f"FROM {base}" in (out / "Dockerfile").read_text().splitlines()


def _session(registry: Registry) -> Any:
    import requests

    session = requests.Session()
    session.auth = (registry.user, registry.password)
    session.trust_env = False  # else REQUESTS_CA_BUNDLE would replace the registry's CA
    session.verify = str(registry.folder / "ca.crt")
    return session


def _push_raw(
    registry: Registry,
    name: str,
    layer: bytes,
    diff_id: str,
    *,
    gzipped: bool = True,
    arch: str = "amd64",
    tag: str = RUN_ID,
) -> str:
    """Push a one-layer image through the distribution API as it is given: a gzipped LAYER and a
    config naming DIFF_ID (which need not be the layer's), as a forger or a broken pusher could."""
    session = _session(registry)
    base = f"https://{registry.host}/v2/{name}"

    def put_blob(data: bytes) -> dict[str, Any]:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        start = session.post(f"{base}/blobs/uploads/")
        assert start.status_code == 202, start.text
        location = start.headers["Location"]
        sep = "&" if "?" in location else "?"
        url = location if location.startswith("http") else f"https://{registry.host}{location}"
        done = session.put(
            f"{url}{sep}digest={digest}", data=data, headers={"Content-Type": "application/octet-stream"}
        )
        assert done.status_code == 201, done.text
        return {"digest": digest, "size": len(data)}

    config = {
        "architecture": arch,
        "os": "linux",
        "config": {"Env": ["PATH=/usr/bin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created_by": "a test"}],
    }
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **put_blob(json.dumps(config).encode())},
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar" + ("+gzip" if gzipped else ""),
                **put_blob(gzip.compress(layer) if gzipped else layer),
            }
        ],
    }
    resp = session.put(
        f"{base}/manifests/{tag}",
        data=json.dumps(manifest),
        headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
    )
    assert resp.status_code == 201, resp.text
    return f"{registry.host}/{name}:{tag}"


def _push_index(registry: Registry, name: str, platforms: dict[str, str]) -> str:
    """An OCI image index over manifests already in repository NAME: {"os/arch": tag}; an
    attestation entry (platform unknown/unknown, as BuildKit adds) among them."""
    session = _session(registry)
    base = f"https://{registry.host}/v2/{name}"
    oci = "application/vnd.oci.image.manifest.v1+json"
    entries = []
    for plat, tag in [*platforms.items(), ("unknown/unknown", next(iter(platforms.values())))]:
        body = session.get(f"{base}/manifests/{tag}", headers={"Accept": oci}).content
        os_, arch = plat.split("/")
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        entries.append(
            {"mediaType": oci, "digest": digest, "size": len(body), "platform": {"os": os_, "architecture": arch}}
        )
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries}
    resp = session.put(
        f"{base}/manifests/{RUN_ID}",
        data=json.dumps(index),
        headers={"Content-Type": "application/vnd.oci.image.index.v1+json"},
    )
    assert resp.status_code == 201, resp.text
    return f"{registry.host}/{name}:{RUN_ID}"


def _one_file_tar(path: str, content: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        info = tarfile.TarInfo(path)
        info.size, info.mode, info.mtime = len(content), 0o644, 1_700_000_000
        tar.addfile(info, io.BytesIO(content))
    return buf.getvalue()


def test_a_layer_that_is_not_its_configs_diff_id_is_refused_and_not_kept(registry: Registry, tmp_path: Path) -> None:
    layer = _one_file_tar("etc/hello", b"hello\n")
    other = "sha256:" + hashlib.sha256(layer + b"x").hexdigest()
    ref = _push_raw(registry, "drift-test-forged", layer, other)
    cache = tmp_path / "cache"
    line = one_line_error(run_drift("inspect", f"registry:{ref}", env=registry.env(DRIFT_CACHE_DIR=str(cache))))
    assert "hashes to" in line and other in line and "diff_id" in line
    layers = cache / "blobs" / "layers"
    assert not list(layers.iterdir())  # nothing kept under the claimed diff_id, no part file left
    # the same layer under its true diff_id is read, and kept under it
    good = _push_raw(registry, "drift-test-honest", layer, "sha256:" + hashlib.sha256(layer).hexdigest())
    out = inspect_json(f"registry:{good}", env=registry.env(DRIFT_CACHE_DIR=str(cache)))
    assert out["target"]["kind"] == "registry"
    assert [p.name for p in layers.iterdir() if p.suffix == ".tar"] == [hashlib.sha256(layer).hexdigest() + ".tar"]
    # an uncompressed layer (OCI's plain `tar` media type) is read the same
    plain = _one_file_tar("etc/plain", b"plain\n")
    ref = _push_raw(registry, "drift-test-plain", plain, "sha256:" + hashlib.sha256(plain).hexdigest(), gzipped=False)
    inspect_json(f"registry:{ref}", env=registry.env(DRIFT_CACHE_DIR=str(cache)))
    assert (layers / (hashlib.sha256(plain).hexdigest() + ".tar")).read_bytes() == plain


def test_a_changed_kept_layer_is_fetched_again_not_trusted(
    registry: Registry, pushed: dict[str, str], base_image: str, tmp_path: Path
) -> None:
    env = registry.env(DRIFT_CACHE_DIR=str(tmp_path / "cache"))
    first = inspect_json(f"registry:{pushed['changed']}", "--base", pushed["base"], env=env)
    layers = tmp_path / "cache" / "blobs" / "layers"
    tars = sorted(layers.glob("*.tar"), key=lambda p: p.stat().st_size)
    victim = tars[-1]
    before = victim.stat()
    with open(victim, "r+b") as fh:  # one byte changed in the middle, its mtime put back
        fh.seek(before.st_size // 2)
        byte = fh.read(1)
        fh.seek(before.st_size // 2)
        fh.write(bytes([byte[0] ^ 0xFF]))
    os.utime(victim, ns=(before.st_atime_ns, before.st_mtime_ns))
    again = inspect_json(f"registry:{pushed['changed']}", "--base", pushed["base"], env=env)
    same_inventory(first, again)
    after = victim.stat()
    assert after.st_ino != before.st_ino  # fetched again and put in its place
    assert "sha256:" + hashlib.sha256(victim.read_bytes()).hexdigest() == "sha256:" + victim.stem
    untouched = {p.name: p.stat().st_ino for p in tars[:-1]}
    inspect_json(f"registry:{pushed['changed']}", "--base", pushed["base"], env=env)
    assert {p.name: p.stat().st_ino for p in tars[:-1]} == untouched and victim.stat().st_ino == after.st_ino


def test_no_cache_keeps_nothing(registry: Registry, pushed: dict[str, str], tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = registry.env(DRIFT_CACHE_DIR=str(tmp_path / "cache"), TMPDIR=str(tmp))
    out = inspect_json(f"registry:{pushed['df']}", "--no-cache", env=env)
    assert out["packages"]
    assert list(tmp.iterdir()) == [] and not (tmp_path / "cache" / "blobs").exists()


def test_no_cache_fetches_again_what_it_did_not_hold(
    registry: Registry, pushed: dict[str, str], df_changed: str, base_image: str, tmp_path: Path
) -> None:
    """--no-cache writes no tar when it scans: a later read beyond the dpkg database it held
    (--verify-packages hashes every package file) fetches the layer again, and the answer is the
    engine's; nothing is left behind."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = registry.env(DRIFT_CACHE_DIR=str(tmp_path / "cache"), TMPDIR=str(tmp))
    local = inspect_json(df_changed, "--base", base_image, "--verify-packages")
    remote = inspect_json(
        f"registry:{pushed['changed']}", "--base", pushed["base"], "--no-cache", "--verify-packages", env=env
    )
    same_inventory(local, remote)
    assert remote["package_changes"] == local["package_changes"]
    assert list(tmp.iterdir()) == [] and not (tmp_path / "cache" / "blobs").exists()


def test_an_image_index_is_read_for_the_platform_asked(registry: Registry, tmp_path: Path) -> None:
    """An index (a multi-platform image): linux/amd64 by default, --platform picks another, an
    attestation entry is no platform, and a platform the index lacks is one line, exit 2."""
    name = "drift-test-index"
    for arch in ("amd64", "arm64"):
        layer = _one_file_tar(f"etc/{arch}", arch.encode())
        _push_raw(
            registry, name, layer, "sha256:" + hashlib.sha256(layer).hexdigest(), arch=arch, tag=f"{arch}-{RUN_ID}"
        )
    ref = _push_index(registry, name, {"linux/amd64": f"amd64-{RUN_ID}", "linux/arm64": f"arm64-{RUN_ID}"})
    env = registry.env(DRIFT_CACHE_DIR=str(tmp_path / "cache"))

    def image_id(target: str, *args: str) -> str:
        return str(inspect_json(f"registry:{target}", *args, env=env)["target"]["id"])

    amd64, arm64 = (image_id(f"{registry.host}/{name}:{arch}-{RUN_ID}") for arch in ("amd64", "arm64"))
    assert amd64 != arm64
    assert image_id(ref) == amd64
    assert image_id(ref, "--platform", "linux/arm64") == arm64
    line = one_line_error(run_drift("inspect", f"registry:{ref}", "--platform", "linux/s390x", env=env))
    assert "has no linux/s390x image" in line and "linux/amd64, linux/arm64" in line and "unknown" not in line
    line = one_line_error(run_drift("inspect", f"registry:{ref}", "--platform", "amd64", env=env))
    assert "OS/ARCH" in line
    # a single-platform image asked for another platform: said, not read as if it were that one
    single = f"registry:{registry.host}/{name}:amd64-{RUN_ID}"
    line = one_line_error(run_drift("inspect", single, "--platform", "linux/arm64", env=env))
    assert "is a linux/amd64 image, not linux/arm64" in line


def test_snapshot_of_a_registry_image_without_engine_is_the_engines_snapshot(
    registry: Registry, pushed: dict[str, str], df_changed: str, base_image: str, tmp_path: Path
) -> None:
    """`drift snapshot registry:...` in a job with no engine writes the Dockerfile and build context
    the engine-side snapshot of the same image writes, FROM the base's registry name."""
    local, remote = tmp_path / "local", tmp_path / "remote"
    run_drift("snapshot", df_changed, "--base", base_image, "-o", str(local), check=0)
    env = registry.env(DRIFT_CACHE_DIR=str(tmp_path / "cache"))
    proc = run_drift(
        "snapshot", f"registry:{pushed['changed']}", "--base", pushed["base"], "-o", str(remote), env=env, check=0
    )
    assert "Traceback" not in proc.stderr

    def tree(root: Path) -> dict[str, bytes]:
        return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}

    want, got = tree(local), tree(remote)
    assert set(want) == set(got) and {"Dockerfile", "drift-inventory.json"} <= set(got)
    for name in set(want) - {"Dockerfile", "drift-inventory.json"}:
        assert got[name] == want[name], name  # the build context: the same bytes
    # the Dockerfile: FROM the base's registry name; only the header comments say where it came from
    mine, theirs = (
        [line for line in doc["Dockerfile"].decode().splitlines() if not line.startswith("# ")] for doc in (got, want)
    )
    assert mine == [line.replace(f"FROM {base_image}", f"FROM {pushed['base']}") for line in theirs]
    assert f"FROM {pushed['base']}" in mine
    # the inventory: the same, but for the target's name and the history's precision (the engine API
    # gives seconds and sizes, the image config nanoseconds and no sizes)
    a, b = (json.loads(doc["drift-inventory.json"]) for doc in (want, got))
    assert a["target"]["id"] == b["target"]["id"] and b["target"]["kind"] == "registry"
    for key in set(a) - {"target", "base", "history"}:
        assert a[key] == b[key], key

    def steps(doc: dict[str, Any]) -> list[tuple[str, str, str]]:
        return [(h["created"][:19], h["created_by"], h["origin"]) for h in doc["history"]]

    assert steps(a) == steps(b) and all(h["created"].endswith("Z") for h in a["history"] + b["history"])
