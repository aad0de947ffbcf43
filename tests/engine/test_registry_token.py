"""`registry:` targets on a registry with Bearer token auth: Debian's docker-registry (distribution 2.8,
scripts/registry.sh with REGISTRY_TOKEN_REALM: TLS with its own CA, `auth: token:`) sends clients to a
token server of this test's own (http.server in a thread, 127.0.0.1 only), which checks Basic
credentials (or an identity token, OAuth2's refresh_token grant) and answers RS256 JWTs that the
registry verifies through their x5c header (the issuer's self-signed certificate, which is the
registry's rootcertbundle). drift reads the pushed image with no engine and must find what the
engine's image holds, having asked the token server with the Docker config's credentials; without
them, or with wrong ones, it says so on one line and never shows them."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import ROOT, RUN_ID, commit, run_drift, run_script
from tests.engine.test_registry import (
    Registry,
    _free_port,
    docker_login,
    inspect_json,
    one_line_error,
    same_inventory,
)

pytestmark = pytest.mark.engine
SERVICE = "drift-test"
ISSUER = "drift-test-issuer"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class TokenServer:
    """Docker's token protocol for one user: GET REALM?service=S&scope=repository:NAME:ACTIONS with
    Basic credentials, or an OAuth2 POST (grant_type=refresh_token) with the identity token this
    server stands for having issued at a login. Every request is recorded: who, with what grant,
    whether it held, for which scopes, from which client (credentials themselves are not kept)."""

    folder: Path  # token.key and token.crt (made by registry.sh), user, password
    identity_token: str = field(default_factory=lambda: "rt-" + uuid.uuid4().hex, repr=False)
    requests: list[dict[str, Any]] = field(default_factory=list)
    public: set[str] = field(default_factory=set)  # repositories anyone may pull, as on Docker Hub
    lock: threading.Lock = field(default_factory=threading.Lock)

    def jwt(self, subject: str, access: list[dict[str, Any]]) -> str:
        pem = (self.folder / "token.crt").read_text()
        der_b64 = "".join(line for line in pem.splitlines() if line and not line.startswith("-----"))
        header = {"typ": "JWT", "alg": "RS256", "x5c": [der_b64]}
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "sub": subject,
            "aud": SERVICE,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", str(self.folder / "token.key")],
            input=signing_input.encode(),
            capture_output=True,
            check=True,
        ).stdout
        return f"{signing_input}.{_b64url(signature)}"

    def answer(self, method: str, path: str, headers: Any, body: bytes) -> tuple[int, dict[str, Any]]:
        url = urlsplit(path)
        params = parse_qs(url.query) if method == "GET" else parse_qs(body.decode())
        user, grant, valid = None, None, False
        authorization = headers.get("Authorization", "")
        if method == "POST":
            grant = (params.get("grant_type") or [""])[0]
            valid = grant == "refresh_token" and params.get("refresh_token") == [self.identity_token]
            user = "drift" if valid else None
        elif authorization.startswith("Basic "):
            grant = "basic"
            try:
                user, _, password = base64.b64decode(authorization[6:]).decode().partition(":")
            except ValueError:
                user, password = "?", ""
            valid = user == (self.folder / "user").read_text().strip() and password == (
                (self.folder / "password").read_text().strip()
            )
        scopes = [s for value in params.get("scope", []) for s in value.split()]
        if method == "GET" and not authorization and scopes:  # anonymous: pulls of public repositories only
            valid = all(s.startswith("repository:") and s.rsplit(":", 1)[1] == "pull" for s in scopes) and all(
                s.split(":")[1] in self.public for s in scopes
            )
        valid = valid and url.path == "/token" and params.get("service") == [SERVICE]
        record = {"user": user, "grant": grant, "valid": valid, "scopes": scopes}
        with self.lock:
            self.requests.append({**record, "agent": headers.get("User-Agent", ""), "status": 200 if valid else 401})
        if not valid:
            return 401, {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]}
        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            access.append({"type": kind, "name": name, "actions": [a for a in actions.split(",") if a]})
        token = self.jwt(user or "", access)
        if method == "POST":  # OAuth2's answer has access_token only
            return 200, {"access_token": token, "expires_in": 300, "scope": " ".join(scopes)}
        return 200, {"token": token, "access_token": token, "expires_in": 300}

    def drift_requests(self) -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self.requests if r["agent"].startswith("drift/")]


@pytest.fixture(scope="module")
def token_registry(
    docker_client: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Registry, TokenServer]]:
    folder = tmp_path_factory.mktemp("token-registry") / "srv"
    config = tmp_path_factory.mktemp("token-docker-config")
    tokens = TokenServer(folder)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._reply(*tokens.answer("GET", self.path, self.headers, b""))

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self._reply(*tokens.answer("POST", self.path, self.headers, body))

        def _reply(self, status: int, doc: dict[str, Any]) -> None:
            body = json.dumps(doc).encode()
            self.send_response(status)
            if status == 401:
                self.send_header("WWW-Authenticate", f'Basic realm="{SERVICE}"')
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="token-server", daemon=True)
    thread.start()
    realm = f"http://127.0.0.1:{server.server_address[1]}/token"
    script = str(ROOT / "scripts" / "registry.sh")
    try:
        host = subprocess.run(
            ["bash", script, "start", str(folder), str(_free_port())],
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, "REGISTRY_TOKEN_REALM": realm},
        ).stdout.strip()
        password = (folder / "password").read_text().strip()
        docker_login(host, password, config)  # through the token server too (a token for no scope)
        yield Registry(host, "drift", password, folder, config), tokens
    finally:
        subprocess.run(["bash", script, "stop", str(folder)], check=False)
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        shutil.rmtree(config, ignore_errors=True)  # the login's credentials


@pytest.fixture(scope="module")
def token_image(docker_client: Any, base_image: str, cleanup: list[Any]) -> str:
    """A small image of this test's own on the base: one file more."""
    container = run_script(
        docker_client, base_image, "echo token > /etc/drift-token", f"drift-test-tok-{RUN_ID}", cleanup
    )
    return commit(container, "drift-test/token", cleanup)


