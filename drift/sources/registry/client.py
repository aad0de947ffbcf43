"""The OCI distribution API, read-only: manifests and blobs of one repository, over HTTPS.

Authentication as the docker CLI does it: a request without credentials first; a 401's
`WWW-Authenticate` challenge then says how: `Basic` (the credentials on every request) or
`Bearer` (a token from the challenge's realm for `repository:REPO:pull`, asked with the
credentials when there are any, or anonymously; an identity token is exchanged as an OAuth2
refresh token). A token that expires is asked again on the next 401.

TLS as Docker reads it: the system's CAs (SSL_CERT_FILE / SSL_CERT_DIR honoured) plus every
`*.crt` in `/etc/docker/certs.d/HOST[:PORT]/`, and a client certificate from a `*.cert` /
`*.key` pair there. `DRIFT_CERTS_D` replaces the `/etc/docker/certs.d` folder (tests, or a
user without root). REQUESTS_CA_BUNDLE is not read: docker does not read it either.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import re
import ssl
import threading
from collections.abc import Iterator
from typing import Any

from drift import __version__
from drift.errors import CorruptArchive, RegistryAuthError, RegistryError, RegistryTLSError, TargetNotFound
from drift.sources.registry import auth
from drift.sources.registry.reference import Reference

CERTS_D = "/etc/docker/certs.d"
CHUNK = 1 << 20
TIMEOUT = (30, 120)  # connect, read (seconds)
_PARAM = re.compile(r'(\w+)=(?:"([^"]*)"|([^,\s]*))')
_SSL_REASON = re.compile(r"\[SSL(?:: [A-Z_]+)?\] ([^(]+?)\s*(?:\(_ssl|$)")


def certs_dir(host: str) -> str:
    return os.path.join(os.environ.get("DRIFT_CERTS_D") or CERTS_D, host)


def tls_context(host: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    folder = certs_dir(host)
    try:
        names = sorted(os.listdir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return ctx
    except OSError as exc:
        raise RegistryTLSError(f"cannot read {folder} for registry {host}'s certificates ({exc.strerror})") from None
    for name in names:
        path = os.path.join(folder, name)
        try:
            if name.endswith(".crt"):
                ctx.load_verify_locations(cafile=path)
            elif name.endswith(".cert"):
                key = path[: -len(".cert")] + ".key"
                if not os.path.isfile(key):
                    raise RegistryTLSError(f"{path} has no {os.path.basename(key)} beside it (Docker needs both)")
                ctx.load_cert_chain(path, key)
        except (ssl.SSLError, OSError) as exc:
            raise RegistryTLSError(
                f"{path} is not a usable PEM certificate ({getattr(exc, 'reason', None) or exc}): fix or remove it"
            ) from None
    return ctx


def _session(ctx: ssl.SSLContext) -> Any:
    import requests
    from requests.adapters import HTTPAdapter

    class Adapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> Any:
            kwargs["ssl_context"] = ctx
            return super().init_poolmanager(*args, **kwargs)

        def proxy_manager_for(self, *args: Any, **kwargs: Any) -> Any:
            kwargs["ssl_context"] = ctx
            return super().proxy_manager_for(*args, **kwargs)

    class Session(requests.Session):
        def merge_environment_settings(self, *args: Any, **kwargs: Any) -> Any:
            out = super().merge_environment_settings(*args, **kwargs)
            out["verify"] = True  # this context's CAs, never REQUESTS_CA_BUNDLE's
            return out

    session = Session()
    session.mount("https://", Adapter(pool_connections=4, pool_maxsize=8))
    session.headers["User-Agent"] = f"drift/{__version__}"
    return session


class Client:
    """One repository of one registry."""

    def __init__(self, ref: Reference) -> None:
        self.ref = ref
        self.base = f"https://{ref.api_host}/v2/{ref.repository}/"
        self.session = _session(tls_context(ref.host))
        self._authorization: str | None = None
        self._creds: auth.Credentials | None = None
        self._lock = threading.Lock()

    # -- requests -------------------------------------------------------------------------

    def get(self, path: str, *, accept: str | None = None) -> Any:
        """GET base+PATH (streamed), authenticating on a 401; a response with status < 400, or an error."""
        headers = {"Accept": accept} if accept else {}
        sent: str | None = None
        for _ in range(3):
            with self._lock:
                sent = self._authorization
            if sent:
                headers["Authorization"] = sent
            resp = self._send(self.base + path, headers)
            if resp.status_code != 401:
                break
            challenge = resp.headers.get("WWW-Authenticate", "")
            resp.close()
            with self._lock:
                if self._authorization == sent:  # another thread may have renewed it meanwhile
                    self._authorization = self._answer(challenge, tried=sent is not None)
        else:
            raise self._refused(401)
        if resp.status_code == 401:
            raise self._refused(401)
        if resp.status_code == 403:
            resp.close()
            raise self._refused(403)
        return resp

    def _send(self, url: str, headers: dict[str, str], *, method: str = "GET", **kw: Any) -> Any:
        import requests

        try:
            return self.session.request(method, url, headers=headers, stream=True, timeout=TIMEOUT, **kw)
        except requests.exceptions.SSLError as exc:
            raise RegistryTLSError(self._tls_message(exc)) from None
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            why = "timed out" if isinstance(exc, requests.exceptions.Timeout) else _short(exc)
            raise RegistryError(
                f"cannot reach registry {self.ref.host} ({why}): check the host and port, and that it serves HTTPS"
            ) from None
        except requests.exceptions.RequestException as exc:
            raise RegistryError(f"registry {self.ref.host}: the request failed ({_short(exc)})") from None

    def _tls_message(self, exc: BaseException) -> str:
        match = _SSL_REASON.search(str(exc))
        why = match.group(1).strip() if match else "the TLS handshake failed"
        return (
            f"TLS: cannot verify registry {self.ref.host} ({why}): put the CA that signed its certificate in "
            f"{certs_dir(self.ref.host)}/ca.crt (as for Docker; DRIFT_CERTS_D replaces {CERTS_D}) "
            "or in the system's CAs"
        )

    # -- authentication -------------------------------------------------------------------

    def _credentials(self) -> auth.Credentials:
        if self._creds is None:
            self._creds = auth.lookup(self.ref.host)
        return self._creds

    def _answer(self, challenge: str, *, tried: bool) -> str:
        """The Authorization header that answers a 401's challenge (or an auth error)."""
        scheme, _, rest = challenge.strip().partition(" ")
        params = {
            m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3) for m in _PARAM.finditer(rest)
        }
        creds = self._credentials()
        if scheme.lower() == "basic":
            if tried or not (creds.username and creds.password):
                raise self._refused(401)
            raw = f"{creds.username}:{creds.password}".encode()
            return "Basic " + base64.b64encode(raw).decode()
        if scheme.lower() == "bearer" and params.get("realm"):
            if tried and not creds:
                raise self._refused(401)
            return "Bearer " + self._token(params, creds)
        raise RegistryAuthError(
            f"registry {self.ref.host} asks for an authentication drift does not speak ({scheme[:40] or 'none'}); "
            "only Basic and Bearer tokens are read"
        )

    def _token(self, params: dict[str, str], creds: auth.Credentials) -> str:
        realm = params["realm"]
        if not realm.startswith("https://") and not _loopback(realm):
            raise RegistryAuthError(
                f"registry {self.ref.host} sends for tokens to {realm[:100]}, which is not HTTPS: refusing to send "
                "credentials there"
            )
        scope = params.get("scope") or f"repository:{self.ref.repository}:pull"
        query = {"service": params.get("service", ""), "scope": scope}
        if creds.identity_token:
            form = {**query, "grant_type": "refresh_token", "refresh_token": creds.identity_token, "client_id": "drift"}
            resp = self._send(realm, {}, method="POST", data=form)
        else:
            basic = (creds.username, creds.password) if creds.username and creds.password else None
            resp = self._send(realm, {}, params=query, auth=basic)
        with resp:
            if resp.status_code in (401, 403):
                raise self._refused(401)
            if resp.status_code >= 400:
                raise RegistryError(f"registry {self.ref.host}: its token service answered {resp.status_code}")
            body = _read_limited(resp, 1 << 20, "a token")
        try:
            import json

            doc = json.loads(body)
        except ValueError:
            doc = None
        token = (doc.get("token") or doc.get("access_token")) if isinstance(doc, dict) else None
        if not isinstance(token, str) or not token:
            raise RegistryError(f"registry {self.ref.host}: its token service answered no token")
        return token

    def _refused(self, status: int) -> RegistryAuthError:
        creds = self._credentials()
        repo = f"{self.ref.host}/{self.ref.repository}"
        if status == 403:
            return RegistryAuthError(
                f"auth: registry {self.ref.host} denies pulling {repo} with the credentials from {creds.source}: "
                "check that account's access"
            )
        if creds:
            return RegistryAuthError(
                f"auth: registry {self.ref.host} refused the credentials from {creds.source} for {repo}: "
                f"run 'docker login {self.ref.host}' again"
            )
        return RegistryAuthError(
            f"auth: registry {self.ref.host} needs credentials for {repo}: run 'docker login {self.ref.host}' "
            f"(drift reads them as docker does, from {auth.config_path()} and its credential helpers)"
        )

    # -- content --------------------------------------------------------------------------

    def manifest(self, reference: str, accept: str, limit: int) -> tuple[bytes, str]:
        """The manifest REFERENCE (tag or digest): its bytes and media type."""
        resp = self.get(f"manifests/{reference}", accept=accept)
        with resp:
            self._check(resp, f"{self.ref.host}/{self.ref.repository}:{reference}" if ":" not in reference else "")
            body = _read_limited(resp, limit, "a manifest")
            media = resp.headers.get("Content-Type", "").split(";", 1)[0].strip()
        return body, media

    def blob_bytes(self, digest: str, limit: int) -> bytes:
        resp = self.get(f"blobs/{digest}")
        with resp:
            self._check(resp, "")
            body = _read_limited(resp, limit, "a config")
        _verify(hashlib.sha256(body).hexdigest(), digest, f"registry {self.ref.host}: blob {digest}")
        return body

    @contextlib.contextmanager
    def blob_chunks(self, digest: str, what: str) -> Iterator[Iterator[bytes]]:
        """The bytes of blob DIGEST as the registry sends them (the caller counts and hashes them)."""
        resp = self.get(f"blobs/{digest}")
        with resp:
            self._check(resp, "")
            yield _chunks(resp, what)

    def _check(self, resp: Any, name: str) -> None:
        if resp.status_code < 400:
            return
        code = _error_code(resp)
        if resp.status_code == 404:
            what = name or "a blob its manifest names"
            raise TargetNotFound(f"registry {self.ref.host} has no {what} ({code or 'not found'})")
        raise RegistryError(f"registry {self.ref.host} answered {resp.status_code} {code or resp.reason or ''}".strip())

    def close(self) -> None:
        self.session.close()


