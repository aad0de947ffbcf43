"""`drift diff ACTUAL EXPECTED`: an image against the Dockerfile that claims to describe
it (statically, or `--build` it and compare), or against another target."""

from __future__ import annotations

import contextlib
import hashlib
import os
from dataclasses import dataclass, field
from typing import Any, Literal

from drift import secrets
from drift.compare import apt_label, compare_inventories, delta_file_finding, native_arch
from drift.diff.file_lines import content_differences
from drift.dockerfile import audit as audit_mod
from drift.dockerfile.audit_files import copied_differences, listless_findings
from drift.dockerfile.declared import Declaration, declare
from drift.dockerfile.evidence import Evidence, from_inspection
from drift.dockerfile.parse import Dockerfile, parse
from drift.dockerfile.resolve import chain, heads
from drift.errors import BaseNotFound, DockerfileError, DriftError
from drift.inventory import Inspection, Scanner, inspect_target, runtime
from drift.model import FINDING_CATEGORIES, Finding, Inventory, Target
from drift.severity import SEVERITIES, at_least, split_fail_on

DIFF_SCHEMA = "drift.diff/v1"
DEFAULT_FAIL_ON = tuple(c for c in FINDING_CATEGORIES if c != "unknown")


@dataclass(slots=True)
class DiffResult:
    actual: Target
    expected: dict[str, Any]
    mode: Literal["static", "build", "target"]
    findings: list[Finding]
    ignored: list[Finding] = field(default_factory=list)
    fail_on: tuple[str, ...] = DEFAULT_FAIL_ON
    inspection: Inspection | None = None
    dockerfile: Dockerfile | None = None
    dockerfile_text: str | None = None
    left_image: str | None = None  # what a --build left on the engine (kept or not removable)
    history: Evidence | None = None  # static mode: the layers the image's history ties to lines

    def fails(self, f: Finding) -> bool:
        """Whether F makes the exit code 1: its category is in --fail-on (all but unknown when
        none is given) and, with `severity:LEVEL`, it is LEVEL or more serious."""
        categories, floor = split_fail_on(self.fail_on)
        if f.category not in (categories or DEFAULT_FAIL_ON):
            return False
        return floor is None or at_least(f.severity, floor)

    @property
    def failing(self) -> list[Finding]:
        return [f for f in self.findings if self.fails(f)]

    def summary(self) -> dict[str, Any]:
        counts = {c: sum(1 for f in self.findings if f.category == c) for c in FINDING_CATEGORIES}
        undocumented = [f for f in self.findings if f.category == "undocumented"]
        roots = sum(1 for f in undocumented if f.explained_by is None)
        orphans = sum(1 for f in undocumented if f.explained_by and "(orphan" in f.explained_by)
        return {
            "total": len(self.findings),
            "by_category": counts,
            "by_severity": {s: sum(1 for f in self.findings if f.severity == s) for s in SEVERITIES},
            "undocumented_installed_by_hand": roots,
            "undocumented_dependencies": len(undocumented) - roots - orphans,
            "undocumented_orphans": orphans,
            "failing": len(self.failing),
            "ignored": len(self.ignored),
            "drift": bool(self.failing),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": DIFF_SCHEMA,
            "mode": self.mode,
            "actual": self.actual.to_json(),
            "expected": self.expected,
            "fail_on": list(self.fail_on),
            "summary": self.summary(),
            "findings": [f.to_json() for f in self.findings],
            "ignored": [f.to_json() for f in self.ignored],
        }


DOCKERFILE_NAMES = ("Dockerfile", "Containerfile", "dockerfile", "containerfile")


def dockerfile_in_folder(path: str) -> str | None:
    """The Dockerfile a folder holds, when EXPECTED names a build-context folder.

    A folder with a `Dockerfile` (or `Containerfile`) is a build context, not a root
    filesystem: `dir:FOLDER` still forces the root-folder reading.
    """
    if not os.path.isdir(path):
        return None
    for name in DOCKERFILE_NAMES:
        candidate = os.path.join(path, name)
        if os.path.isfile(candidate):
            return candidate
    return None


