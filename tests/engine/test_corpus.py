"""A fixed subset of the wild corpus (tests/corpus/wild, issue 16) on every test run: real
projects' Dockerfiles built here and audited against themselves with package verification on,
statically and with --build. Every finding would be a false alarm, except the drift planted by
hand on top of the built image (an apt install, a pip install, a config file, a package file
edited), which must be found, each of them, in both modes. `make corpus` runs all 30 cases.

The cases cover the classes the static audit had to generalise over: pip --user as a non-root
USER (celery-worker-user), uv and a `mv` of a pip-installed file with a classic-builder WORKDIR
layer (fastapi-uv), `apt remove` + `autoremove` leftovers and pip upgraded over Debian's copy
(black-apt-remove), a deleted dpkg database and dist-info folders (obfuscation-benchmark), and
deleted dpkg file lists (datasette-dpkg-info)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RUN_ID

pytestmark = pytest.mark.engine

ROOT = Path(__file__).resolve().parents[2]
PLANTED = ["celery-worker-user", "fastapi-uv", "black-apt-remove"]
CLEAN = ["obfuscation-benchmark", "datasette-dpkg-info"]


def _corpus() -> Any:
    spec = importlib.util.spec_from_file_location("drift_corpus_script", ROOT / "scripts" / "corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    module.TAG_PREFIX = f"drift-test-corpus-{RUN_ID}"
    return module


@pytest.fixture
def corpus(base_image: str) -> Any:
    return _corpus()  # cheap: each case on whichever worker is free


def _explain(result: Any) -> str:
    lines = [f"error: {result.error}"] if result.error else []
    for mode, found in (("static", result.static), ("build", result.built)):
        lines += [f"{mode}: {f['category']} {f.get('name')} {f.get('detail')}" for f in found]
    lines += [f"missed {m}" for m in result.missed()]
    return "\n".join(lines)


@pytest.mark.parametrize("name", PLANTED)
def test_planted_drift_is_found_and_nothing_else(corpus: Any, name: str) -> None:
    result = corpus.run_case(name, False, ("static", "build"), ("--verify-packages",), True)
    assert result.error is None, _explain(result)
    assert result.missed() == [], _explain(result)
    assert result.extra(result.static) == [] and result.extra(result.built) == [], _explain(result)
    # the package file edit is named with its package in both modes
    for found in (result.static, result.built):
        (zdiff,) = [f for f in found if f["name"] == "/usr/bin/zdiff"]
        assert "gzip" in str(zdiff), zdiff


@pytest.mark.parametrize("name", CLEAN)
def test_deleted_package_databases_give_no_false_alarm(corpus: Any, name: str) -> None:
    result = corpus.run_case(name, False, ("static", "build"), ("--verify-packages",), False)
    assert result.error is None, _explain(result)
    assert not result.found(), _explain(result)
    # what cannot be read is said once per cause, naming the line that deleted it
    unknown = [f for f in result.static if f["category"] == "unknown"]
    assert unknown and all(f.get("line") or f["name"].startswith("/var/lib/dpkg") for f in unknown), unknown
    if name == "obfuscation-benchmark":
        assert {f["name"] for f in unknown} >= {"python3", "python3-pip", "idna", "six"}
        assert not [f for f in result.static if f["category"] == "missing"]
