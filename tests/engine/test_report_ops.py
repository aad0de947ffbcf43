"""`drift report` as an ops person runs it from drift.toml: the command line wins over the
file (also to turn a setting off), and the outputs are readable by the services that collect
them (node_exporter, a web server)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RUN_ID, run_drift

pytestmark = pytest.mark.engine

LABEL = "drift.test.reportops"


@pytest.fixture(scope="module")
def fleet(docker_client: Any, base_image: str, cleanup: list[tuple[str, str]]) -> dict[str, str]:
    names = {"up": f"drift-test-ops-up-{RUN_ID}", "down": f"drift-test-ops-down-{RUN_ID}"}
    for key, name in names.items():
        c = docker_client.containers.run(
            base_image, ["sleep", "infinity"], name=name, detach=True, network_mode="host", labels={LABEL: RUN_ID}
        )
        cleanup.append(("container", name))
        if key == "down":
            c.stop(timeout=1)
    return names


def names_of(proc: Any) -> set[tuple[str, str]]:
    return {(t["kind"], t["name"]) for t in json.loads(proc.stdout)["targets"]}


def test_command_line_turns_off_what_drift_toml_turns_on(
    fleet: dict[str, str], base_image: str, tmp_path: Path
) -> None:
    (tmp_path / "drift.toml").write_text(f'[report]\nfilters = ["label={LABEL}={RUN_ID}"]\nimages = true\nall = true\n')
    env = {"DRIFT_STORE": str(tmp_path / "h.sqlite")}
    common = ["report", "--config", str(tmp_path / "drift.toml"), "-q", "-o", "json:-"]
    both = names_of(run_drift(*common, env=env, check=0))
    assert both == {("container", fleet["up"]), ("container", fleet["down"]), ("image", base_image)}
    only_running = names_of(run_drift(*common, "--no-images", "--running", env=env, check=0))
    assert only_running == {("container", fleet["up"])}


def test_outputs_are_readable_like_any_written_file(fleet: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    args = ["report", "--filter", f"label={LABEL}={RUN_ID}", "-q", "--store", str(tmp_path / "h.sqlite")]
    for fmt in ("json", "html", "prom", "markdown", "sarif"):
        args += ["-o", f"{fmt}:{out / ('report.' + fmt)}"]
    old = os.umask(0o022)
    try:
        run_drift(*args, check=0)
    finally:
        os.umask(old)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in out.iterdir()}
    assert modes == {f"report.{f}": 0o644 for f in ("json", "html", "prom", "markdown", "sarif")}


def test_a_mistyped_filter_is_one_line_and_records_nothing(tmp_path: Path) -> None:
    store = tmp_path / "h.sqlite"
    proc = run_drift("report", "--filter", "bogus", "--store", str(store))
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("drift: error: --filter 'bogus'")
    assert not store.exists()  # no failed run in the history for a typo


def test_ack_on_no_match_says_so_plainly(fleet: dict[str, str], tmp_path: Path) -> None:
    store = ["--store", str(tmp_path / "h.sqlite")]
    run_drift("report", "--filter", f"label={LABEL}={RUN_ID}", "-q", *store, check=0)
    proc = run_drift("ack", "--target", "nomatch*", "--reason", "r", *store, check=2)
    assert proc.stderr.startswith("drift: error: no open finding on a target matching 'nomatch*': ")
    proc = run_drift("ack", "0123abcd", "--reason", "r", *store, check=2)
    assert proc.stderr.startswith("drift: error: no open finding with fingerprint 0123abcd: ")
