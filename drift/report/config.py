"""`drift.toml`: what an ops person sets once (command-line options win).

[report]
filters = ["label=com.example.env=prod"]
all = false
images = true
fail_on = ["new", "updated"]
outputs = ["json:/var/lib/drift/report.json", "html:/var/www/drift/index.html"]
notify = "https://hooks.example.com/drift"
retention = "90d"
store = "sqlite:////var/lib/drift/history.sqlite"
ignore = ["/var/log"]

[[dockerfile]]
image = "myapp:*"
path = "services/myapp/Dockerfile"     # relative to drift.toml
build_args = { PYTHON_VERSION = "3.11" }
history_evidence = true                # false: the image's history is no evidence (drift diff --no-history-evidence)
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from typing import Any

from drift.errors import DriftError
from drift.report.scan import DockerfileMap

FILENAME = "drift.toml"
_KNOWN = {"filters", "all", "images", "fail_on", "outputs", "notify", "retention", "store", "ignore"}


class ConfigError(DriftError):
    """drift.toml cannot be read or says something drift does not understand."""


@dataclass(frozen=True, slots=True)
class Config:
    path: str | None = None
    filters: tuple[str, ...] = ()
    all: bool | None = None
    images: bool | None = None
    fail_on: tuple[str, ...] | None = None
    outputs: tuple[str, ...] = ()
    notify: str | None = None
    retention: str | None = None
    store: str | None = None
    ignore: tuple[str, ...] = ()
    dockerfiles: tuple[DockerfileMap, ...] = field(default=())


def _toml() -> Any:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - 3.10
        import tomli as tomllib
    return tomllib


def load(path: str | None) -> Config:
    """`--config PATH`, else ./drift.toml when there is one, else the defaults."""
    if path is None:
        if not os.path.isfile(FILENAME):
            return Config()
        path = FILENAME
    tomllib = _toml()
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    return _parse(data, path)


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where} must be a string or a list of strings")
    return tuple(value)


def _parse(data: dict[str, Any], path: str) -> Config:
    folder = os.path.dirname(os.path.abspath(path))
    report = data.get("report", {})
    if not isinstance(report, dict):
        raise ConfigError(f"{path}: [report] must be a table")
    unknown = sorted(set(report) - _KNOWN)
    if unknown:
        raise ConfigError(
            f"{path}: unknown key(s) in [report]: {', '.join(unknown)} (known: {', '.join(sorted(_KNOWN))})"
        )
    for key in ("all", "images"):
        if key in report and not isinstance(report[key], bool):
            raise ConfigError(f"{path}: report.{key} must be true or false")
    for key in ("notify", "retention", "store"):
        if key in report and not isinstance(report[key], str):
            raise ConfigError(f"{path}: report.{key} must be a string")
    return Config(
        path=os.path.abspath(path),
        filters=_strings(report.get("filters", []), f"{path}: report.filters"),
        all=report.get("all"),
        images=report.get("images"),
        fail_on=_strings(report["fail_on"], f"{path}: report.fail_on") if "fail_on" in report else None,
        outputs=tuple(
            _relative_output(o, folder) for o in _strings(report.get("outputs", []), f"{path}: report.outputs")
        ),
        notify=report.get("notify"),
        retention=report.get("retention"),
        store=report.get("store"),
        ignore=_strings(report.get("ignore", []), f"{path}: report.ignore"),
        dockerfiles=tuple(_dockerfile(item, folder, path) for item in _tables(data.get("dockerfile", []), path)),
    )


def _tables(value: Any, path: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ConfigError(f"{path}: use [[dockerfile]] tables (image = ..., path = ...)")
    return value


def _dockerfile(item: dict[str, Any], folder: str, path: str) -> DockerfileMap:
    image, file = item.get("image"), item.get("path")
    if not isinstance(image, str) or not isinstance(file, str):
        raise ConfigError(f'{path}: every [[dockerfile]] needs image = "NAME or GLOB" and path = "FILE"')
    args = item.get("build_args", {})
    if not isinstance(args, dict):
        raise ConfigError(f"{path}: [[dockerfile]] build_args must be a table of strings")
    history = item.get("history_evidence", True)
    if not isinstance(history, bool):
        raise ConfigError(f"{path}: [[dockerfile]] history_evidence must be true or false")
    return DockerfileMap(
        image=image,
        path=os.path.normpath(os.path.join(folder, file)),
        build_args=tuple(sorted((str(k), str(v)) for k, v in args.items())),
        history_evidence=history,
    )


def _relative_output(spec: str, folder: str) -> str:
    fmt, sep, target = spec.partition(":")
    if not sep or target == "-" or os.path.isabs(target):
        return spec
    return f"{fmt}:{os.path.join(folder, target)}"


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNITS = {"": 86400, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def duration(text: str, what: str) -> float:
    """`30d`, `12h`, `90m`, `45s`, `2w` (a bare number is days) -> seconds."""
    m = _DURATION.match(text)
    if not m:
        raise DriftError(f"{what} {text!r}: use a duration like 30d, 12h, 90m, 45s or 2w")
    return float(m.group(1)) * _UNITS[m.group(2)]
