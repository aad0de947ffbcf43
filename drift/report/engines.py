"""Which Docker engines a report covers, and who each one really is.

    specs(contexts, all_contexts, hosts, config_path) -> [EngineSpec]
    identify(engine, spec, known) -> the `engines[]` entry (up / down, with the reason)

Engines come from `--context NAME` (repeatable), `--all-contexts`, `--host URL` (repeatable:
unix://, tcp:// with TLS from DOCKER_TLS_VERIFY / DOCKER_CERT_PATH as docker does them,
ssh://user@host) and `[[engine]] name = ... host = ...` (or `context = ...`) in drift.toml.
With none of these: the engine of the current Docker context, as the docker CLI picks it.

An engine is known by its identity (each kind says its own: drift.sources.engine_kinds) as well
as its name: when a name (a context that was repointed, a host that was reinstalled) now answers
with another ID, that engine is reported down with the reason, never merged into the other
engine's history.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from drift.errors import DriftError, EngineUnreachable
from drift.sources import engine_kinds
from drift.sources.contexts import Endpoint, current_context, endpoint_for, list_contexts

SCHEMES = engine_kinds.SCHEMES


@dataclass(frozen=True, slots=True)
class EngineSpec:
    name: str  # how the report and the store name it (a context name, [[engine]] name, or the URL's host)
    endpoint: Endpoint


def specs(contexts: list[str], all_contexts: bool, hosts: list[str], config_path: str | None) -> list[EngineSpec]:
    out = [EngineSpec(c, endpoint_for(c, "--context")) for c in contexts]
    if all_contexts:
        out += [EngineSpec(c, endpoint_for(c, "--all-contexts")) for c in list_contexts()]
    out += [EngineSpec(host_name(h), host_endpoint(h, "--host")) for h in hosts]
    if not out and config_path:
        out = from_config(config_path)
    if not out:
        name, _ = current_context()
        from drift.sources.contexts import current_endpoint

        out = [EngineSpec(name, current_endpoint())]
    return _unique(out)


def _unique(items: list[EngineSpec]) -> list[EngineSpec]:
    seen: dict[str, EngineSpec] = {}
    for spec in items:
        other = seen.get(spec.name)
        if other is not None and other.endpoint.host != spec.endpoint.host:
            raise DriftError(
                f"two engines are named {spec.name!r} ({other.endpoint.host} and {spec.endpoint.host}): "
                "give one of them another name ([[engine]] name = ... in drift.toml)"
            )
        seen.setdefault(spec.name, spec)
    return list(seen.values())


def host_name(url: str) -> str:
    """A short, stable name for an engine given by URL: host[:port], or the socket's path."""
    name = engine_kinds.host_name(url)
    if name is None:
        raise DriftError(
            f"--host {url}: use unix:///PATH, tcp://HOST:PORT or ssh://USER@HOST (as DOCKER_HOST), "
            "or containerd:///PATH for containerd's socket"
        )
    return name


def host_endpoint(url: str, chosen_by: str) -> Endpoint:
    """An engine URL as DOCKER_HOST would give it: TLS for tcp:// when DOCKER_TLS_VERIFY is set
    (certificates from DOCKER_CERT_PATH, else ~/.docker), as the docker CLI does."""
    host_name(url)  # checks the scheme
    special = engine_kinds.special_endpoint(url, chosen_by)
    if special is not None:
        return special
    if url.startswith("ssh://"):
        try:
            import paramiko  # noqa: F401  (docker-py needs it for ssh://, even when it runs the ssh client)
        except ImportError:
            raise DriftError(f"--host {url}: ssh:// engines need paramiko: pip install 'drift[ssh]'") from None
    if not url.startswith("tcp://") or not os.environ.get("DOCKER_TLS_VERIFY"):
        return Endpoint("", url, chosen_by)
    folder = os.environ.get("DOCKER_CERT_PATH") or os.path.join(os.path.expanduser("~"), ".docker")
    files = {n: os.path.join(folder, f"{n}.pem") for n in ("ca", "cert", "key")}
    missing = [p for p in files.values() if not os.path.isfile(p)]
    if missing:
        raise DriftError(
            f"--host {url}: DOCKER_TLS_VERIFY is set but {missing[0]} is missing: "
            "set DOCKER_CERT_PATH to the folder with ca.pem, cert.pem and key.pem"
        )
    return Endpoint("", url, chosen_by, ca=files["ca"], cert=files["cert"], key=files["key"])


def from_config(path: str) -> list[EngineSpec]:
    """`[[engine]]` tables of drift.toml: name = "...", and host = "URL" or context = "NAME"."""
    from drift.report.config import _toml

    with open(path, "rb") as fh:
        data = _toml().load(fh)
    items = data.get("engine", [])
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise DriftError(f'{path}: use [[engine]] tables (name = "...", host = "ssh://user@host")')
    out = []
    for item in items:
        name, host, context = item.get("name"), item.get("host"), item.get("context")
        if not isinstance(name, str) or not name or (host is None) == (context is None):
            raise DriftError(f'{path}: every [[engine]] needs name = "..." and one of host = "URL" or context = "NAME"')
        if not isinstance(host or context, str):
            raise DriftError(f"{path}: [[engine]] {name}: host and context are strings")
        endpoint = host_endpoint(host, f"{path}") if host else endpoint_for(str(context), path)
        out.append(EngineSpec(name, endpoint))
    return out


def identify(engine: Any, spec: EngineSpec, known_id: str | None) -> dict[str, Any]:
    """The `engines[]` entry of one engine: asks `docker info`; checks the ID against the store's."""
    out: dict[str, Any] = {
        "name": spec.name,
        "endpoint": spec.endpoint.host,
        "id": None,
        "status": "up",
        "error": None,
    }
    try:
        info = engine.api.info()
        out["id"] = engine_kinds.identity(engine, info)
    except EngineUnreachable as exc:
        return {**out, "status": "down", "error": str(exc)}
    except Exception as exc:  # the engine answered something we cannot read, or not in time
        return {
            **out,
            "status": "down",
            "error": f"the engine at {spec.endpoint.describe()} did not answer 'info': {exc}",
        }
    if known_id and out["id"] and known_id != out["id"] and engine_kinds.comparable(known_id, out["id"]):
        out.update(
            status="down",
            changed=True,
            error=(
                f"engine {spec.name!r} now answers as another {engine_kinds.kind_of(engine)} (ID {out['id']}, "
                f"recorded as {known_id}); its history was not merged with it: if the move is intended, "
                "name the new engine ([[engine]] name = ... in drift.toml, or --host URL)"
            ),
        )
    return out
