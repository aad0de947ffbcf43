"""drift.secrets: what looks secret (by name, by content, in files) and redaction."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma

import pytest

from drift import secrets
from drift.model import ConfigChange, FileChange, Finding, HistoryEntry, ImageConfig, Inventory, Target

KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
    "-----END OPENSSH PRIVATE KEY-----\n"
)
# Token shapes, built so that no complete token sits in this file's text.
TOKENS = [
    "ghp_" + "a1B2c3D4e5" * 4,
    "github_pat_" + "11ABCDEFG0" * 3,
    "glpat-" + "xY9_zW8-vU7t" * 2,
    "xoxb-" + "123456789012-abcdefABCDEF",
    "AKIA" + "IOSFODNN7EXAMPLE",
    "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc",
    "eyJhbGciOiJIUzI1NiJ9" + ".eyJzdWIiOiIxMjM0NTY3ODkwIn0" + ".dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "npm_" + "abcdefghij" * 4,
    "AIza" + "SyA1234567890abcdefghijklmnopqrstuv",
    KEY,
]


@pytest.mark.parametrize("token", TOKENS)
def test_token_shapes_are_secret_in_any_value(token: str) -> None:
    assert secrets.text_reason(f"prefix {token} suffix") is not None
    redacted = secrets.redact_text(f"prefix {token} suffix")
    assert token.strip() not in redacted and secrets.REDACTED in redacted
    assert secrets.redact_value("INNOCENT_NAME", token).strip() == secrets.REDACTED


@pytest.mark.parametrize(
    "value",
    [
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin",
        "3.11.4",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "apt-get install -y --no-install-recommends curl",
        "python3 -m http.server 8080",
    ],
)
def test_ordinary_values_are_not_secret(value: str) -> None:
    assert secrets.text_reason(value) is None
    assert secrets.redact_text(value) == value


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        ("mysqld --password=hunter2-pw --user=app", "hunter2-pw"),
        ("client --api-token tok-123456 --verbose", "tok-123456"),
        ('/bin/sh -c #(nop)  CMD ["srv" "--token" "cmd-tok-789"]', "cmd-tok-789"),
        ("|1 DEPLOY_TOKEN=build-arg-tok /bin/sh -c make", "build-arg-tok"),
        ("export API_KEY=abc-secret-key; ./run", "abc-secret-key"),
        ("pip install --index-url https://user:pw-in-url@pypi.example/simple x", "pw-in-url"),
        ("useradd app && echo 'app:Passw0rd-xyz' | chpasswd", "Passw0rd-xyz"),
    ],
)
def test_options_assignments_and_urls_are_redacted(text: str, gone: str) -> None:
    assert secrets.text_reason(text) is not None
    out = secrets.redact_text(text)
    assert gone not in out and secrets.REDACTED in out


def test_argv_redacts_the_value_after_a_secret_flag() -> None:
    argv = ("server", "--token", "plain-value", "--port", "80", "--password=pw1")
    assert secrets.redact_argv(argv) == ("server", "--token", "<redacted>", "--port", "80", "--password=<redacted>")
    assert secrets.argv_reason(argv) is not None
    assert secrets.argv_reason(("nginx", "-g", "daemon off;")) is None


@pytest.mark.parametrize(
    ("path", "secret"),
    [
        ("/app/.env", True),
        ("/srv/site/.env.production", True),
        ("/root/backup/id_rsa.gz", True),
        ("/home/u/.ssh/known_hosts", True),
        ("/etc/ssl/private/site.key.xz", True),
        ("/etc/shadow", True),
        ("/etc/environment", False),
        ("/usr/lib/python3/dist-packages/envoy.py", False),
    ],
)
def test_paths(path: str, secret: bool) -> None:
    assert (secrets.path_reason(path) is not None) is secret


def test_a_key_after_the_first_64k_is_found() -> None:
    data = ("x" * 100_000 + "\n" + KEY).encode()
    assert secrets.content_reason(io.BytesIO(data)) is not None


def test_a_key_split_by_a_chunk_boundary_is_found() -> None:
    header = b"-----BEGIN RSA PRIVATE KEY-----"
    data = b"y" * ((1 << 20) - 10) + header + b"\nMII\n"
    assert secrets.content_reason(io.BytesIO(data)) is not None


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress, lzma.compress])
def test_compressed_keys_are_found(compress) -> None:  # type: ignore[no-untyped-def]
    data = compress(("z" * 70_000 + KEY).encode())
    assert secrets.content_reason(io.BytesIO(data)) is not None
    assert secrets.content_reason(io.BytesIO(compress(b"just text\n" * 1000))) is None


def test_plain_and_broken_files_are_not_secret() -> None:
    assert secrets.content_reason(io.BytesIO(b"listen=8080\n")) is None
    assert secrets.content_reason(io.BytesIO(b"\x1f\x8bnot really gzip")) is None


def _inventory() -> Inventory:
    config = ImageConfig(
        env=("PATH=/usr/bin", "API_TOKEN=s3cr3t-value", "HARMLESS=" + TOKENS[0], "COLOR=blue"),
        cmd=("server", "--password=cmd-pass-456", "--token", "cmd-tok-789"),
        entrypoint=("/entry", "s3cr3t-value"),
        labels=(("note", "see --password=lbl-pass-123"), ("plain", "fine")),
    )
    history = (
        HistoryEntry("", "|1 DEPLOY_TOKEN=build-arg-tok /bin/sh -c make", "", 0, False, "build", False),
        HistoryEntry("", "/bin/sh -c #(nop)  ENV API_TOKEN=s3cr3t-value", "", 0, True, "build", False),
    )
    key_file = FileChange("/srv/k", "added", "file", 10, 0o600, 0, 0, "unexplained", sha256="ab" * 32, secret="key")
    return Inventory(
        target=Target("image", "x", "test"),
        base=None,
        apt=(),
        pip=(),
        environments=(),
        files=(key_file,),
        config=config,
        base_config=ImageConfig(env=("PATH=/usr/bin",)),
        config_changes=(
            ConfigChange("Env.API_TOKEN", None, "s3cr3t-value"),
            ConfigChange("Cmd", None, list(config.cmd or ())),
        ),
        package_changes=(),
        history=history,
    )


SECRET_VALUES = ("s3cr3t-value", TOKENS[0], "cmd-pass-456", "cmd-tok-789", "lbl-pass-123", "build-arg-tok", "ab" * 32)


def test_redacted_inventory_holds_no_secret_value() -> None:
    inv = _inventory()
    raw = json.dumps(inv.to_json())
    assert all(v in raw for v in SECRET_VALUES)
    out = json.dumps(secrets.redact_inventory(inv).to_json())
    assert not [v for v in SECRET_VALUES if v in out]
    assert "COLOR=blue" in out and '"plain": "fine"' in out and "/usr/bin" in out


def test_findings_lose_secret_values_and_copy_fixes() -> None:
    inv = _inventory()
    findings = [
        Finding("config", None, "Env.API_TOKEN", None, "s3cr3t-value", fix='ENV API_TOKEN="s3cr3t-value"'),
        Finding("config", None, "Env.COLOR", None, "blue", fix='ENV COLOR="blue"'),
        Finding("file", None, "/srv/k", None, {"size": 10}, fix="COPY srv/k /srv/k"),
        Finding("file", None, "/etc/shadow", None, {"size": 10}, fix="COPY etc/shadow /etc/shadow"),
        Finding("file", None, "/etc/motd", None, {"size": 10}, fix="COPY etc/motd /etc/motd"),
    ]
    out = secrets.redact_findings(findings, inv)
    text = json.dumps([f.to_json() for f in out])
    assert "s3cr3t-value" not in text and "COPY srv/k" not in text and "COPY etc/shadow" not in text
    assert out[1].fix == 'ENV COLOR="blue"' and out[4].fix == "COPY etc/motd /etc/motd"
    assert out[0].actual == secrets.REDACTED and "secret" in (out[0].detail or "")


@pytest.mark.parametrize("unit", [b"eyJ-", b"ghp_a-", b"a-", b"-----BEGIN PRIVATE KEY"])
def test_content_scan_is_linear(unit: bytes) -> None:
    """Inputs built to make a regex backtrack: 16 MB, where quadratic work would take hours."""
    import time

    data = unit * ((16 << 20) // len(unit))
    start = time.monotonic()
    secrets.content_reason(io.BytesIO(data))
    assert time.monotonic() - start < 60


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("API_TOKEN", True),
        ("DB_PASSWORD", True),
        ("AUTH_HEADER", True),
        ("GPG_KEY", True),
        ("org.opencontainers.image.authors", False),
        ("KEYBOARD_LAYOUT", False),
        ("PATH", False),
    ],
)
def test_names(name: str, secret: bool) -> None:
    assert secrets.name_looks_secret(name) is secret
