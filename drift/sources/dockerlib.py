"""Importing docker-py without paramiko's cost on every run.

docker-py imports paramiko at import time when it is installed (`drift[ssh]`), only to reach
`ssh://` engines: about 0.15 s and 20 MB on every command, local engines included. drift reaches
`ssh://` engines through the `ssh` client (`use_ssh_client`, as the docker CLI does), so docker-py
is imported with paramiko hidden, and its ssh transport is loaded the first time an `ssh://`
engine is used.
"""

from __future__ import annotations

import sys
from types import ModuleType


def load() -> ModuleType:
    """docker-py, imported with paramiko hidden (when nothing has imported it yet)."""
    if "docker" not in sys.modules and "paramiko" not in sys.modules:
        sys.modules["paramiko"] = None  # type: ignore[assignment]  # makes `import paramiko` fail
        try:
            import docker
        finally:
            del sys.modules["paramiko"]
    import docker

    return docker


def load_for_ssh() -> ModuleType:
    """docker-py with its ssh transport (needs paramiko installed: `pip install 'drift[ssh]'`)."""
    docker = load()
    import docker.api.client as api_client
    import docker.transport as transport

    if not hasattr(api_client, "SSHHTTPAdapter"):
        from docker.transport.sshconn import SSHHTTPAdapter

        transport.SSHHTTPAdapter = SSHHTTPAdapter  # type: ignore[attr-defined]
        api_client.SSHHTTPAdapter = SSHHTTPAdapter  # type: ignore[attr-defined]
    return docker
