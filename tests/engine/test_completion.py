"""Completion of TARGET and IMAGE from the engine: a container and an image this test makes are
offered by bash, zsh and fish (tests/shells.py), and removed at the end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RUN_ID, in_ci
from tests.shells import complete, drift_env, find_shells

pytestmark = pytest.mark.engine

SHELLS = ("bash", "zsh", "fish")
NAME = f"drift-cpl-{RUN_ID}"


@pytest.fixture(scope="module")
def made(docker_client: Any, base_image: str) -> Iterator[tuple[str, str]]:
    """(container name, image tag): a created (never started) container and a tag of the base image."""
    if not find_shells(install=True):
        if in_ci():
            pytest.fail("CI=true and zsh or fish could not be installed (scripts/shells.sh)")
        pytest.skip("no zsh or fish (run scripts/shells.sh as root)")
    tag = f"{NAME}-img:v1"
    docker_client.images.get(base_image).tag(f"{NAME}-img", "v1")
    container = None
    try:
        container = docker_client.containers.create(base_image, ["true"], name=NAME, network_mode="host")
        yield NAME, tag
    finally:
        if container is not None:
            container.remove(force=True)
        docker_client.images.remove(tag)  # the tag only: the base image stays


@pytest.mark.parametrize("shell", SHELLS)
def test_targets_are_containers_and_images(made: tuple[str, str], shell: str, tmp_path: Path) -> None:
    container, image = made
    env = drift_env(tmp_path)
    offered = complete(shell, "drift inspect ", env, tmp_path)
    assert container in offered and image in offered, offered
    assert sorted(complete(shell, f"drift snapshot {NAME}", env, tmp_path)) == sorted([container, image])


@pytest.mark.parametrize("shell", SHELLS)
def test_a_prefix_narrows_to_one_kind(made: tuple[str, str], shell: str, tmp_path: Path) -> None:
    container, image = made
    env = drift_env(tmp_path)
    offered = complete(shell, f"drift inspect image:{NAME}", env, tmp_path)
    if shell == "bash":  # bash replaces the word after its last ':' (COMP_WORDBREAKS)
        assert offered == [image], offered
    else:
        assert offered == [f"image:{image}"], offered
    assert complete(shell, f"drift diff container:{NAME}", env, tmp_path) == (
        [container] if shell == "bash" else [f"container:{container}"]
    )


@pytest.mark.parametrize("shell", SHELLS)
def test_base_completes_images_only(made: tuple[str, str], shell: str, tmp_path: Path) -> None:
    _, image = made
    offered = complete(shell, f"drift inspect x --base {NAME}", drift_env(tmp_path), tmp_path)
    assert offered == [image], offered


def test_bash_completes_after_the_colon_of_a_tag(made: tuple[str, str], tmp_path: Path) -> None:
    """bash splits `NAME-img:v` at the ':'; its current word is `v`, so drift answers `v1`."""
    _, image = made
    assert complete("bash", f"drift inspect {image[:-1]}", drift_env(tmp_path), tmp_path) == ["v1"]


def test_report_targets_complete(made: tuple[str, str], tmp_path: Path) -> None:
    container, image = made
    offered = complete("fish", f"drift report {NAME}", drift_env(tmp_path), tmp_path)
    assert sorted(offered) == sorted([container, image])
