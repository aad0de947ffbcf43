"""CycloneDX 1.6 JSON: an inventory as an SBOM, through cyclonedx-python-lib.

    the image           -> metadata.component (type container: its ID and digest)
    apt / pip packages  -> components with purls (pkg:deb/DISTRO/..., pkg:pypi/...)
    Depends, Requires-Dist resolved to installed packages -> dependencies
    hand-made files     -> file components with their sha256
    what drift knows    -> properties under `drift:` (apt manual, pip requested, the layer that
                           wrote a package, base image or later layer, changed conffiles,
                           modified package files, findings)

The library is imported when a BOM is asked for, never with the rest of drift (start-up time).
No environment value, label or history line is written: a BOM never holds a secret; a file
whose path or content looks secret keeps no hash.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from drift import __version__
from drift.inventory.origin import Provenance
from drift.model import AptPackage, FileChange, Inventory, PipPackage, canonical_name

if TYPE_CHECKING:
    from cyclonedx.model.component import Component

NS = "drift"
IMAGE_REF = "drift:target"
_DEP_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9+.-]*)(?::([A-Za-z0-9-]+))?")


def apt_ref(p: AptPackage) -> str:
    return f"apt:{p.key}"


def pip_ref(p: PipPackage) -> str:
    return f"pip:{p.key}"


def file_ref(f: FileChange) -> str:
    return f"file:{f.path}"


def render(inv: Inventory, prov: Provenance, findings: Iterable[dict[str, Any]] = ()) -> str:
    """The BOM of INV as CycloneDX 1.6 JSON. FINDINGS (redacted, in their JSON form: `drift diff`'s,
    or a report's with their `state`) become properties of the component each concerns."""
    from cyclonedx.output.json import JsonV1Dot6

    bom = build(inv, prov, list(findings))
    return str(JsonV1Dot6(bom).output_as_string(indent=2)) + "\n"


def build(inv: Inventory, prov: Provenance, findings: list[dict[str, Any]]) -> Any:
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component, ComponentType

    bom = Bom()
    bom.metadata.tools.components.add(Component(type=ComponentType.APPLICATION, name="drift", version=__version__))
    image = _image(inv, prov)
    bom.metadata.component = image
    refs: dict[str, Component] = {}
    for p in inv.apt:
        refs[apt_ref(p)] = _apt(p, inv, prov)
    for d in inv.pip:
        refs[pip_ref(d)] = _pip(d, inv, prov)
    for f in inv.files:
        if f.klass in ("unexplained", "unknown") and f.change != "deleted" and f.kind != "dir":
            refs[file_ref(f)] = _file(f, prov)
    _modified_files(inv, refs)
    _attach_findings(findings, inv, refs, image)
    for ref in sorted(refs):
        bom.components.add(refs[ref])
    bom.register_dependency(image, [refs[r] for r in sorted(refs)])
    for source, targets in sorted(dependencies(inv).items()):
        bom.register_dependency(refs[source], [refs[t] for t in sorted(targets)])
    return bom


def _prop(name: str, value: object) -> Any:
    from cyclonedx.model import Property

    if isinstance(value, bool):
        value = "true" if value else "false"
    return Property(name=f"{NS}:{name}", value=str(value))


def _image(inv: Inventory, prov: Provenance) -> Component:
    from cyclonedx.model.component import Component, ComponentType

    t = inv.target
    props = [_prop("target:kind", t.kind)]
    if t.id:
        props.append(_prop("target:id", t.id))
    if t.digest:
        props.append(_prop("target:digest", t.digest))
    if t.image:
        props.append(_prop("target:image", t.image))
    if inv.base is not None:
        props += [_prop("base:name", inv.base.name), _prop("base:layers", inv.base.layers)]
        if inv.base.id:
            props.append(_prop("base:id", inv.base.id))
    if prov.distro_id:
        props.append(_prop("distro", _distro(prov) or prov.distro_id))
    props += [_prop(f"layer:{i}", ident) for i, ident in enumerate(prov.layer_ids)]
    props += [_prop("unknown", f"{u.where}: {u.reason}") for u in inv.unknowns]
    return Component(
        type=ComponentType.CONTAINER,
        name=t.name,
        version=t.digest or t.id or None,
        bom_ref=IMAGE_REF,
        properties=props,
    )


def _distro(prov: Provenance) -> str | None:
    if not prov.distro_id:
        return None
    return f"{prov.distro_id}-{prov.distro_version}" if prov.distro_version else prov.distro_id


def _layer_props(key: str, prov: Provenance) -> list[Any]:
    index = prov.layer_of(key)
    if index is None:
        return []
    out = [_prop("layer", index)]
    if index < len(prov.layer_ids):
        out.append(_prop("layer:id", prov.layer_ids[index]))
    return out


def _origin(inv: Inventory, in_base: bool) -> Any:
    """base-image: the base had this package at this version; later-layer: a layer above it
    brought or changed it. Without a base to compare with, nothing is said."""
    if inv.base is None:
        return []
    return [_prop("origin", "base-image" if in_base else "later-layer")]


def _apt(p: AptPackage, inv: Inventory, prov: Provenance) -> Component:
    from cyclonedx.model.component import Component, ComponentType
    from packageurl import PackageURL

    qualifiers = {"arch": p.architecture} if p.architecture else {}
    distro = _distro(prov)
    if distro:
        qualifiers["distro"] = distro
    if p.source and (p.source != p.name or p.source_version != p.version):
        qualifiers["upstream"] = p.source if p.source_version == p.version else f"{p.source}@{p.source_version}"
    purl = PackageURL(
        type="deb",
        namespace=(prov.distro_id or "debian").lower(),
        name=p.name,
        version=p.version,
        qualifiers=qualifiers,
    )
    props = [
        _prop("package:manager", "apt"),
        _prop("apt:manual", p.manual),
        _prop("apt:source", p.source),
    ]
    if p.essential:
        props.append(_prop("apt:essential", True))
    props += [_prop(f"apt:conffile:{c.state}", c.path) for c in p.conffiles_changed]
    props += _layer_props(apt_ref(p), prov)
    props += _origin(inv, any(b.key == p.key and b.version == p.version for b in inv.base_apt))
    return Component(
        type=ComponentType.LIBRARY,
        name=p.name,
        version=p.version,
        bom_ref=apt_ref(p),
        purl=purl,
        properties=props,
    )


def _pip(d: PipPackage, inv: Inventory, prov: Provenance) -> Component:
    from cyclonedx.model.component import Component, ComponentType
    from packageurl import PackageURL

    props = [
        _prop("package:manager", "pip"),
        _prop("pip:requested", d.requested),
        _prop("pip:environment", d.environment),
        _prop("pip:location", d.location),
    ]
    if d.installer:
        props.append(_prop("pip:installer", d.installer))
    if d.apt_owner:
        props.append(_prop("pip:apt-owner", d.apt_owner))
    if d.direct_url is not None:  # its URL may hold a token: only its kind and commit
        props.append(_prop("pip:direct-url:kind", d.direct_url.kind))
        if d.direct_url.commit:
            props.append(_prop("pip:direct-url:commit", d.direct_url.commit))
        if d.direct_url.editable:
            props.append(_prop("pip:editable", True))
    props += _layer_props(pip_ref(d), prov)
    props += _origin(inv, any(b.key == d.key and b.version == d.version for b in inv.base_pip))
    return Component(
        type=ComponentType.LIBRARY,
        name=d.name,
        version=d.version,
        bom_ref=pip_ref(d),
        purl=PackageURL(type="pypi", name=canonical_name(d.name), version=d.version),
        properties=props,
    )


def _file(f: FileChange, prov: Provenance) -> Component:
    from cyclonedx.model import HashAlgorithm, HashType
    from cyclonedx.model.component import Component, ComponentType

    from drift.secrets import path_reason

    secret = f.secret or path_reason(f.path)
    props = [
        _prop("file:change", f.change),
        _prop("file:kind", f.kind),
        _prop("file:class", f.klass),
        _prop("file:mode", f"{f.mode:04o}"),
        _prop("file:size", f.size),
    ]
    if f.executable:
        props.append(_prop("file:executable", True))
    if secret:
        props.append(_prop("file:secret", secret))  # why it looks secret, never its content
    if f.owner:
        props.append(_prop("file:owner", f.owner))
    if f.link_target is not None and not secret:
        props.append(_prop("file:link-target", f.link_target))
    hashes = [HashType(alg=HashAlgorithm.SHA_256, content=f.sha256)] if f.sha256 and not secret else []
    return Component(type=ComponentType.FILE, name=f.path, bom_ref=file_ref(f), hashes=hashes, properties=props)


def _modified_files(inv: Inventory, refs: dict[str, Component]) -> None:
    """A package's file whose content is not the recorded one, said on the package as well."""
    apt_refs = {p.name: apt_ref(p) for p in inv.apt}
    pip_refs = {canonical_name(d.name): pip_ref(d) for d in inv.pip}
    for f in inv.files:
        if f.package_file is None:
            continue
        manager, _, name = f.package_file.package.partition(":")
        ref = apt_refs.get(name) if manager == "apt" else pip_refs.get(canonical_name(name))
        if ref is not None:
            refs[ref].properties.add(_prop("modified-file", f.path))


def _attach_findings(
    findings: list[dict[str, Any]], inv: Inventory, refs: dict[str, Component], image: Component
) -> None:
    """Each finding on the component it concerns (the image for config, accounts, the Dockerfile):
    `drift:finding:severity`, `drift:finding:category` (and a report's `drift:finding:state`) to
    filter by, and one `drift:finding` line per finding (severity, category, state, fingerprint,
    name, detail)."""
    by_name: dict[tuple[str, str], list[str]] = {}
    for p in inv.apt:
        by_name.setdefault(("apt", p.name), []).append(apt_ref(p))
    for d in inv.pip:
        by_name.setdefault(("pip", canonical_name(d.name)), []).append(pip_ref(d))
    for f in findings:
        targets: list[Component] = []
        manager, name, category = f.get("manager"), str(f.get("name") or ""), f.get("category")
        if manager in ("apt", "pip") and category != "file":
            key = (str(manager), name.split(":", 1)[0] if manager == "apt" else canonical_name(name))
            where = f.get("location")
            found = [r for r in by_name.get(key, []) if where is None or r.endswith(f"@{where}")]
            targets = [refs[r] for r in found or by_name.get(key, [])]
        elif category == "file" and f"file:{name}" in refs:
            targets = [refs[f"file:{name}"]]
        for c in targets or [image]:
            _add_finding(c, f)


def _add_finding(c: Component, f: dict[str, Any]) -> None:
    severity, category, state = f.get("severity"), f.get("category"), f.get("state")
    words = [f"severity={severity}", f"category={category}"]
    words += [f"state={state}"] if state else []
    words.append(f"fingerprint={f.get('fingerprint')}")
    text = " ".join(words) + f": {f.get('name')}"
    if f.get("detail") and category != "config":  # a config finding's detail may quote a value
        text += f" ({f['detail']})"
    c.properties.update(
        [_prop("finding", text), _prop("finding:severity", severity), _prop("finding:category", category)]
    )
    if state:
        c.properties.add(_prop("finding:state", state))


def dependencies(inv: Inventory) -> dict[str, set[str]]:
    """Edges between installed packages: dpkg's Pre-Depends and Depends (the first alternative
    that is installed, or provided by an installed package), pip's Requires-Dist (a distribution
    of that name in the same environment first, else one the environment also sees)."""
    out: dict[str, set[str]] = {}
    installed: dict[str, list[AptPackage]] = {}
    for p in inv.apt:
        installed.setdefault(p.name, []).append(p)
    for p in inv.apt:
        for rel in p.provides:
            m = _DEP_NAME.match(rel)
            if m:
                installed.setdefault(m.group(1), []).append(p)
    for p in inv.apt:
        for rel in p.pre_depends + p.depends:
            for alt in rel.split("|"):
                m = _DEP_NAME.match(alt)
                found = installed.get(m.group(1), []) if m else []
                if found:
                    best = next((q for q in found if q.architecture in (p.architecture, "all")), found[0])
                    if best.key != p.key:
                        out.setdefault(apt_ref(p), set()).add(apt_ref(best))
                    break
    envs = {e.path: e for e in inv.environments}
    shared = [d for d in inv.pip if d.venv is None and envs.get(d.environment) is not None]
    for d in inv.pip:
        env = envs.get(d.environment)
        sees_system = d.venv is None or (env is not None and env.include_system_site_packages)
        for req in d.requires:
            name = canonical_name(req)
            pool = [x for x in inv.pip if x.environment == d.environment and canonical_name(x.name) == name]
            if not pool and sees_system:
                pool = [x for x in shared if canonical_name(x.name) == name]
            if pool and pool[0].key != d.key:
                out.setdefault(pip_ref(d), set()).add(pip_ref(pool[0]))
    return out
