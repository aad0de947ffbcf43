"""`drift diff` on a real engine: an image against its Dockerfile, static and --build."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RUN_ID, build, run_drift, run_script
from tests.engine.conftest import DOCKERFILE, make_context

pytestmark = pytest.mark.engine


def diff_json(*args: str, code: int) -> dict[str, Any]:
    proc = run_drift("diff", *args, "--format", "json", check=code)
    return json.loads(proc.stdout)


def keys(doc: dict[str, Any]) -> set[tuple[str, str | None, str]]:
    return {(f["category"], f["manager"], f["name"]) for f in doc["findings"]}


def assert_planted(doc: dict[str, Any]) -> None:
    findings = doc["findings"]
    assert {f["category"] for f in findings} == {"undocumented", "missing", "config", "file"}
    roots = {(f["manager"], f["name"]) for f in findings if f["category"] == "undocumented" and not f["explained_by"]}
    assert roots == {("apt", "curl"), ("apt", "libmariadb3"), ("pip", "six")}
    deps = {f["name"]: f["explained_by"] for f in findings if f["category"] == "undocumented" and f["explained_by"]}
    assert deps and set(deps.values()) <= {"apt:curl", "apt:libmariadb3"}
    assert deps.get("libcurl4") == "apt:curl" and deps.get("mysql-common") == "apt:libmariadb3"
    rest = {(f["category"], f["name"]) for f in findings if f["category"] != "undocumented"}
    assert rest == {("missing", "jq"), ("config", "Env.APP_MODE"), ("file", "/etc/app.conf")}
    assert doc["summary"]["undocumented_installed_by_hand"] == 3


def test_image_matches_its_dockerfile(df_image: str, df_context: Path) -> None:
    doc = diff_json(df_image, str(df_context / "Dockerfile"), code=0)
    assert doc["schema"] == "drift.diff/v1" and doc["mode"] == "static"
    assert doc["findings"] == [] and doc["summary"]["drift"] is False


def test_build_mode_agrees_on_the_clean_image(df_image: str, df_context: Path) -> None:
    doc = diff_json(df_image, str(df_context / "Dockerfile"), "--build", "--network", "host", code=0)
    assert doc["mode"] == "build" and doc["findings"] == []


def test_hand_changes_give_exactly_the_planted_findings(df_changed: str, df_context: Path) -> None:
    doc = diff_json(df_changed, str(df_context / "Dockerfile"), code=1)
    assert_planted(doc)
    env = next(f for f in doc["findings"] if f["name"] == "Env.APP_MODE")
    assert (env["expected"], env["actual"], env["line"]) == ("prod", "staging", 9)
    jq = next(f for f in doc["findings"] if f["name"] == "jq")
    assert jq["line"] == 3
    curl = next(f for f in doc["findings"] if f["name"] == "curl")
    assert curl["fix"].startswith("curl=")


def test_build_mode_agrees_with_static(df_changed: str, df_context: Path) -> None:
    static = diff_json(df_changed, str(df_context / "Dockerfile"), code=1)
    built = diff_json(df_changed, str(df_context / "Dockerfile"), "--build", "--network", "host", code=1)
    assert_planted(built)
    assert keys(static) == keys(built)
    assert {f["name"]: f["explained_by"] for f in static["findings"]} == {
        f["name"]: f["explained_by"] for f in built["findings"]
    }


def test_declared_pin_that_differs_is_a_version_finding(df_image: str, base_image: str, tmp_path: Path) -> None:
    text = DOCKERFILE.replace("python3-pip jq", "python3-pip jq=0.0-not-this")
    ctx = make_context(tmp_path / "pins", base_image, requirements="requests==2.30.0\n", text=text)
    doc = diff_json(df_image, str(ctx / "Dockerfile"), code=1)
    versions = {(f["manager"], f["name"]): f for f in doc["findings"] if f["category"] == "version"}
    assert set(versions) == {("apt", "jq"), ("pip", "requests")}
    assert versions[("pip", "requests")]["expected"] == "==2.30.0"
    assert versions[("pip", "requests")]["actual"] == "2.31.0"
    assert versions[("apt", "jq")]["expected"] == "0.0-not-this"
    # the context's requirements.txt is not the one the image was built with: the COPY'd file differs
    rest = {(f["category"], f["name"]) for f in doc["findings"] if f["category"] != "version"}
    assert rest == {("file", "/app/requirements.txt")}
    req = next(f for f in doc["findings"] if f["category"] == "file")
    assert req["detail"].startswith("differs from the build context's requirements.txt (line 6): content")


def test_fail_on_and_ignore(df_changed: str, df_context: Path, tmp_path: Path) -> None:
    dockerfile = str(df_context / "Dockerfile")
    assert run_drift("diff", df_changed, dockerfile, "--fail-on", "version").returncode == 0
    assert run_drift("diff", df_changed, dockerfile, "--fail-on", "missing").returncode == 1
    assert run_drift("diff", df_changed, dockerfile, "--fail-on", "severity:critical").returncode == 0
    assert run_drift("diff", df_changed, dockerfile, "--fail-on", "missing,severity:medium").returncode == 1
    bad = run_drift("diff", df_changed, dockerfile, "--fail-on", "nonsense")
    assert bad.returncode == 2 and "nonsense" in bad.stderr
    ctx = tmp_path / "ign"
    shutil.copytree(df_context, ctx)
    (ctx / ".driftignore").write_text("# libraries are fine\napt:lib*\n!apt:libmariadb3\n/etc/app.conf\n")
    doc = diff_json(df_changed, str(ctx / "Dockerfile"), "--ignore", "config:Env.*", code=1)
    names = {f["name"] for f in doc["findings"]}
    assert "libmariadb3" in names and "libcurl4" not in names and "/etc/app.conf" not in names
    assert "Env.APP_MODE" not in names
    assert doc["summary"]["ignored"] == len(doc["ignored"]) > 3


def test_fix_and_patch(df_changed: str, df_context: Path, tmp_path: Path) -> None:
    ctx = tmp_path / "fix"
    shutil.copytree(df_context, ctx)
    patch = run_drift("diff", df_changed, str(ctx / "Dockerfile"), "--patch", check=1).stdout
    assert patch.startswith("--- a/") and "+++ b/" in patch
    assert any(line.startswith("+") and "curl=" in line and "libmariadb3=" in line for line in patch.splitlines())
    assert (ctx / "Dockerfile").read_text() == (df_context / "Dockerfile").read_text()  # --patch writes nothing
    run_drift("diff", df_changed, str(ctx / "Dockerfile"), "--fix", check=1)
    fixed = (ctx / "Dockerfile").read_text()
    assert "six==1.16.0" in fixed and "# drift: jq (declared below) is not installed" in fixed
    after = diff_json(df_changed, str(ctx / "Dockerfile"), code=1)
    assert {f["category"] for f in after["findings"]} == {"missing", "file"}


def test_machine_formats(df_changed: str, df_context: Path) -> None:
    dockerfile = str(df_context / "Dockerfile")
    sarif = json.loads(run_drift("diff", df_changed, dockerfile, "-f", "sarif", check=1).stdout)
    results = sarif["runs"][0]["results"]
    assert sarif["version"] == "2.1.0" and results
    jq = next(r for r in results if r["properties"]["name"] == "jq")
    assert jq["locations"][0]["physicalLocation"]["region"]["startLine"] == 3
    # a missing package is medium: a warning, with GitHub's security-severity for medium
    assert jq["level"] == "warning" and jq["partialFingerprints"]["driftFinding/v1"]
    assert jq["properties"]["severity"] == "medium" and jq["properties"]["security-severity"] == "5.5"
    again = json.loads(run_drift("diff", df_changed, dockerfile, "-f", "sarif", check=1).stdout)
    assert [r["partialFingerprints"] for r in again["runs"][0]["results"]] == [
        r["partialFingerprints"] for r in results
    ]
    junit = ET.fromstring(run_drift("diff", df_changed, dockerfile, "-f", "junit", check=1).stdout)
    assert int(junit.get("failures", "0")) == len(results)
    markdown = run_drift("diff", df_changed, dockerfile, "-f", "markdown", check=1).stdout
    assert "| undocumented |" in markdown and "## drift diff" in markdown


def test_target_against_target(docker_client: Any, df_image: str, cleanup: list[tuple[str, str]]) -> None:
    assert diff_json(df_image, df_image, code=0)["findings"] == []
    name = f"drift-test-dftarget-{RUN_ID}"
    run_script(docker_client, df_image, "echo hi > /app/notes.txt && apt-mark auto jq", name, cleanup)
    doc = diff_json(name, df_image, code=1)
    assert doc["mode"] == "target"
    assert keys(doc) >= {("file", None, "/app/notes.txt"), ("mark", "apt", "jq")}


def test_bad_dockerfiles(df_image: str, tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM x\nRUN <<EOF\necho never closed\n")
    proc = run_drift("diff", df_image, str(bad))
    assert proc.returncode == 2 and "line" not in proc.stdout and "never closed" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    missing = tmp_path / "missing.Dockerfile"
    missing.write_text("FROM drift-test/no-such-base:404\nRUN true\n")
    proc = run_drift("diff", df_image, str(missing))
    assert proc.returncode == 2 and "no-such-base" in proc.stderr and "--base" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


MULTISTAGE = """\
ARG BASE={base}
FROM ${{BASE}} AS build
RUN mkdir -p /out && echo hi > /out/hello
FROM ${{BASE}}
COPY --from=build /out/hello /usr/local/share/hello
RUN apt-get update \\
    # the only tool this image needs
    && apt-get install -y --no-install-recommends jq \\
    && rm -rf /var/lib/apt/lists/*
LABEL org.example.team="ops"
EXPOSE 8080
USER nobody
ENTRYPOINT ["jq"]
"""


def test_multistage_image_matches_static_and_built(
    docker_client: Any, base_image: str, tmp_path: Path, cleanup: list[tuple[str, str]]
) -> None:
    ctx = tmp_path / "ms"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(MULTISTAGE.format(base=base_image))
    tag = f"drift-test/multistage:{RUN_ID}"
    build(docker_client, ctx, tag, cleanup)
    assert diff_json(tag, str(ctx / "Dockerfile"), code=0)["findings"] == []
    assert diff_json(tag, str(ctx / "Dockerfile"), "--build", "--network", "host", code=0)["findings"] == []
    # the same image against a Dockerfile without the COPY --from: the file is drift
    (ctx / "Other.Dockerfile").write_text(MULTISTAGE.format(base=base_image).replace("COPY --from", "# COPY --from"))
    doc = diff_json(tag, str(ctx / "Other.Dockerfile"), code=1)
    assert keys(doc) == {("file", None, "/usr/local/share/hello")}


def test_two_builds_of_one_dockerfile_at_once_each_remove_their_own(
    docker_client: Any, df_changed: str, df_context: Path, tmp_path: Path
) -> None:
    """Two `diff --build` of the same Dockerfile at the same time (parallel CI jobs on one engine):
    each builds under a tag of its own, finds the same drift, and removes what it built."""
    import hashlib
    import os
    import subprocess
    import sys

    ctx = tmp_path / "ctx"
    shutil.copytree(df_context, ctx)  # a Dockerfile path no other test audits
    prefix = "drift-diff:" + hashlib.sha256(os.path.abspath(ctx / "Dockerfile").encode()).hexdigest()[:12]
    cmd = [sys.executable, "-m", "drift", "diff", df_changed, str(ctx / "Dockerfile"), "--build", "--network", "host"]
    procs = [
        subprocess.Popen([*cmd, "-f", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=900) for p in procs]
    for proc, (_, err) in zip(procs, outs, strict=True):
        assert proc.returncode == 1, err
    docs = [json.loads(out) for out, _ in outs]
    assert docs[0]["expected"]["built"] != docs[1]["expected"]["built"]
    assert all(d["expected"]["built"].startswith(prefix + "-") and not d["expected"]["kept"] for d in docs)
    assert keys(docs[0]) == keys(docs[1]) and keys(docs[0])
    left = [t for i in docker_client.images.list(name="drift-diff") for t in i.tags if t.startswith(prefix)]
    assert left == []