@pytest.fixture(scope="module")
def token_pushed(token_registry: tuple[Registry, TokenServer], token_image: str, base_image: str) -> dict[str, str]:
    """The image and its base in the registry, pushed by skopeo with the credentials (through the
    token server, which must have granted push)."""
    registry, tokens = token_registry
    refs = {
        "base": registry.push(base_image, "drift-test-token-base"),
        "image": registry.push(token_image, "drift-test-token"),
        "public": registry.push(token_image, "drift-test-token-public"),
    }
    tokens.public.add(_repo(refs["public"]))
    with tokens.lock:
        assert any("push" in s for r in tokens.requests if r["valid"] for s in r["scopes"]), tokens.requests
    return refs


def _repo(ref: str) -> str:
    return ref.split("/", 1)[1].rsplit(":", 1)[0]


def test_a_token_registry_image_with_no_engine_is_the_engines_inventory(
    token_registry: tuple[Registry, TokenServer],
    token_image: str,
    base_image: str,
    token_pushed: dict[str, str],
    tmp_path: Path,
) -> None:
    import requests

    registry, tokens = token_registry
    ref, repo = token_pushed["image"], _repo(token_pushed["image"])
    # the registry does send clients to the token server (Bearer, not Basic as with htpasswd)
    with requests.Session() as session:
        session.trust_env = False
        resp = session.get(
            f"https://{registry.host}/v2/{repo}/manifests/{RUN_ID}", verify=str(registry.folder / "ca.crt")
        )
    challenge = resp.headers.get("WWW-Authenticate", "")
    assert resp.status_code == 401 and challenge.startswith('Bearer realm="http://127.0.0.1:'), challenge
    assert f'service="{SERVICE}"' in challenge and f'scope="repository:{repo}:pull"' in challenge

    local = inspect_json(token_image, "--base", base_image)
    before = len(tokens.drift_requests())
    env = registry.env(DRIFT_CACHE_DIR=str(tmp_path / "cache"))
    proc = run_drift(
        "inspect", f"registry:{ref}", "--base", token_pushed["base"], "--no-cache", "-f", "json", env=env, check=0
    )
    remote = json.loads(proc.stdout)
    same_inventory(local, remote)
    assert remote["target"]["kind"] == "registry" and remote["target"]["id"] == local["target"]["id"]
    assert remote["target"]["digest"].startswith(f"{registry.host}/{repo}@sha256:")
    asked = tokens.drift_requests()[before:]
    assert asked, "drift read the image without asking the token server"
    assert all(r["grant"] == "basic" and r["user"] == "drift" and r["valid"] for r in asked), asked
    # one token per repository read (the image's and its base's), each asked for pulling only
    scopes = sorted(s for r in asked for s in r["scopes"])
    assert scopes == sorted([f"repository:{repo}:pull", f"repository:{_repo(token_pushed['base'])}:pull"]), asked
    assert registry.password not in proc.stdout + proc.stderr
    assert not (tmp_path / "cache" / "blobs").exists()


