"""One target, read and compared: the findings drift's other commands would give.

A container is compared with its own image (`drift diff CONTAINER IMAGE`'s model): what was
given at `docker run` (command, env, ports, volumes, labels, user) is the deployment's
choice and becomes context, never a finding. An image is audited against its Dockerfile
when a mapping names one, else compared with the inventory recorded the first time it was
seen (its baseline in the store). Nothing here writes to the store or touches the target.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from drift import secrets
from drift.errors import DriftError
from drift.model import Finding, short_id
from drift.report.targets import DOCKERFILE_LABEL, Selected

if TYPE_CHECKING:
    from drift.inventory import Inspection, Scanner
    from drift.inventory.origin import Provenance
    from drift.model import Inventory


@dataclass(frozen=True, slots=True)
class DockerfileMap:
    image: str  # glob over image names
    path: str
    build_args: tuple[tuple[str, str], ...] = ()
    history_evidence: bool = True  # the image's history as evidence (drift.dockerfile.evidence)


@dataclass(slots=True)
class Scanned:
    findings: list[Finding]
    compared_with: str
    image: str | None
    image_id: str | None
    instance: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)
    baseline: dict[str, Any] | None = None  # an image's first inventory, to store
    scan_key: str | None = None  # signature of what was read (drift/report/quick.py)
    reused: bool = False  # unchanged since the last full scan: its findings carried over
    sbom: tuple[Inventory, Provenance] | None = None  # what its BOM is written from (Options.sbom)


def scan(
    engine: Any,
    target: Selected,
    *,
    scanner: Scanner,
    dockerfiles: list[DockerfileMap],
    baseline: dict[str, Any] | None,
    project: str = ".",
    sbom: bool = False,
) -> Scanned:
    """SBOM: keep what the target's BOM is written from (read while its layers are open)."""
    kept: list[Inspection] = []
    with contextlib.ExitStack() as stack:
        if target.kind == "container":
            scanned = _container(engine, target, stack, scanner, kept)
        elif (mapping := dockerfile_for(engine, target, dockerfiles, project)) is not None:
            scanned = _image_vs_dockerfile(target, mapping, stack, scanner, kept)
        else:
            scanned = _image_vs_baseline(engine, target, stack, scanner, baseline, kept)
        if sbom and kept:
            from drift.inventory.origin import sbom_input

            scanned.sbom = sbom_input(kept[0])
    return scanned


def _container(
    engine: Any, target: Selected, stack: contextlib.ExitStack, scanner: Scanner, kept: list[Inspection]
) -> Scanned:
    from drift.diff.modes import from_delta
    from drift.inventory import inspect_target

    prefix = getattr(engine, "prefix", "container")  # containerd's engine names its containers containerd:ID
    insp = inspect_target(f"{prefix}:{target.id}", stack, engine=engine, scanner=scanner)
    kept.append(insp)
    inv = insp.inventory
    attrs = insp.source.raw
    # What docker run made (mount points, -w, --init) is noise in the container's inventory
    # (drift/inventory/runtime.py); its config (command, env...) is context, never a finding.
    found = [f for f in from_delta(inv) if f.category != "config"]
    return container_meta(attrs, target, secrets.redact_findings(_with_content(found, inv), inv))


def _with_content(findings: list[Finding], inv: Any) -> list[Finding]:
    """A changed file's content digest in its `actual`, so that editing it again (even to the
    same size) is `updated` between runs. Files whose path looks secret keep no digest."""
    import dataclasses

    sums = {f.path: f.sha256 for f in inv.files if f.sha256 and not f.secret}
    out = []
    for f in findings:
        digest = sums.get(f.name) if f.category == "file" and isinstance(f.actual, dict) else None
        if digest and secrets.path_reason(f.name) is None:
            f = dataclasses.replace(f, actual={**f.actual, "sha256": digest})
        out.append(f)
    return out


def container_meta(attrs: dict[str, Any], target: Selected, findings: list[Finding]) -> Scanned:
    """What a container scan reports beside its findings, from the engine's description."""
    image = (attrs.get("Config") or {}).get("Image") or target.image
    image_id = attrs.get("Image") or target.image_id
    return Scanned(
        findings=findings,
        compared_with=f"its image {image} ({short_id(image_id)})",
        image=image,
        image_id=image_id,
        instance=attrs.get("Id"),
        labels={
            k: secrets.redact_value(k, str(v)) for k, v in ((attrs.get("Config") or {}).get("Labels") or {}).items()
        },
        context=run_context(attrs),
    )