def check_dockerfile_path(path: str) -> None:
    """EXPECTED that is plainly meant as a Dockerfile but is not there: 'no such file'."""
    bare = path.removeprefix("dockerfile:")
    if os.path.exists(bare):
        return
    name = os.path.basename(bare).lower()
    named = name in ("dockerfile", "containerfile") or name.startswith(("dockerfile.", "containerfile."))
    named = named or name.endswith((".dockerfile", ".containerfile"))
    named = named or ("/" in bare and os.path.isdir(os.path.dirname(bare)))  # its folder is here, it is not
    if named or path.startswith(("dockerfile:", "./", "../", "/", "~")):
        raise DockerfileError(f"no such file: {bare} (EXPECTED is a Dockerfile, a folder holding one, or a target)")


def is_dockerfile(path: str) -> bool:
    if path.startswith("dockerfile:"):
        return True
    if not os.path.isfile(path):
        return False
    name = os.path.basename(path).lower()
    if "dockerfile" in name or "containerfile" in name:
        return True
    try:
        with open(path, "rb") as fh:
            head = fh.read(512)
    except OSError:
        return False
    if head[:2] == b"\x1f\x8b" or b"\x00" in head:
        return False
    text = head.decode("utf-8", errors="replace").lstrip()
    return text.upper().startswith(("FROM", "ARG", "#"))


def read_dockerfile(path: str) -> tuple[Dockerfile, str]:
    path = path.removeprefix("dockerfile:")
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise DockerfileError(f"cannot read Dockerfile {path}: {exc}") from exc
    return parse(text, path), text


def sort_findings(findings: list[Finding]) -> list[Finding]:
    order = {c: i for i, c in enumerate(FINDING_CATEGORIES)}
    return sorted(findings, key=lambda f: (order[f.category], f.manager or "", f.name, f.location or ""))


def run_diff(
    actual: str,
    expected: str,
    stack: contextlib.ExitStack,
    *,
    show_secrets: bool = False,
    **options: Any,
) -> DiffResult:
    """The findings, with secret values redacted (and no fix that copies a secret file)
    unless SHOW_SECRETS: every renderer and `--fix` get them so."""
    result = _run(actual, expected, stack, **options)
    if not show_secrets and result.inspection is not None:
        result.findings = secrets.redact_findings(result.findings, result.inspection.inventory)
    return result


def _run(
    actual: str,
    expected: str,
    stack: contextlib.ExitStack,
    *,
    base: str | None = None,
    build: bool = False,
    network: str | None = None,
    build_args: dict[str, str] | None = None,
    scanner: Scanner | None = None,
    keep_image: bool = False,
    history_evidence: bool | Evidence = True,
    build_cache: bool = True,
) -> DiffResult:
    build_args = build_args or {}
    check_dockerfile_path(expected)
    folder = dockerfile_in_folder(expected)
    if folder is not None or is_dockerfile(expected):
        df, text = read_dockerfile(folder or expected)
        if build:
            result = _build_mode(
                actual,
                df,
                stack,
                base=base,
                network=network,
                build_args=build_args,
                scanner=scanner,
                keep_image=keep_image,
                build_cache=build_cache,
            )
        else:
            result = _static(
                actual, df, stack, base=base, build_args=build_args, scanner=scanner, history=history_evidence
            )
        result.dockerfile, result.dockerfile_text = df, text
        if folder is not None:
            result.expected["found_in"] = expected
        return result
    if build:
        raise DriftError("--build needs a Dockerfile as EXPECTED")
    insp = inspect_target(actual, stack, base=expected, scanner=scanner)
    findings = from_delta(insp.inventory)
    exp = insp.inventory.base
    return DiffResult(
        actual=insp.inventory.target,
        expected={"kind": "target", "name": expected, "id": exp.id if exp else None},
        mode="target",
        findings=sort_findings(findings),
        inspection=insp,
    )


