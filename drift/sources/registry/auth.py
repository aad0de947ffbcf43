"""Registry credentials, read from the Docker config as the docker CLI reads them.

`$DOCKER_CONFIG/config.json` (else `~/.docker/config.json`): `credHelpers[HOST]` names the
helper for one registry, else `credsStore` the helper for all, else `auths[HOST]` holds them
(`auth` = base64 of user:password, or `username`/`password`, or an `identitytoken`). A helper
is the program `docker-credential-NAME`, run as `docker-credential-NAME get` with the server
address on stdin; it answers `{"Username": ..., "Secret": ...}` (`<token>` as the user name
means the secret is an identity token). Docker Hub's key is `https://index.docker.io/v1/`.

Credentials never leave this module except as an Authorization header for the registry (or
its token service); they are never part of a message or an output.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import subprocess
from dataclasses import dataclass, field

from drift.errors import RegistryAuthError
from drift.sources.contexts import config_dir

DOCKER_HUB = "docker.io"
HUB_KEY = "https://index.docker.io/v1/"
HELPER_TIMEOUT = 60  # seconds a credential helper may take (it may ask a keychain)
_HELPER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str = ""
    password: str = field(default="", repr=False)
    identity_token: str = field(default="", repr=False)
    source: str = ""  # where they came from, for messages ("auths in /root/.docker/config.json")

    def __bool__(self) -> bool:
        return bool(self.username and self.password) or bool(self.identity_token)


def config_path() -> str:
    return os.path.join(config_dir(), "config.json")


def _read_config() -> dict[str, object]:
    try:
        with open(config_path(), encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise RegistryAuthError(
            f"cannot read the Docker config {config_path()} for registry credentials ({exc}): fix or remove it"
        ) from None
    return data if isinstance(data, dict) else {}


def _hostname(key: str) -> str:
    """A config key as the docker CLI compares it: without scheme and path."""
    key = key.removeprefix("http://").removeprefix("https://")
    return key.split("/", 1)[0]


def _key(host: str) -> str:
    return HUB_KEY if host == DOCKER_HUB else host


def lookup(host: str) -> Credentials:
    """The credentials the docker CLI would use for registry HOST (empty ones when it has none)."""
    config = _read_config()
    helpers = config.get("credHelpers")
    helper = helpers.get(_key(host)) or helpers.get(host) if isinstance(helpers, dict) else None
    store = config.get("credsStore")
    name = helper if isinstance(helper, str) and helper else store if isinstance(store, str) and store else None
    if name:
        return _from_helper(name, _key(host))
    return _from_auths(config.get("auths"), host)


def _from_auths(auths: object, host: str) -> Credentials:
    if not isinstance(auths, dict):
        return Credentials()
    entry = auths.get(_key(host))
    if entry is None:  # keys written with a scheme or a path (older clients): compared by host name
        wanted = "index.docker.io" if host == DOCKER_HUB else host
        entry = next((v for k, v in auths.items() if isinstance(k, str) and _hostname(k) == wanted), None)
    if not isinstance(entry, dict):
        return Credentials()
    where = f"auths in {config_path()}"
    username, password = entry.get("username"), entry.get("password")
    encoded = entry.get("auth")
    if isinstance(encoded, str) and encoded:
        try:
            username, _, password = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise RegistryAuthError(
                f"the 'auth' entry for {host} in {config_path()} is not base64 of user:password: "
                f"run 'docker login {host}' again"
            ) from None
    token = entry.get("identitytoken")
    return Credentials(
        username=username if isinstance(username, str) else "",
        password=password if isinstance(password, str) else "",
        identity_token=token if isinstance(token, str) else "",
        source=where,
    )


def _from_helper(name: str, server: str) -> Credentials:
    if not _HELPER_NAME.fullmatch(name):
        raise RegistryAuthError(f"the credential helper {name[:60]!r} in {config_path()} is not a helper name")
    program = f"docker-credential-{name}"
    try:
        proc = subprocess.run(
            [program, "get"], input=server, capture_output=True, text=True, timeout=HELPER_TIMEOUT, check=False
        )
    except FileNotFoundError:
        raise RegistryAuthError(
            f"{config_path()} names the credential helper {program}, which is not on PATH: install it, "
            "or remove it from the config"
        ) from None
    except subprocess.TimeoutExpired:
        raise RegistryAuthError(f"the credential helper {program} did not answer within {HELPER_TIMEOUT} s") from None
    if proc.returncode != 0:
        if "credentials not found" in (proc.stdout + proc.stderr).lower():
            return Credentials()  # as docker: no credentials for this registry, go on anonymously
        raise RegistryAuthError(
            f"the credential helper {program} failed (exit {proc.returncode}): run "
            f"'echo {server} | {program} get' to see why"
        )
    try:
        answer = json.loads(proc.stdout)
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or not isinstance(answer.get("Secret", ""), str):
        raise RegistryAuthError(f"the credential helper {program} answered something that is not its JSON")
    user, secret = answer.get("Username") or "", answer.get("Secret") or ""
    where = f"the credential helper {program}"
    if user == "<token>":
        return Credentials(identity_token=secret, source=where)
    return Credentials(username=user if isinstance(user, str) else "", password=secret, source=where)