def _verify(actual_hex: str, digest: str, what: str) -> None:
    if f"sha256:{actual_hex}" != digest:
        raise CorruptArchive(f"{what}: the content hashes to sha256:{actual_hex}, not to {digest}; refused")


def _chunks(resp: Any, what: str) -> Iterator[bytes]:
    import requests

    try:
        yield from resp.iter_content(CHUNK)
    except (requests.exceptions.RequestException, OSError) as exc:
        raise RegistryError(f"{what}: the download broke off ({_short(exc)}); try again") from None


def _read_limited(resp: Any, limit: int, what: str) -> bytes:
    parts: list[bytes] = []
    total = 0
    for chunk in _chunks(resp, what):
        total += len(chunk)
        if total > limit:
            raise CorruptArchive(f"the registry sends {what} larger than {limit >> 10} KB; refused")
        parts.append(chunk)
    return b"".join(parts)


def _error_code(resp: Any) -> str:
    try:
        doc = resp.json() if int(resp.headers.get("Content-Length") or 0) < 65536 else None
        errors = doc.get("errors") if isinstance(doc, dict) else None
        first = errors[0] if isinstance(errors, list) and errors else None
        return str(first.get("code", ""))[:60] if isinstance(first, dict) else ""
    except Exception:  # an error body is only a hint
        return ""


def _loopback(url: str) -> bool:
    host = url.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]
    return host in ("localhost", "[::1]") or host.startswith("127.")


def _short(exc: BaseException) -> str:
    text = str(exc)
    for marker in ("Connection refused", "Name or service not known", "No route to host", "timed out"):
        if marker in text:
            return marker.lower()
    return text[:160]