def test_without_or_with_wrong_credentials_one_line_and_exit_2(
    token_registry: tuple[Registry, TokenServer], token_pushed: dict[str, str], tmp_path: Path
) -> None:
    registry, tokens = token_registry
    ref = token_pushed["image"]
    empty = tmp_path / "empty"
    empty.mkdir()
    before = len(tokens.drift_requests())
    proc = run_drift("inspect", f"registry:{ref}", "--no-cache", env={**registry.env(), "DOCKER_CONFIG": str(empty)})
    line = one_line_error(proc)
    assert line.startswith("drift: error: auth:") and registry.host in line
    assert "needs credentials" in line and f"run 'docker login {registry.host}'" in line
    asked = tokens.drift_requests()[before:]
    assert asked and all(r["grant"] is None and r["status"] == 401 for r in asked), asked  # asked anonymously

    wrong = tmp_path / "wrong"
    wrong.mkdir()
    bad = "wrong-" + uuid.uuid4().hex
    (wrong / "config.json").write_text(json.dumps({"auths": {registry.host: {"username": "drift", "password": bad}}}))
    before = len(tokens.drift_requests())
    proc = run_drift("inspect", f"registry:{ref}", "--no-cache", env={**registry.env(), "DOCKER_CONFIG": str(wrong)})
    line = one_line_error(proc)
    assert line.startswith("drift: error: auth:") and "refused the credentials" in line and registry.host in line
    assert f"run 'docker login {registry.host}' again" in line
    assert bad not in proc.stderr and registry.password not in proc.stderr
    asked = tokens.drift_requests()[before:]
    assert asked and all(r["user"] == "drift" and not r["valid"] and r["status"] == 401 for r in asked), asked


def test_an_identity_token_is_exchanged_as_a_refresh_token(
    token_registry: tuple[Registry, TokenServer], token_pushed: dict[str, str], tmp_path: Path
) -> None:
    """What `docker login` keeps when the token server gives a refresh token: `identitytoken` (and
    `auth` of the user name alone). drift POSTs it as an OAuth2 refresh_token grant and reads the
    answer's access_token; a token the server does not know is refused on one line."""
    registry, tokens = token_registry
    ref, repo = token_pushed["image"], _repo(token_pushed["image"])

    def config(name: str, identity_token: str) -> dict[str, str]:
        folder = tmp_path / name
        folder.mkdir()
        entry = {"auth": base64.b64encode(b"drift:").decode(), "identitytoken": identity_token}
        (folder / "config.json").write_text(json.dumps({"auths": {registry.host: entry}}))
        return {**registry.env(), "DOCKER_CONFIG": str(folder), "DRIFT_CACHE_DIR": str(tmp_path / "cache")}

    before = len(tokens.drift_requests())
    proc = run_drift("inspect", f"registry:{ref}", "--no-cache", "-f", "json", env=config("id", tokens.identity_token))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["target"]["digest"].startswith(f"{registry.host}/{repo}@sha256:")
    asked = tokens.drift_requests()[before:]
    assert asked and all(r["grant"] == "refresh_token" and r["valid"] for r in asked), asked
    assert {s for r in asked for s in r["scopes"]} == {f"repository:{repo}:pull"}, asked
    assert tokens.identity_token not in proc.stdout + proc.stderr

    before = len(tokens.drift_requests())
    proc = run_drift("inspect", f"registry:{ref}", "--no-cache", env=config("stale", "rt-stale"))
    line = one_line_error(proc)
    assert "auth:" in line and "refused the credentials" in line and "rt-stale" not in line
    asked = tokens.drift_requests()[before:]
    assert asked and all(r["grant"] == "refresh_token" and r["status"] == 401 for r in asked), asked


def test_a_public_repository_is_read_anonymously(
    token_registry: tuple[Registry, TokenServer], token_image: str, token_pushed: dict[str, str], tmp_path: Path
) -> None:
    """No credentials for the registry at all: drift asks the token server anonymously, as docker
    does, and a repository anyone may pull (Docker Hub's public images) is read."""
    registry, tokens = token_registry
    ref, repo = token_pushed["public"], _repo(token_pushed["public"])
    empty = tmp_path / "empty"
    empty.mkdir()
    local = inspect_json(token_image)
    before = len(tokens.drift_requests())
    env = {**registry.env(), "DOCKER_CONFIG": str(empty), "DRIFT_CACHE_DIR": str(tmp_path / "cache")}
    proc = run_drift("inspect", f"registry:{ref}", "--no-cache", "-f", "json", env=env, check=0)
    assert proc.returncode == 0, proc.stderr
    remote = json.loads(proc.stdout)
    assert remote["packages"] == local["packages"] and remote["packages"]
    assert remote["target"]["digest"].startswith(f"{registry.host}/{repo}@sha256:")
    asked = tokens.drift_requests()[before:]
    assert asked and all(r["grant"] is None and r["valid"] for r in asked), asked
    assert {s for r in asked for s in r["scopes"]} == {f"repository:{repo}:pull"}, asked
