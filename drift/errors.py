"""One small tree of errors a person can act on.

Every error carries a message that says what went wrong and what to do. The CLI prints it
on one line and exits 2; nothing else is caught there.
"""

from __future__ import annotations


class DriftError(Exception):
    """Base of every error drift reports to a user (exit code 2)."""

    exit_code = 2


class TargetNotFound(DriftError):
    """The target names no container, image or path."""


class EngineUnreachable(DriftError):
    """The Docker engine does not answer."""


class CorruptArchive(DriftError):
    """An archive, layer or OCI layout cannot be read as one."""


class UnsafeArchive(CorruptArchive):
    """An archive member points outside the root."""


class BaseNotFound(DriftError):
    """The base image cannot be determined or does not exist."""


class DockerfileError(DriftError):
    """A Dockerfile cannot be parsed."""


class OutputError(DriftError):
    """An output cannot be written (exists, not empty, no permission)."""


class BuildFailed(DriftError):
    """docker build failed; the CLI prints the log's last lines (log_tail) before the error line."""

    log_tail: tuple[str, ...] = ()


class RegistryError(DriftError):
    """A registry cannot be reached or does not answer as the distribution API says."""


class RegistryAuthError(RegistryError):
    """A registry wants credentials drift does not have, or refuses the ones it has."""


class RegistryTLSError(RegistryError):
    """A registry's TLS certificate cannot be verified."""
