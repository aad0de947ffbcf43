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
