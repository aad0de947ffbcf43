"""No secret leaves drift, in any command or format, unless asked for (real engine).

The image holds secrets by name (ENV API_TOKEN), by content (a token in an innocent ENV, a
password in a LABEL and in CMD arguments), a build arg in history, a private key after the
first 64 KB of a file, a gzip-compressed key, a key inside a compressed blob, a `.env` file
and a password hash in /etc/shadow.
"""

from __future__ import annotations

import gzip
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RUN_ID, build, run_drift

pytestmark = pytest.mark.engine

KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
    "-----END OPENSSH PRIVATE KEY-----\n"
)
GH_TOKEN = "ghp_" + "a1B2c3D4e5" * 4  # built here, so this file holds no whole token
SECRETS = (
    "s3cr3t-value",
    GH_TOKEN,
    "lbl-pass-123",
    "cmd-pass-456",
    "cmd-tok-789",
    "build-arg-tok-000",
    "PRIVATE KEY",
    "db-password-in-dotenv",
    "Passw0rd-xyz",
)
COPIES = ("COPY etc/shadow", "COPY root/backup/id_rsa.gz", "COPY app/.env", "COPY srv/big.log", "COPY srv/blob.bin")


@pytest.fixture(scope="module")
def secret_build(
    docker_client: Any, base_image: str, tmp_path_factory: pytest.TempPathFactory, cleanup: list[tuple[str, str]]
) -> tuple[str, Path]:
    ctx = tmp_path_factory.mktemp("secrets")
    (ctx / "big.log").write_text("x" * 100_000 + "\n" + KEY)
    (ctx / "id_rsa.gz").write_bytes(gzip.compress(KEY.encode()))
    (ctx / "blob.bin").write_bytes(gzip.compress(("y" * 70_000 + KEY).encode()))
    (ctx / "dotenv").write_text("DB_PASSWORD=db-password-in-dotenv\n")
    (ctx / "Dockerfile").write_text(
        f"FROM {base_image}\n"
        "ARG DEPLOY_TOKEN\n"
        "RUN useradd -u 1500 appuser && echo 'appuser:Passw0rd-xyz' | chpasswd"
        ' && echo "$DEPLOY_TOKEN" | wc -c > /srv/len\n'
        "COPY big.log /srv/big.log\n"
        "COPY id_rsa.gz /root/backup/id_rsa.gz\n"
        "COPY blob.bin /srv/blob.bin\n"
        "COPY dotenv /app/.env\n"
        f'ENV API_TOKEN="s3cr3t-value" HARMLESS="{GH_TOKEN}" APP_COLOR=blue\n'
        'LABEL deploy.note="see --password=lbl-pass-123" org.example.plain="fine"\n'
        'CMD ["myserver", "--password=cmd-pass-456", "--token", "cmd-tok-789"]\n'
    )
    tag = f"drift-test/secrets:{RUN_ID}"
    build(docker_client, ctx, tag, cleanup, buildargs={"DEPLOY_TOKEN": "build-arg-tok-000"})
    minimal = ctx / "minimal.Dockerfile"
    minimal.write_text(f"FROM {base_image}\n")
    return tag, minimal


def leaks(text: str) -> list[str]:
    return [s for s in SECRETS + COPIES if s in text]


@pytest.mark.parametrize("fmt", ["table", "json", "markdown", "sarif", "junit"])
def test_diff_shows_no_secret_in_any_format(secret_build: tuple[str, Path], fmt: str) -> None:
    image, minimal = secret_build
    proc = run_drift("diff", image, str(minimal), "--format", fmt)
    assert proc.returncode == 1, proc.stderr
    assert leaks(proc.stdout) == []
    # still reported: the key file, and the user whose password was set (its state, never the hash)
    assert "/root/backup/id_rsa.gz" in proc.stdout and "appuser" in proc.stdout


