"""samples/ops: the Kubernetes CronJob and the compose file parse, say what their READMEs
promise, and call drift with options drift has (no kubectl or compose needed)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from drift.report.engines import specs

OPS = Path(__file__).resolve().parents[2] / "samples" / "ops"


def report_options() -> set[str]:
    from typer.main import get_command

    from drift.cli import app

    command = get_command(app).commands["report"]  # type: ignore[attr-defined]
    return {opt for p in command.params for opt in p.opts}


def drift_args(script: str) -> list[str]:
    """The words of the `drift report ...` command in a shell snippet."""
    words = shlex.split(script.replace(";", " ; "))
    start = words.index("drift")
    return words[start + 1 : words.index(";", start)]


def assert_known_options(args: list[str]) -> None:
    assert args[0] == "report"
    known = report_options()
    used = [a for a in args if a.startswith("-")]
    assert used and all(a in known for a in used), set(used) - known


def test_kubernetes_cronjob() -> None:
    docs = list(yaml.safe_load_all((OPS / "kubernetes" / "drift-report.yaml").read_text()))
    kinds = {d["kind"]: d for d in docs}
    assert set(kinds) == {"ConfigMap", "CronJob"}
    cron = kinds["CronJob"]
    assert cron["apiVersion"] == "batch/v1"
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    assert len(cron["spec"]["schedule"].split()) == 5
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["DRIFT_STORE"]["valueFrom"]["secretKeyRef"] == {"name": "drift-store", "key": "url"}
    assert env["DOCKER_TLS_VERIFY"]["value"] == "1"
    assert_known_options(drift_args(container["args"][0]))
    # every mount names a volume of the pod; secrets are read-only and not world-readable
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert {m["name"] for m in container["volumeMounts"]} <= set(volumes)
    assert all(v["secret"]["defaultMode"] == 0o400 for v in volumes.values() if "secret" in v)
    # no password or key written in the manifest itself
    text = (OPS / "kubernetes" / "drift-report.yaml").read_text()
    assert not re.search(r"postgresql://[^ '\"]*:[^@ '\"]+@", text.split("apiVersion", 1)[1])
    assert "PRIVATE KEY" not in text


def test_kubernetes_drift_toml_names_remote_engines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docs = list(yaml.safe_load_all((OPS / "kubernetes" / "drift-report.yaml").read_text()))
    config = next(d for d in docs if d["kind"] == "ConfigMap")["data"]
    toml = tmp_path / "drift.toml"
    toml.write_text(config["drift.toml"])
    for name in ("ca", "cert", "key"):
        (tmp_path / f"{name}.pem").write_text("x")
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    monkeypatch.setenv("DOCKER_CERT_PATH", str(tmp_path))
    engines = specs([], False, [], str(toml))
    assert [e.endpoint.host.split("://")[0] for e in engines] == ["ssh", "ssh", "tcp"]
    assert engines[2].endpoint.ca == str(tmp_path / "ca.pem")
    from drift.report import config as config_mod

    assert config_mod.load(str(toml)).retention == "90d"


def test_compose_runs_drift_next_to_postgres(tmp_path: Path) -> None:
    compose: dict[str, Any] = yaml.safe_load((OPS / "compose" / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "drift", "drift-watch"}
    pg, drift = services["postgres"], services["drift"]
    assert "healthcheck" in pg and pg["environment"]["POSTGRES_DB"] == "drift"
    assert drift["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert drift["environment"]["DRIFT_STORE"].startswith("postgresql://drift@postgres/")
    assert "PGPASSWORD" in drift["environment"]  # the password stays out of the URL
    root = OPS / "compose" / drift["build"]["context"]
    assert (root / drift["build"]["dockerfile"]).resolve() == (OPS / "Dockerfile").resolve()
    script = drift["command"][0].replace("$$", "$")
    assert_known_options(drift_args(script))
    mounted = {v.split(":")[0] for v in drift["volumes"]}
    assert "./drift.toml" in mounted and (OPS / "compose" / "drift.toml").is_file()
    engines = specs([], False, [], str(OPS / "compose" / "drift.toml"))
    assert [e.name for e in engines] == ["local", "web-1", "web-2"]


def test_compose_watches_the_same_engines_into_the_same_history() -> None:
    from typer.main import get_command

    from drift.cli import app

    services = yaml.safe_load((OPS / "compose" / "docker-compose.yml").read_text())["services"]
    watch, report = services["drift-watch"], services["drift"]
    assert watch["command"][0] == "watch" and watch["restart"] == "unless-stopped"
    known = {opt for p in get_command(app).commands["watch"].params for opt in p.opts}  # type: ignore[attr-defined]
    used = [a for a in watch["command"] if a.startswith("-")]
    assert used and all(a in known for a in used), set(used) - known
    assert "-H" not in used and "--config" in used  # drift.toml's engines: the report's names
    assert watch["environment"]["DRIFT_STORE"] == report["environment"]["DRIFT_STORE"]
    assert "/var/run/docker.sock:/var/run/docker.sock:ro" in watch["volumes"]