def _base_of(df: Dockerfile, base: str | None, build_args: dict[str, str]) -> str:
    if base:
        return base
    all_stages, _ = heads(df, build_args)
    return chain(all_stages)[0].base


def _static(
    actual: str,
    df: Dockerfile,
    stack: contextlib.ExitStack,
    *,
    base: str | None,
    build_args: dict[str, str],
    scanner: Scanner | None,
    history: bool | Evidence = True,
) -> DiffResult:
    """HISTORY: a change in a layer the image's history ties to a line is that line's
    (drift.dockerfile.evidence); an `Evidence` is used as given (the re-audit after `--fix`
    keeps what the history said of the file the image was built from). `--build` never reads
    the history."""
    base_ref = _base_of(df, base, build_args)
    try:
        insp = inspect_target(
            actual,
            stack,
            base=None if base_ref == "scratch" else base_ref,
            scanner=scanner,
            scratch=base_ref == "scratch",
        )
    except BaseNotFound as exc:
        if actual.startswith("registry:"):
            raise BaseNotFound(
                f"cannot read the Dockerfile's base image {base_ref} from its registry: {exc} (or pass --base IMAGE)"
            ) from exc
        raise BaseNotFound(
            f"the Dockerfile's base image {base_ref} is not on the engine: build or load it, "
            f"or pass --base IMAGE ({exc})"
        ) from exc
    inv = insp.inventory
    venvs = {e.path for e in inv.environments if e.kind == "venv"}
    decl = declare(df, base_config=inv.base_config, build_args=build_args, known_venvs=venvs)
    evidence = history if isinstance(history, Evidence) else from_inspection(insp, df, build_args) if history else None
    # a container's own command, env and labels are docker run's: the Dockerfile built its image's
    findings = audit_mod.audit(
        runtime.as_built(insp),
        decl,
        context=os.path.dirname(os.path.abspath(df.path)),
        dockerfile=df.path,
        history=evidence,
    )
    expected: dict[str, Any] = {"kind": "dockerfile", "path": df.path, "base": base_ref, "stages": decl.stages}
    expected["history"] = evidence.to_json() if evidence is not None else None
    return DiffResult(
        actual=inv.target,
        expected=expected,
        mode="static",
        findings=sort_findings(findings),
        inspection=insp,
        history=evidence,
    )


def _build_mode(
    actual: str,
    df: Dockerfile,
    stack: contextlib.ExitStack,
    *,
    base: str | None,
    network: str | None,
    build_args: dict[str, str],
    scanner: Scanner | None,
    keep_image: bool,
    build_cache: bool = True,
) -> DiffResult:
    from drift.rebuild import Leftover, build_image, remove_build
    from drift.sources.engine_kinds import default

    base_ref = _base_of(df, base, build_args)
    context = os.path.dirname(os.path.abspath(df.path))
    digest = hashlib.sha256(os.path.abspath(df.path).encode()).hexdigest()[:12]
    # a tag of this run's own: two audits of one Dockerfile at once (parallel CI jobs on one
    # engine) would otherwise tag each other's build and remove it
    tag = f"drift-diff:{digest}-{os.urandom(3).hex()}"
    engine = default()
    image = build_image(
        engine,
        context,
        tag,
        network=network,
        buildargs=build_args,
        dockerfile=os.path.basename(df.path),
        cache=build_cache,
    )
    left: Leftover | None = Leftover(tag, image.id, "kept (--keep-image)") if keep_image else None
    scratch = base_ref == "scratch"
    ref = None if scratch else base_ref
    try:  # the build is read (content too) before it is removed
        with contextlib.ExitStack() as inner:
            built = inspect_target(f"image:{tag}", inner, base=ref, engine=engine, scanner=scanner, scratch=scratch)
            insp = inspect_target(actual, stack, base=ref, engine=engine, scanner=scanner, scratch=scratch)
            findings = compare_inventories(built.inventory, runtime.as_built(insp, engine).inventory)
            findings += copied_differences(built, insp, _declare_for(df, built, build_args), context, findings)
            findings = content_differences(findings, built, insp, ("Dockerfile's build", "image"))
    finally:
        if not keep_image:
            left = remove_build(engine, image)
    findings = attribute_findings(findings, insp.inventory)
    return DiffResult(
        actual=insp.inventory.target,
        expected={
            "kind": "dockerfile",
            "path": df.path,
            "base": base_ref,
            "built": tag,
            "id": built.inventory.target.id,
            "kept": left is not None,
        },
        mode="build",
        findings=sort_findings(findings),
        inspection=insp,
        left_image=left.message() if left else None,
    )


