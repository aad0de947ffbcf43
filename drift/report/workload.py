"""Which workload a target belongs to: the unit that outlives its containers.

A Kubernetes pod's name is its controller's name plus what the controller generated
(Kubernetes' own alphabet, `bcdfghjklmnpqrstvwxz2456789`): a Deployment's pod is
`NAME-<pod-template-hash>-<5>`, a DaemonSet's or a bare ReplicaSet's `NAME-<5>`, a
StatefulSet's `NAME-<ordinal>`. Targets named `NAMESPACE/POD/CONTAINER` (the kubelet's labels)
belong to `NAMESPACE/NAME/CONTAINER`; every other target (a Docker container, an image) is a
workload of its own, under its own name, since names there are given by people and stay.
"""

from __future__ import annotations

import re
from typing import Any

_K8S = "[bcdfghjklmnpqrstvwxz2456789]"
_GENERATED = (
    re.compile(rf"^(?P<name>.+)-{_K8S}{{6,10}}-{_K8S}{{5}}$"),  # Deployment -> ReplicaSet -> pod
    re.compile(rf"^(?P<name>.+)-{_K8S}{{5}}$"),  # DaemonSet, ReplicaSet, Job
    re.compile(r"^(?P<name>.+)-(0|[1-9][0-9]{0,4})$"),  # StatefulSet ordinal
)


def pod_workload(pod: str) -> str:
    """The controller's name a pod was generated from (the pod's own name when none fits)."""
    for pattern in _GENERATED:
        m = pattern.match(pod)
        if m:
            return m.group("name")
    return pod


def workload_of(kind: str, name: str) -> str:
    """The workload of a report target (its `kind` and `name`)."""
    parts = name.split("/")
    if kind == "container" and len(parts) == 3 and all(parts):
        namespace, pod, container = parts
        return f"{namespace}/{pod_workload(pod)}/{container}"
    return name


OPEN_STATES = frozenset({"new", "updated", "persisting", "stale"})
UP_STATUSES = frozenset({"scanned", "new"})


def key_of(t: dict[str, Any]) -> tuple[str, str, str]:
    """(engine, kind, workload) of a report document's target."""
    kind, name = t.get("kind") or "", t.get("name") or ""
    return t.get("engine") or "", kind, t.get("workload") or workload_of(kind, name)


def groups(doc: dict[str, Any]) -> dict[tuple[str, str, str], tuple[int, int, int]]:
    """Per workload of a drift.report/v1 document (removed targets left out): its targets, those
    scanned, and those with open findings (new, updated, persisting or stale)."""
    findings = doc.get("findings") or []
    drifted = {(f.get("engine") or "", f.get("target") or "") for f in findings if f.get("state") in OPEN_STATES}
    sums: dict[tuple[str, str, str], list[int]] = {}
    for t in doc.get("targets") or []:
        if t.get("status") == "removed":
            continue
        counts = sums.setdefault(key_of(t), [0, 0, 0])
        counts[0] += 1
        counts[1] += 1 if t.get("status") in UP_STATUSES else 0
        counts[2] += 1 if (t.get("engine") or "", t.get("name") or "") in drifted else 0
    return {k: (n, up, bad) for k, (n, up, bad) in sorted(sums.items())}