def test_diff_findings_say_why_and_keep_harmless_fixes(secret_build: tuple[str, Path]) -> None:
    image, minimal = secret_build
    data = json.loads(run_drift("diff", image, str(minimal), "--format", "json").stdout)
    by_name = {f["name"]: f for f in data["findings"]}
    for path in ("/root/backup/id_rsa.gz", "/srv/big.log", "/srv/blob.bin", "/app/.env"):
        assert by_name[path]["fix"] is None and "secret" in by_name[path]["detail"], path
    # the account files useradd and chpasswd wrote are one account finding: a password set, no hash
    assert by_name["user appuser"]["category"] == "account"
    assert by_name["user appuser"]["actual"]["password"] == "set"
    assert "/etc/shadow" not in by_name and "/etc/passwd" not in by_name
    assert by_name["Env.API_TOKEN"]["actual"] == "<redacted>" and by_name["Env.API_TOKEN"]["fix"] is None
    assert by_name["Env.APP_COLOR"]["fix"] == 'ENV APP_COLOR="blue"'
    shown = json.loads(run_drift("diff", image, str(minimal), "--format", "json", "--show-secrets").stdout)
    assert "s3cr3t-value" in json.dumps(shown)


def test_patch_and_fix_write_no_secret(secret_build: tuple[str, Path], tmp_path: Path) -> None:
    image, minimal = secret_build
    patch = run_drift("diff", image, str(minimal), "--patch")
    assert patch.returncode == 1 and leaks(patch.stdout) == []
    assert 'ENV APP_COLOR="blue"' in patch.stdout
    target = tmp_path / "Dockerfile"
    target.write_text(minimal.read_text())
    run_drift("diff", image, str(target), "--fix")
    fixed = target.read_text()
    assert leaks(fixed) == [] and "ENV API_TOKEN" not in fixed
    assert "/root/backup/id_rsa.gz" in fixed  # named in the comment of files nothing explains


@pytest.mark.parametrize("fmt", ["table", "json", "markdown"])
def test_inspect_redacts_by_default(secret_build: tuple[str, Path], fmt: str) -> None:
    image, _ = secret_build
    proc = run_drift("inspect", image, "--format", fmt, check=0)
    assert leaks(proc.stdout) == []
    if fmt == "json":
        data = json.loads(proc.stdout)
        assert "APP_COLOR=blue" in data["config"]["Env"]
        files = {f["path"]: f for f in data["files"]}
        assert files["/srv/big.log"]["secret"] and files["/srv/big.log"]["sha256"] is None
        assert files["/srv/len"]["secret"] is None and files["/srv/len"]["sha256"]


def test_inspect_show_secrets(secret_build: tuple[str, Path]) -> None:
    image, _ = secret_build
    out = run_drift("inspect", image, "--format", "json", "--show-secrets", check=0).stdout
    for value in ("s3cr3t-value", GH_TOKEN, "cmd-pass-456", "build-arg-tok-000"):
        assert value in out


def test_snapshot_writes_no_secret_and_says_what_it_left_out(secret_build: tuple[str, Path], tmp_path: Path) -> None:
    image, _ = secret_build
    out = tmp_path / "snap"
    proc = run_drift("snapshot", image, "-o", str(out), check=0)
    written = "".join(p.read_text(errors="replace") for p in out.rglob("*") if p.is_file())
    assert leaks(written) == []
    for path in ("srv/big.log", "root/backup/id_rsa.gz", "srv/blob.bin", "app/.env"):
        assert not (out / "files" / path).exists(), path
    assert (out / "files/srv/len").exists()
    for what in ("ENV API_TOKEN", "ENV HARMLESS", "LABEL deploy.note", "CMD", "/srv/big.log", "/app/.env"):
        assert f"left out {what}" in proc.stderr, what
    dockerfile = (out / "Dockerfile").read_text()
    assert "ARG HARMLESS" in dockerfile and "LABEL org.example.plain=fine" in dockerfile
    lint = subprocess.run(
        [str(Path(__file__).resolve().parents[2] / ".venv/bin/hadolint"), "--failure-threshold", "warning", "-"],
        input=dockerfile,
        capture_output=True,
        text=True,
    )
    assert lint.returncode == 0, lint.stdout
