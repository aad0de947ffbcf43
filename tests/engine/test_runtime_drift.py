"""What runtime drift products alert on, planted in a running container: each is a finding of
`drift report` with the severity an on-call routes by (drift/severity.py), in JSON, SARIF,
Prometheus and the webhook-ready document, and `--fail-on severity:LEVEL` decides the exit code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RUN_ID, run_drift, sh

pytestmark = pytest.mark.engine

LABEL = "drift.test.runtime"

PLANTS = r"""
set -e
cp /bin/ls /tmp/dropper && chmod +x /tmp/dropper
cp /bin/ls /var/tmp/.hidden && chmod 755 /var/tmp/.hidden
echo 'scratch' > /tmp/notes.txt
chmod u+s /usr/bin/find
echo '* * * * * root /tmp/dropper' > /etc/cron.d/job
mkdir -p /root/.ssh && echo 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIexample eve@laptop' > /root/.ssh/authorized_keys
echo /tmp/evil.so > /etc/ld.so.preload
useradd -m -s /bin/bash eve
echo '# tuned' >> /usr/share/doc/bash/README.Debian 2>/dev/null || echo x > /usr/share/misc/notes
"""

# path or account -> severity drift must give it
WANT = {
    "/tmp/dropper": "high",
    "/var/tmp/.hidden": "high",
    "/usr/bin/find": "critical",  # setuid added on a file owned by root
    "/etc/cron.d/job": "high",
    "/root/.ssh/authorized_keys": "high",
    "/etc/ld.so.preload": "critical",
    "user eve": "high",
}


@pytest.fixture(scope="module")
def planted(docker_client: Any, base_image: str, cleanup: list[tuple[str, str]]) -> Any:
    name = f"drift-test-runtime-{RUN_ID}"
    container = docker_client.containers.run(
        base_image, ["sleep", "infinity"], name=name, detach=True, labels={LABEL: RUN_ID}
    )
    cleanup.append(("container", name))
    sh(container, PLANTS)
    return container


def test_each_plant_is_a_finding_with_its_severity(planted: Any, tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'h.sqlite'}"
    out = tmp_path / "r.json"
    args = ["report", "--filter", f"label={LABEL}={RUN_ID}", "--store", store, "--jobs", "1"]
    proc = run_drift(*args, "-o", f"json:{out}", "-o", f"sarif:{tmp_path / 'r.sarif'}", "-o",
                     f"prom:{tmp_path / 'r.prom'}")  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr  # a first run records the baseline
    assert "open by severity: 2 critical, 5 high" in proc.stdout
    doc = json.loads(out.read_text())
    found = {f["name"]: f for f in doc["findings"]}
    for name, severity in WANT.items():
        assert found[name]["severity"] == severity, (name, found.get(name))
    assert "/tmp/notes.txt" not in found  # data in /tmp stays noise
    # the account files useradd wrote are grouped under the account, not listed one by one
    assert not {"/etc/passwd", "/etc/shadow", "/etc/group", "/etc/gshadow"} & set(found)
    assert found["user eve"]["category"] == "account"
    sarif = json.loads((tmp_path / "r.sarif").read_text())
    results = {r["properties"]["name"]: r for r in sarif["runs"][0]["results"]}
    assert results["/etc/ld.so.preload"]["level"] == "error"
    assert results["/etc/ld.so.preload"]["properties"]["security-severity"] == "9.5"
    prom = (tmp_path / "r.prom").read_text()
    assert 'severity="critical"' in prom
    # the same findings gate a CI job by severity: critical ones exist, so this fails ...
    again = run_drift(*args, "--fail-on", "open,severity:critical")
    assert again.returncode == 1, again.stdout + again.stderr
    # ... and nothing new since the last run fails `new` at any severity
    assert run_drift(*args, "--fail-on", "new,severity:info").returncode == 0


def test_diff_against_the_image_rates_the_same(planted: Any, base_image: str) -> None:
    proc = run_drift("diff", f"container:{planted.name}", base_image, "-f", "json")
    assert proc.returncode == 1, proc.stderr
    found = {f["name"]: f["severity"] for f in json.loads(proc.stdout)["findings"]}
    for name, severity in WANT.items():
        assert found.get(name) == severity, (name, found.get(name))
    quiet = run_drift("diff", f"container:{planted.name}", base_image, "--fail-on", "severity:critical")
    assert quiet.returncode == 1
