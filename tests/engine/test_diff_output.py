"""What `drift diff` shows a person, on a real engine: the table and markdown, --fix, failed builds,
a folder given as EXPECTED."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RUN_ID, build, run_drift, wait_for

pytestmark = pytest.mark.engine


def _json(*args: str, code: int) -> dict[str, Any]:
    return json.loads(run_drift("diff", *args, "--format", "json", check=code).stdout)


def test_folder_holding_a_dockerfile_is_its_build_context(df_image: str, df_context: Path) -> None:
    doc = _json(df_image, str(df_context), code=0)
    assert doc["mode"] == "static" and doc["findings"] == []
    assert doc["expected"]["path"] == str(df_context / "Dockerfile")
    assert doc["expected"]["found_in"] == str(df_context)
    table = run_drift("diff", df_image, str(df_context), check=0).stdout
    assert f"the Dockerfile in folder {df_context}" in table


def test_missing_dockerfile_beside_a_real_image(df_image: str, tmp_path: Path) -> None:
    proc = run_drift("diff", df_image, str(tmp_path / "nope" / "Dockerfile"))
    assert proc.returncode == 2 and proc.stderr.startswith("drift: error: no such file:")
    assert "--base" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_detail_is_shown_and_findings_outside_fail_on_are_not_in_sync(
    df_image: str, df_context: Path, tmp_path: Path
) -> None:
    ctx = tmp_path / "mystery"
    shutil.copytree(df_context, ctx)
    with open(ctx / "Dockerfile", "a") as fh:
        fh.write("RUN sh /opt/mystery-installer.sh\n")
    doc = _json(df_image, str(ctx), code=0)
    details = [f["detail"] for f in doc["findings"] if f["category"] in ("unknown", "dockerfile")]
    assert details and all(details)
    n = len(doc["findings"])
    for fmt in ("table", "markdown"):
        out = run_drift("diff", df_image, str(ctx), "-f", fmt, check=0).stdout
        assert "detail" in out
        assert all(d[:40] in out for d in details), out
        assert f"{n} finding(s), none in --fail-on" in out and "in sync" not in out


def test_dependencies_fold_under_the_package_a_person_installed(df_changed: str, df_context: Path) -> None:
    dockerfile = str(df_context / "Dockerfile")
    doc = _json(df_changed, dockerfile, code=1)
    deps = [f["name"] for f in doc["findings"] if f["explained_by"] == "apt:curl"]
    assert "libcurl4" in deps
    table = run_drift("diff", df_changed, dockerfile, check=1).stdout
    assert f"curl + {len(deps)} dependenc" in table
    assert "libcurl4" not in table
    assert "--all lists them" in table
    every = run_drift("diff", df_changed, dockerfile, "--all", check=1).stdout
    assert all(name in every for name in deps)
    markdown = run_drift("diff", df_changed, dockerfile, "-f", "markdown", check=1).stdout
    assert f"curl + {len(deps)} dependenc" in markdown and "| libcurl4 " not in markdown


def test_long_values_are_not_cut_to_the_same_text(
    docker_client: Any, base_image: str, tmp_path: Path, cleanup: list[tuple[str, str]]
) -> None:
    common = "x" * 70
    ctx = tmp_path / "long"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(f"FROM {base_image}\nENV LONG_SETTING={common}-actual\n")
    tag = f"drift-test/long:{RUN_ID}"
    build(docker_client, ctx, tag, cleanup)
    (ctx / "Dockerfile").write_text(f"FROM {base_image}\nENV LONG_SETTING={common}-expected\n")
    doc = _json(tag, str(ctx / "Dockerfile"), code=1)
    assert [f["name"] for f in doc["findings"]] == ["Env.LONG_SETTING"]
    table = run_drift("diff", tag, str(ctx / "Dockerfile"), check=1).stdout
    row = next(line for line in table.splitlines() if "Env.LONG_SETTING" in line)
    assert "-expected" in row and "-actual" in row


def test_fix_twice_changes_nothing_the_second_time(df_changed: str, df_context: Path, tmp_path: Path) -> None:
    ctx = tmp_path / "fix"
    shutil.copytree(df_context, ctx)
    dockerfile = str(ctx / "Dockerfile")
    first = run_drift("diff", df_changed, dockerfile, "--fix", check=1)
    fixed = (ctx / "Dockerfile").read_text()
    assert "rewrote" in first.stderr
    # the printed report is the fixed file's: what --fix resolved is gone from it
    summary = next(line for line in first.stdout.splitlines() if line.strip().startswith("findings:"))
    assert "undocumented" not in summary and "config" not in summary and "Env.APP_MODE" not in first.stdout
    assert first.stdout == run_drift("diff", df_changed, dockerfile, check=1).stdout
    second = run_drift("diff", df_changed, dockerfile, "--fix", check=1)
    assert (ctx / "Dockerfile").read_text() == fixed
    assert "nothing to change" in second.stderr
    assert fixed.count("is not installed in") == 1 and fixed.count("# drift: files changed in") == 1


def test_fix_with_patch_is_refused(df_changed: str, df_context: Path, tmp_path: Path) -> None:
    ctx = tmp_path / "both"
    shutil.copytree(df_context, ctx)
    proc = run_drift("diff", df_changed, str(ctx / "Dockerfile"), "--fix", "--patch")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("drift: error: --fix") and len(proc.stderr.strip().splitlines()) == 1
    assert (ctx / "Dockerfile").read_text() == (df_context / "Dockerfile").read_text()


def _build_fails(ctx: Path, image: str, *extra: str) -> list[str]:
    proc = run_drift("diff", image, str(ctx / "Dockerfile"), "--build", *extra)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines[-1].startswith("drift: error: docker build of")
    assert not any(line.startswith("drift: error:") for line in lines[:-1])
    return lines


def test_failed_build_shows_the_end_of_its_log(df_image: str, base_image: str, tmp_path: Path) -> None:
    ctx = tmp_path / "boom"
    ctx.mkdir()
    steps = "".join(f"echo step-{i}; " for i in range(30))
    (ctx / "Dockerfile").write_text(f"FROM {base_image}\nRUN {steps}echo the-reason-{RUN_ID}; exit 3\n")
    lines = _build_fails(ctx, df_image, "--network", "host")
    shown = [line for line in lines if line.startswith("  | ")]
    assert 1 < len(shown) <= 15
    assert any(f"the-reason-{RUN_ID}" in line for line in shown)
    assert not any("step-1;" in line or line.endswith("step-1") for line in shown)  # only the end
    assert "--network host" not in lines[-1]


def test_failed_build_without_network_says_network_host(df_image: str, base_image: str, tmp_path: Path) -> None:
    ctx = tmp_path / "offline"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        f"FROM {base_image}\nRUN apt-get update && apt-get install -y --no-install-recommends cowsay\n"
    )
    lines = _build_fails(ctx, df_image, "--network", "none")
    assert "retry with --network host" in lines[-1]
    assert any("Temporary failure resolving" in line or "Could not resolve" in line for line in lines)


def test_ctrl_c_during_a_build_is_exit_130(docker_client: Any, df_image: str, base_image: str, tmp_path: Path) -> None:
    """A real SIGINT while drift waits for a build: one line, exit 130, no traceback."""
    ctx = tmp_path / "slow"
    ctx.mkdir()
    marker = f"sleep 47 && echo slow-{RUN_ID}"
    (ctx / "Dockerfile").write_text(f"FROM {base_image}\nRUN {marker}\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "drift", "diff", df_image, str(ctx / "Dockerfile"), "--build", "--network", "host"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: any(marker in str(c.attrs["Args"]) for c in docker_client.containers.list()), timeout=120)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert err.strip() == "drift: interrupted"
