"""The Docker engine API's read calls over a local unix socket, without the Docker SDK.

What an inspection or a report asks of a local engine is a handful of GETs answered with JSON
(version, info, the container and image lists, an inspection, a history). The SDK answers them
too, but importing it (requests, urllib3, charset_normalizer ...) costs ~0.05-0.1 s of every
run's start. `SocketApi` answers those calls itself, in the SDK's shapes, and hands every other
attribute (builds, saves, archives, exec, events, removals) to the SDK's client, made on first
use. Only a local `unix://` engine is asked this way; TLS, ssh and tcp engines use the SDK.

Answers are bounded (an engine is trusted no more than an image: a JSON answer over 64 MB is
refused), errors are the SDK's in kind: `NotFound` for a 404, `ApiError` for another refusal,
and a socket that does not answer raises what the caller's `unreachable(exc)` makes of it.
"""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

MAX_ANSWER = 64 << 20


class ApiError(Exception):
    """The engine refused a call (a status of 400 or more)."""

    def __init__(self, status: int, explanation: str) -> None:
        super().__init__(f"{status}: {explanation}")
        self.status = status
        self.explanation = explanation


class NotFound(ApiError):
    """404: no such container or image."""


class _Connection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._drift_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._drift_path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


def _filter_word(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


class SocketApi:
    def __init__(
        self,
        path: str,
        timeout: float,
        heavy: Callable[[], Any],
        unreachable: Callable[[BaseException], Exception],
    ) -> None:
        self._drift_path = path
        self._drift_timeout = timeout
        self._drift_heavy = heavy
        self._drift_unreachable = unreachable

    def __getattr__(self, name: str) -> Any:  # every other call: the SDK's client
        return getattr(self._drift_heavy(), name)

    def _drift_get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        url = path + ("?" + urlencode(params) if params else "")
        conn = _Connection(self._drift_path, self._drift_timeout)
        try:
            conn.request("GET", url, headers={"Accept": "application/json"})
            resp = conn.getresponse()
            body = resp.read(MAX_ANSWER + 1)
        except (OSError, http.client.HTTPException) as exc:
            raise self._drift_unreachable(exc) from exc
        finally:
            conn.close()
        if len(body) > MAX_ANSWER:
            raise ApiError(resp.status, f"an answer larger than {MAX_ANSWER >> 20} MB to GET {path}: refused")
        if resp.status >= 400:
            try:
                message = str(json.loads(body).get("message") or "")
            except (ValueError, AttributeError):
                message = body[:300].decode("utf-8", "replace")
            raise (NotFound if resp.status == 404 else ApiError)(resp.status, message or resp.reason)
        try:
            return json.loads(body)
        except ValueError as exc:
            raise self._drift_unreachable(ValueError(f"the engine's answer to GET {path} is not JSON: {exc}")) from exc

    @staticmethod
    def _drift_name(value: str) -> str:
        return quote(value, safe="/:@")

    # -- the SDK's APIClient methods, in its shapes ------------------------------------------
    def ping(self) -> bool:
        self.version()
        return True

    def version(self) -> Any:
        return self._drift_get("/version")

    def info(self) -> Any:
        return self._drift_get("/info")

    def containers(self, all: bool = False, filters: dict[str, Any] | None = None) -> Any:
        params: dict[str, Any] = {}
        if all:
            params["all"] = 1
        if filters:  # as the SDK's utils.convert_filters writes them
            params["filters"] = json.dumps(
                {k: [_filter_word(x) for x in (v if isinstance(v, list) else [v])] for k, v in filters.items()}
            )
        return self._drift_get("/containers/json", params)

    def images(self, name: str | None = None, quiet: bool = False, all: bool = False) -> Any:
        params: dict[str, Any] = {"all": 1} if all else {}
        if name:
            params["filters"] = json.dumps({"reference": [name]})
        rows = self._drift_get("/images/json", params)
        return [row["Id"] for row in rows] if quiet else rows

    def inspect_container(self, container: str) -> Any:
        return self._drift_get(f"/containers/{self._drift_name(container)}/json")

    def inspect_image(self, image: str) -> Any:
        return self._drift_get(f"/images/{self._drift_name(image)}/json")

    def history(self, image: str) -> Any:
        return self._drift_get(f"/images/{self._drift_name(image)}/history")