def _declare_for(df: Dockerfile, built: Inspection, build_args: dict[str, str]) -> Declaration:
    inv = built.inventory
    venvs = {e.path for e in inv.environments if e.kind == "venv"}
    return declare(df, base_config=inv.base_config, build_args=build_args, known_venvs=venvs)


def from_delta(inv: Inventory) -> list[Finding]:
    """Findings of a target against another target (its base for this comparison)."""
    out: list[Finding] = []
    for c in inv.package_changes:
        if c.change == "added":
            fix = f"{c.name}={c.version}" if c.manager == "apt" else f"{c.name}=={c.version}"
            out.append(Finding("undocumented", c.manager, c.name, None, c.version, location=c.location, fix=fix))
        elif c.change == "removed":
            out.append(Finding("missing", c.manager, c.name, c.base_version, None, location=c.location))
        else:
            out.append(Finding("version", c.manager, c.name, c.base_version, c.version, location=c.location))
    native = native_arch(inv)
    base_manual = {apt_label(p, native): p.manual for p in inv.base_apt}
    for p in inv.apt:
        label = apt_label(p, native)
        if label in base_manual and base_manual[label] != p.manual:
            was, now = ("manual" if base_manual[label] else "auto"), ("manual" if p.manual else "auto")
            out.append(Finding("mark", "apt", label, was, now))
    for f in inv.files:
        if f.klass == "unexplained":
            out.append(delta_file_finding(f))
    out += listless_findings(inv)
    out += account_findings(inv)
    for cc in inv.config_changes:
        out.append(Finding("config", None, cc.key, cc.base, cc.actual))
    return attribute_findings(out, inv)


def account_findings(inv: Inventory) -> list[Finding]:
    """Users and groups added, removed or changed that no package's maintainer scripts made."""
    return [
        Finding("account", None, a.label, a.before, a.after, detail=a.detail)
        for a in inv.accounts
        if a.explained_by is None
    ]


def attribute_findings(findings: list[Finding], actual: Inventory) -> list[Finding]:
    """Name, for undocumented packages that are dependencies, the undocumented package that pulled them in."""
    import dataclasses

    from drift.model import canonical_name

    undocumented = [f for f in findings if f.category == "undocumented"]
    apt_names = {f.name.split(":", 1)[0] for f in undocumented if f.manager == "apt"}
    apt_owner = audit_mod.attribute_apt(apt_names, audit_mod.AptIndex(actual.apt))
    wanted = {f"{canonical_name(f.name)}@{f.location}" for f in undocumented if f.manager == "pip"}
    pip_owner = audit_mod.attribute_pip([p for p in actual.pip if audit_mod.pip_key(p) in wanted])
    out = []
    for f in findings:
        if f.category == "undocumented" and f.manager in ("apt", "pip"):
            key = f.name.split(":", 1)[0] if f.manager == "apt" else f"{canonical_name(f.name)}@{f.location}"
            who = (apt_owner if f.manager == "apt" else pip_owner).get(key)
            f = dataclasses.replace(f, explained_by=audit_mod.by_label(f.manager, who), fix=None if who else f.fix)
        out.append(f)
    return out
