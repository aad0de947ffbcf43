"""samples/ops: the cron line and the systemd units a person copies to run drift every hour."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

OPS = ROOT / "samples" / "ops"
UNITS = ("drift-report.service", "drift-report.timer", "drift-watch.service")


def _unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """systemd's unit syntax: sections, repeatable keys, backslash continuation lines, # and ; comments."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    text = re.sub(r"\\\n", " ", path.read_text())
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"{path.name}: {line!r} before any section"
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: not KEY=VALUE: {line!r}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def _drift_options() -> set[str]:
    """The options `drift report --help` lists: the samples must use real ones."""
    proc = subprocess.run(
        [sys.executable, "-m", "drift", "report", "--help"], capture_output=True, text=True, timeout=60, env=_wide()
    )
    assert proc.returncode == 0, proc.stderr
    return set(re.findall(r"(?<![\w-])(--?[a-z][a-z-]*)", proc.stdout))


def _wide() -> dict[str, str]:
    import os

    return {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}


def _check_command(argv: list[str]) -> None:
    at = argv.index("report")
    assert Path(argv[at - 1]).name == "drift"
    options = _drift_options()
    for arg in argv[at + 1 :]:
        if arg.startswith("-"):
            assert arg in options, f"drift report has no option {arg}"
    outputs = [argv[i + 1] for i, a in enumerate(argv) if a == "-o"]
    assert outputs and all(o.split(":", 1)[0] in ("json", "html", "prom", "markdown", "sarif") for o in outputs)


def test_service_and_timer() -> None:
    service = _unit(OPS / "drift-report.service")
    timer = _unit(OPS / "drift-report.timer")
    svc = service["Service"]
    assert svc["Type"] == ["oneshot"]
    assert svc["SuccessExitStatus"] == ["1"]  # drift found is a result, trouble (2) stays a failure
    assert any(e.startswith("DRIFT_STORE=/var/lib/drift/") for e in svc["Environment"])
    _check_command(shlex.split(svc["ExecStart"][0]))
    # systemd refuses to start a unit whose ReadWritePaths= folder is missing, unless it starts
    # with "-": the folders drift writes outside its StateDirectory must not stop the unit
    assert svc["ReadWritePaths"] and all(p.startswith("-/") for p in svc["ReadWritePaths"])
    outputs = [a.split(":", 1)[1] for a in shlex.split(svc["ExecStart"][0]) if ":/" in a]
    allowed = ["/var/lib/drift/", *(p.lstrip("-") + "/" for p in svc["ReadWritePaths"])]
    assert outputs and all(any(o.startswith(a) for a in allowed) for o in outputs), outputs
    t = timer["Timer"]
    assert t["Persistent"] == ["true"] and t["OnCalendar"] == ["hourly"]
    assert re.fullmatch(r"\d+(min|s|h)?", t["RandomizedDelaySec"][0])
    assert timer["Install"]["WantedBy"] == ["timers.target"]


def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed")
    drift = Path(sys.executable).with_name("drift")
    for name in UNITS:
        text = (OPS / name).read_text().replace("/usr/local/bin/drift", str(drift))  # verify wants the binary
        (tmp_path / name).write_text(text)
    proc = subprocess.run(
        ["systemd-analyze", "verify", *(str(tmp_path / n) for n in UNITS)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0 and proc.stdout + proc.stderr == "", proc.stdout + proc.stderr


def test_watch_service() -> None:
    svc = _unit(OPS / "drift-watch.service")["Service"]
    argv = shlex.split(svc["ExecStart"][0])
    assert Path(argv[0]).name == "drift" and argv[1] == "watch"
    proc = subprocess.run(
        [sys.executable, "-m", "drift", "watch", "--help"], capture_output=True, text=True, timeout=60, env=_wide()
    )
    options = set(re.findall(r"(?<![\w-])(--?[a-z][a-z-]*)", proc.stdout))
    assert all(a in options for a in argv[2:] if a.startswith("-")), argv
    assert svc["Restart"] == ["on-failure"] and svc["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    # hardened: no capability but reading the layers, a read-only system, no new privileges
    assert svc["CapabilityBoundingSet"] == ["CAP_DAC_READ_SEARCH"] and svc["NoNewPrivileges"] == ["true"]
    assert svc["ProtectSystem"] == ["strict"] and "AF_UNIX" in svc["RestrictAddressFamilies"][0]
    assert any(e.startswith("DRIFT_STORE=/var/lib/drift/") for e in svc["Environment"])


def test_cron_line_uses_flock() -> None:
    lines = [ln for ln in (OPS / "drift-report.cron").read_text().splitlines() if ln and not ln.startswith("#")]
    jobs = [ln for ln in lines if not re.match(r"^[A-Z_]+=", ln)]
    assert len(jobs) == 1
    fields = jobs[0].split(None, 6)
    minute, hour = fields[0], fields[1]
    assert minute.isdigit() and 0 <= int(minute) < 60 and hour == "*"
    assert fields[5] == "root"
    argv = shlex.split(fields[6])
    assert argv[:3] == ["flock", "-n", "/var/lock/drift-report.lock"]
    redirect = argv.index(">>/var/log/drift-report.log")
    _check_command(argv[3:redirect])