def run_context(attrs: dict[str, Any]) -> dict[str, Any]:
    """What was chosen at `docker run`: shown beside the target, never compared."""
    cfg = attrs.get("Config") or {}
    host = attrs.get("HostConfig") or {}
    known = secrets.env_secret_values(list(cfg.get("Env") or ()))
    env = [secrets.redact_env(item, known) for item in cfg.get("Env") or ()]
    ports = sorted(
        f"{(b or {}).get('HostIp') or ''}:{(b or {}).get('HostPort')}->{port}".lstrip(":")
        for port, binds in (host.get("PortBindings") or {}).items()
        for b in binds or [None]
    )
    mounts = sorted(
        f"{m.get('Source') or m.get('Name') or ''}:{m.get('Destination')}" for m in attrs.get("Mounts") or ()
    )
    return {
        "command": list(secrets.redact_argv([str(a) for a in cfg.get("Cmd") or []], known) or ()),
        "entrypoint": list(secrets.redact_argv([str(a) for a in cfg.get("Entrypoint") or []], known) or ()),
        "env": env,
        "ports": ports,
        "volumes": mounts,
        "labels": {k: secrets.redact_value(k, str(v), known) for k, v in sorted((cfg.get("Labels") or {}).items())},
        "user": cfg.get("User") or "",
        "working_dir": cfg.get("WorkingDir") or "",
        "restart": (host.get("RestartPolicy") or {}).get("Name") or "",
        "network": host.get("NetworkMode") or "",
        "state": (attrs.get("State") or {}).get("Status") or "",
        "created": attrs.get("Created") or "",
    }


def dockerfile_for(engine: Any, target: Selected, maps: list[DockerfileMap], project: str) -> DockerfileMap | None:
    """The Dockerfile an image is audited against: drift.toml's mapping, else the image's label
    `drift.dockerfile=PATH`. The label comes from the image (untrusted): it may only name a file
    inside the project folder (drift.toml's folder, else the current one), never any host file."""
    for m in maps:
        if fnmatch.fnmatchcase(target.name, m.image):
            return m
    attrs = engine.find_image(target.id) or {}
    label = ((attrs.get("Config") or {}).get("Labels") or {}).get(DOCKERFILE_LABEL)
    if not label:
        return None
    root = os.path.realpath(project)
    path = os.path.realpath(os.path.join(root, label))
    if os.path.isabs(label) or os.path.commonpath([root, path]) != root:
        raise DriftError(
            f"label {DOCKERFILE_LABEL}={label!r} must be a path inside {root} (relative to drift.toml's folder): "
            "ignored; map the image in drift.toml [[dockerfile]] instead"
        )
    return DockerfileMap(image=target.name, path=path)


def _image_vs_dockerfile(
    target: Selected, mapping: DockerfileMap, stack: contextlib.ExitStack, scanner: Scanner, kept: list[Inspection]
) -> Scanned:
    from drift.diff.modes import run_diff

    if not os.path.isfile(mapping.path):
        raise DriftError(f"the Dockerfile {mapping.path} mapped to {target.name} does not exist")
    result = run_diff(
        f"image:{target.id}",
        f"dockerfile:{mapping.path}",
        stack,
        build_args=dict(mapping.build_args),
        scanner=scanner,
        history_evidence=mapping.history_evidence,
    )
    kept += [result.inspection] if result.inspection else []
    return Scanned(
        findings=secrets.redact_findings(result.findings, result.inspection.inventory if result.inspection else None),
        compared_with=f"Dockerfile {mapping.path}",
        image=target.name,
        image_id=target.id,
    )


def _image_vs_baseline(
    engine: Any,
    target: Selected,
    stack: contextlib.ExitStack,
    scanner: Scanner,
    baseline: dict[str, Any] | None,
    kept: list[Inspection],
) -> Scanned:
    from drift.inventory import build
    from drift.report.baseline import compare, summarize
    from drift.sources import resolve

    source = resolve(f"image:{target.id}", stack, engine=engine)
    insp = build(source, None, scanner, [])
    kept.append(insp)
    inv = insp.inventory
    now = summarize(inv, target.id)
    if baseline is None:
        return Scanned([], "its first inventory (recorded now as the baseline)", target.name, target.id, baseline=now)
    findings = secrets.redact_findings(compare(baseline, now), inv)
    when = baseline.get("recorded", "an earlier run")
    return Scanned(findings, f"its baseline inventory of {when}", target.name, target.id)
