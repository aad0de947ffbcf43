"""The Kubernetes manifests in samples/ops/kubernetes validate against Kubernetes' own schemas
(kubernetes-validate, offline, strict: an unknown field is an error), and the node DaemonSet
asks for no more than drift needs on a node."""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = sorted((ROOT / "samples" / "ops" / "kubernetes").glob("*.yaml"))
VERSIONS = ("1.29", "1.31")


def _docs(path: Path) -> list[dict[str, Any]]:
    import yaml

    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _daemonset() -> dict[str, Any]:
    [ds] = [d for d in _docs(ROOT / "samples/ops/kubernetes/drift-daemonset.yaml") if d["kind"] == "DaemonSet"]
    return ds


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_validates_against_kubernetes_schemas(path: Path, version: str) -> None:
    import kubernetes_validate

    docs = _docs(path)
    assert docs
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)


def test_the_validation_can_fail() -> None:
    import kubernetes_validate

    ds = _daemonset()
    bad = copy.deepcopy(ds)
    bad["spec"]["template"]["spec"]["tolerationz"] = bad["spec"]["template"]["spec"].pop("tolerations")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, VERSIONS[-1], strict=True)
    bad = copy.deepcopy(ds)
    bad["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"] = ["256Mi"]
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, VERSIONS[-1], strict=True)


def test_the_node_daemonset_reads_only_what_drift_needs() -> None:
    spec = _daemonset()["spec"]["template"]["spec"]
    [container] = spec["containers"]
    sec = container["securityContext"]
    assert sec["privileged"] is False and sec["allowPrivilegeEscalation"] is False
    assert sec["readOnlyRootFilesystem"] is True
    assert sec["capabilities"] == {"drop": ["ALL"], "add": ["DAC_READ_SEARCH"]}
    assert not spec.get("hostPID") and not spec.get("hostNetwork") and not spec.get("hostIPC")
    assert spec["automountServiceAccountToken"] is False  # drift asks the Kubernetes API nothing
    assert {"operator": "Exists"} in spec["tolerations"]  # every node
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    host = {v["name"]: v["hostPath"]["path"] for v in spec["volumes"] if "hostPath" in v}
    # containerd's socket and root: read-only, at the paths containerd names in its answers
    for name in ("containerd-socket", "containerd-root"):
        assert mounts[name]["readOnly"] is True
        assert mounts[name]["mountPath"] == host[name]
    writable = {n for n, m in mounts.items() if not m.get("readOnly")}
    assert writable == {"cache", "tmp", "metrics"}
    resources = container["resources"]
    assert resources["requests"]["memory"] and resources["limits"]["memory"]
    env = {e["name"]: e for e in container["env"]}
    assert env["DRIFT_STORE"]["valueFrom"]["secretKeyRef"]["name"] == "drift-store"  # never in the manifest
    assert env["NODE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"


def test_the_daemonset_command_uses_options_drift_has() -> None:
    """The loop's `drift report` options exist (a renamed option would break every node)."""
    script = " ".join(_daemonset()["spec"]["template"]["spec"]["containers"][0]["args"])
    used = set(re.findall(r"drift report ([^;]*);", script)[0].split())
    options = {u for u in used if u.startswith("-")}
    assert options >= {"--config", "--quiet", "--store", "-o"}
    help_text = subprocess.run(
        [sys.executable, "-m", "drift", "report", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for option in options:
        assert re.search(rf"(^|[\s,]){re.escape(option)}[\s,]", help_text), option
    assert 'host = "containerd:///run/containerd/containerd.sock"' in script
