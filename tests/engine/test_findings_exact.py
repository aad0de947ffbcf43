"""Findings are exact: a same-size content change is drift when two trees are compared whole
(image vs image from the same base, dir: vs dir:), and nothing else is."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RUN_ID, build, run_drift

pytestmark = pytest.mark.engine


def keys(doc: dict[str, Any]) -> set[tuple[str, str | None, str]]:
    return {(f["category"], f["manager"], f["name"]) for f in doc["findings"]}


@pytest.fixture(scope="session")
def port_images(
    docker_client: Any, base_image: str, tmp_path_factory: pytest.TempPathFactory, cleanup: list[tuple[str, str]]
) -> tuple[str, str]:
    """Two images from the same base, each writing /etc/app.conf with a value of the same size."""
    tags = []
    for port in ("8080", "7070"):
        ctx = tmp_path_factory.mktemp(f"port{port}")
        (ctx / "Dockerfile").write_text(
            f'FROM {base_image}\nRUN echo \'port={port}\' > /etc/app.conf\nCMD ["echo", "{port}"]\n'
        )
        tag = f"drift-test/port{port}:{RUN_ID}"
        build(docker_client, ctx, tag, cleanup)
        tags.append(tag)
    return tags[0], tags[1]


def test_same_size_edit_between_two_images_is_a_file_finding(port_images: tuple[str, str]) -> None:
    first, second = port_images
    proc = run_drift("diff", second, first, "--format", "json", check=1)
    doc = json.loads(proc.stdout)
    assert doc["mode"] == "target"
    assert keys(doc) == {("file", None, "/etc/app.conf"), ("config", None, "Cmd")}
    finding = next(f for f in doc["findings"] if f["name"] == "/etc/app.conf")
    assert finding["actual"]["change"] == "modified" and finding["actual"]["size"] == len("port=8080\n")


def test_same_size_edit_between_two_folders_is_a_file_finding(tmp_path: Path) -> None:
    for name, text in (("a", "aaaa\n"), ("b", "bbbb\n")):
        (tmp_path / name / "etc").mkdir(parents=True)
        (tmp_path / name / "etc" / "app.conf").write_text(text)
        (tmp_path / name / "etc" / "same.conf").write_text("same\n")
    proc = run_drift("diff", f"dir:{tmp_path / 'b'}", f"dir:{tmp_path / 'a'}", "--format", "json", check=1)
    assert keys(json.loads(proc.stdout)) == {("file", None, "/etc/app.conf")}
    proc = run_drift("diff", f"dir:{tmp_path / 'a'}", f"dir:{tmp_path / 'a'}", "--format", "json", check=0)
    assert json.loads(proc.stdout)["findings"] == []
