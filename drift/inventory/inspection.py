"""What is installed: one function turns a resolved source into an `Inventory` (drift.inventory
exports its names).

    source layers -> scans -> merged views (base, target) -> collectors -> Inventory

Collectors (apt, pip, files, config, history) read views only.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from debian.debian_support import version_compare

from drift import secrets
from drift.inventory import accounts, apt, files, pip, reuse, runtime, users, verify
from drift.model import (
    AccountChange,
    AptPackage,
    ConfigChange,
    FileChange,
    HistoryEntry,
    ImageConfig,
    Inventory,
    PackageDelta,
    PackageDigest,
    PipPackage,
    Unknown,
    canonical_name,
)
from drift.sources import RawHistory, Source, resolve
from drift.sources.base import BaseChoice, find_base
from drift.sources.fs import Layer, LayerScan, View, touched_paths

Scanner = Callable[[list[Layer]], list[LayerScan]]


def plain_scanner(layers: list[Layer]) -> list[LayerScan]:
    return [layer.scan() for layer in layers]


@dataclass(slots=True)
class Inspection:
    """An inventory and the views it was read from (for commands that need file content)."""

    inventory: Inventory
    source: Source
    top: View
    base: View | None
    scripts: dict[str, str] = field(default_factory=dict)  # maintainer scripts of changed apt packages


def inspect_target(
    name: str,
    stack: contextlib.ExitStack,
    *,
    base: str | None = None,
    engine: Any = None,
    scanner: Scanner | None = None,
    scratch: bool = False,
) -> Inspection:
    """Inventory of a target; `scratch=True` compares it with an empty base (FROM scratch)."""
    from drift.sources.base import scratch_base
    from drift.sources.engine_kinds import engine_for

    engine = engine_for(name, engine)  # containerd:NAME: containerd's engine
    source = resolve(name, stack, engine=engine)
    unknowns: list[Unknown] = []
    engine = source.engine or engine  # the engine (and containerd namespace) the target was found on
    choice = scratch_base() if scratch else find_base(source, engine, stack, base, unknowns)
    return build(source, choice, scanner or plain_scanner, unknowns)


def build(source: Source, choice: BaseChoice | None, scanner: Scanner, unknowns: list[Unknown]) -> Inspection:
    prefix = choice.prefix if choice is not None and choice.prefix is not None else 0
    for layer in source.layers[prefix:]:  # only a base found by layer digests relies on them
        if hasattr(layer, "relied"):
            layer.relied = False  # (a cache, when used, relies on them again: see cache.scan_all)
    scans = scanner(source.layers)
    kept = _kept_base(scans[:prefix], source.layers[:prefix]) if prefix else None
    # a base kept from the last container of this image: its merge is copied, not made again
    top = View.stacked(kept[0], scans, source.layers) if kept is not None else View(scans, source.layers)
    # --verify-packages: every package file is hashed whatever the rest finds, so it starts now
    early = verify.FullCheck(top) if verify.mode() == "full" else None
    base_view: View | None = None
    touched: set[str] | None = None
    opaque: list[str] = []
    base_packages: tuple[Any, Any] | None = None
    if choice is not None and choice.prefix is not None:
        base_view, apt_b, pip_b = kept or _base(scans[: choice.prefix], source.layers[: choice.prefix])
        base_packages = (apt_b, pip_b)
        touched = touched_paths(scans[choice.prefix :])
        opaque = [o for s in scans[choice.prefix :] for o in s.opaque]
    suspects: set[str] | None = None
    if choice is not None and choice.prefix is None and choice.source is not None:
        base_scans = scanner(choice.source.layers)
        base_view, apt_b, pip_b = _base(base_scans, choice.source.layers)
        base_packages = (apt_b, pip_b)
        suspects = _suspects(source, choice.source, scans, base_scans)

    apt_top = pip_top = None
    if touched is not None and base_view is not None and base_packages is not None:
        # layers above the base that change nothing the collectors read: the base's answers
        apt_top = reuse.same_apt(touched, set(opaque), base_view, top, base_packages[0])
        pip_top = reuse.same_pip(touched, set(opaque), base_view, top, base_packages[1], apt_top is not None)
    apt_top = apt_top or apt.collect(top)
    pip_top = pip_top or pip.collect(top, apt_top.owners_for, apt_top.listless_owner)
    unknowns += apt_top.unknowns + pip_top.unknowns
    if not apt_top.has_dpkg:
        unknowns.append(Unknown("apt", "no dpkg database (/var/lib/dpkg/status or status.d): no apt packages"))

    base_apt: list[AptPackage] = []
    base_pip: list[PipPackage] = []
    file_changes: list[Any] = []
    package_changes: list[PackageDelta] = []
    account_changes: list[AccountChange] = []
    scripts: dict[str, str] = {}
    if base_view is not None and base_packages is not None:
        apt_base, pip_base = base_packages
        base_apt, base_pip = apt_base.packages, pip_base.packages
        package_changes = package_deltas(base_apt, apt_top.packages, base_pip, pip_top.packages)
        base_venvs = {e.path for e in pip_base.environments if e.kind == "venv"}
        apt_changed = frozenset(c.name for c in package_changes if c.manager == "apt")
        scripts = apt_top.maintainer_scripts(set(apt_changed))
        changes = files.raw_changes(base_view, top, touched, opaque, suspects)
        present = [p for p, change in changes if change != "deleted"]
        links = [top.resolve(p) for p in present if top.entries[p].kind == "symlink"]
        # files a layer above the base rewrote with the same size and mtime (`touch -r`) are no
        # change by their metadata, but a package's file among them is still checked by content
        same = _rewritten_alike(top, touched, {p for p, _ in changes})
        explainers = files.Explainers(
            owners=apt_top.owners_for(present + links + same),
            base_owners=apt_base.owners_for(p for p, change in changes if change == "deleted"),
            records=pip_top.records,
            base_records=pip_base.records,
            alternatives=apt_top.alternatives,
            apt_changed=apt_changed,
            pip_changed=frozenset(
                f"{canonical_name(c.name)}@{c.location}" for c in package_changes if c.manager == "pip"
            ),
            venvs_created=tuple(e.path for e in pip_top.environments if e.kind == "venv" and e.path not in base_venvs),
            scripts=scripts,
            removal_scripts=apt_base.maintainer_scripts(set(apt_changed), apt.REMOVAL),
            listless_layers=apt_top.listless_layers,
        )
        classified = files.classify(changes, base_view, top, explainers)
        classified = _verify_packages(classified, same, top, apt_top, pip_top, explainers, unknowns, early)
        if source.target.kind == "container":
            classified = runtime.mark_run_paths(classified, source.raw, top)
        if source.config is not None:
            classified = runtime.mark_volume_points(classified, source.config.volumes, top)
        account_delta = users.delta(base_view, top)
        unknowns += account_delta.unknowns
        account_delta.changes = users.explain(account_delta.changes, scripts)
        classified, account_changes = accounts.group(classified, account_delta, base_view, top)
        file_changes = mark_secrets(classified, top)
    elif apt_top.has_dpkg or pip_top.packages:
        file_changes = _unrecorded(top, apt_top, pip_top, early)

    base_config = choice.config if choice else None
    inventory = Inventory(
        target=source.target,
        base=choice.ref if choice else None,
        apt=tuple(apt_top.packages),
        pip=tuple(pip_top.packages),
        environments=tuple(pip_top.environments),
        files=tuple(file_changes),
        config=source.config,
        base_config=base_config,
        config_changes=tuple(config_changes(base_config, source.config))
        if choice and not runtime.own_image(source, choice.ref.id)
        else (),
        package_changes=tuple(package_changes),
        history=tuple(history(source.history, choice.history_len if choice else 0)),
        unknowns=tuple(sorted(set(unknowns), key=lambda u: (u.where, u.reason))),
        base_apt=tuple(base_apt),
        base_pip=tuple(base_pip),
        accounts=tuple(account_changes),
    )
    return Inspection(inventory, source, top, base_view, scripts)


def _rewritten_alike(top: View, touched: set[str] | None, changed: set[str]) -> list[str]:
    """Regular files the layers above the base wrote that raw_changes saw no change in."""
    if not touched:
        return []
    out = []
    for path in touched - changed:
        entry = top.entries.get(path)
        if entry is not None and entry.kind in ("file", "hardlink"):
            out.append(path)
    return sorted(out)


def _verify_packages(
    changes: list[FileChange],
    same: list[str],
    top: View,
    apt_top: apt.AptResult,
    pip_top: pip.PipResult,
    ex: files.Explainers,
    unknowns: list[Unknown],
    early: verify.FullCheck | None = None,
) -> list[FileChange]:
    """Package files whose content is not what their package recorded become hand-made changes
    (drift/inventory/verify.py). With --verify-packages every package file is hashed, and a
    modified one the base already held that way is said as an unknown: the base's, not this
    target's drift."""
    full = verify.mode() == "full"
    present = {f.path for f in changes if f.change != "deleted" and f.kind == "file"} | set(same)
    if full:
        found = (early or verify.FullCheck(top)).result(pip_top.packages)
    else:  # screen first: only the md5sums of packages with a suspect file are read
        screened = verify.apt_suspects(top, ex.owners, present)
        records = verify.apt_records(top, {ex.owners[p] for p in screened}, screened)
        keys = {ex.records[p] for p in present if p in ex.records}
        pip_recs = verify.pip_records(top, [p for p in pip_top.packages if p.key in keys], present)
        for path, recs in pip_recs.items():
            records.setdefault(path, []).extend(recs)
        found = verify.check(top, records, full=False, skip=verify.diverted(top))
    if not found.modified:
        return changes
    out = []
    for f in changes:
        digest = found.modified.get(f.path) if f.change != "deleted" else None
        if digest is None:
            out.append(f)
            continue
        out.append(
            dataclasses.replace(
                f,
                klass="unexplained",
                owner=digest.package,
                reason=f"package file modified: {digest.algorithm} is not the one {digest.package} recorded",
                package_file=digest,
                sha256=f.sha256 or files.content_sha256(top, f.path),
                executable=f.executable or files.is_executable_file(top, f.path, f.mode),
            )
        )
    out += [_modified(top, path, found.modified[path]) for path in same if path in found.modified]
    out.sort(key=lambda f: f.path)
    for path in sorted(found.modified.keys() - present):
        d = found.modified[path]
        why = f"{d.package}: {d.algorithm} {d.actual}, recorded {d.recorded}"
        unknowns.append(Unknown(path, f"package file modified before the base ({why}): not this target's change"))
    return out


def _unrecorded(
    top: View, apt_top: apt.AptResult, pip_top: pip.PipResult, early: verify.FullCheck | None = None
) -> list[FileChange]:
    """With no base to compare with, the package files of the whole image that are not what their
    package recorded (screened, or all hashed with --verify-packages)."""
    if early is not None:
        return [
            _modified(top, path, digest) for path, digest in sorted(early.result(pip_top.packages).modified.items())
        ]
    records = verify.apt_records(top, None, None)
    for path, recs in verify.pip_records(top, pip_top.packages, None).items():
        records.setdefault(path, []).extend(recs)
    found = verify.check(top, records, full=verify.mode() == "full", skip=verify.diverted(top))
    return [_modified(top, path, digest) for path, digest in sorted(found.modified.items())]


def _modified(top: View, path: str, digest: PackageDigest) -> FileChange:
    """A package file whose content is not the recorded one, as a hand-made change."""
    entry = top.file_of(path)[1]  # type: ignore[index]  # verify.check() found a regular file there
    return FileChange(
        path=path,
        change="modified",
        kind="file",
        size=entry.size,
        mode=entry.mode,
        uid=entry.uid,
        gid=entry.gid,
        klass="unexplained",
        owner=digest.package,
        reason=f"package file modified: {digest.algorithm} is not the one {digest.package} recorded",
        sha256=files.content_sha256(top, path),
        package_file=digest,
        executable=files.is_executable_file(top, path, entry.mode),
    )


_LAST_BASE: list[tuple[tuple[Any, ...], tuple[View, Any, Any]]] = []


def _base_key(scans: list[LayerScan], layers: list[Layer]) -> tuple[Any, ...] | None:
    from drift.sources.layers import DirLayer

    if layers and all(isinstance(x, DirLayer) and x.digest for x in layers):
        return tuple((x.root, x.digest, x.overlay, id(y)) for x, y in zip(layers, scans, strict=True))  # type: ignore[attr-defined]
    return None


def _kept_base(scans: list[LayerScan], layers: list[Layer]) -> tuple[View, Any, Any] | None:
    key = _base_key(scans, layers)
    if key is not None and _LAST_BASE and _LAST_BASE[0][0] == key:
        return _LAST_BASE[0][1]
    return None


def _base(scans: list[LayerScan], layers: list[Layer]) -> tuple[View, Any, Any]:
    """The base's view and packages. A base made of image layers on this machine (overlay2 folders,
    by digest: an image's layers never change under their ID) is read once for the containers of
    one image, which a report reads one after another; one base is kept (the memory of a run does
    not grow with the fleet)."""
    kept = _kept_base(scans, layers)
    if kept is not None:
        return kept
    key = _base_key(scans, layers)
    view = View(scans, layers)
    apt_base = apt.collect(view)
    found = (view, apt_base, pip.collect(view, apt_base.owners_for, apt_base.listless_owner))
    _LAST_BASE[:] = [(key, found)] if key is not None else []
    return found


def _suspects(source: Source, other: Source, scans: list[LayerScan], other_scans: list[LayerScan]) -> set[str] | None:
    """Paths the layers above two sources' shared layers touch (None: no layer ids to share)."""
    if not source.layer_ids or not other.layer_ids:
        return None
    shared = 0
    for mine, theirs in zip(source.layer_ids, other.layer_ids, strict=False):
        if mine != theirs:
            break
        shared += 1
    return touched_paths(scans[shared:]) | touched_paths(other_scans[shared:])


def mark_secrets(changes: list[FileChange], top: View) -> list[FileChange]:
    """Hand-made (or unknown) files whose path or content (the whole file, streamed) looks secret."""
    out = []
    for f in changes:
        why = None
        if f.klass in ("unexplained", "unknown") and f.change != "deleted":
            why = secrets.path_reason(f.path)
            if why is None and f.kind == "file":
                why = _content_reason(top, f.path)
        out.append(dataclasses.replace(f, secret=why) if why else f)
    return out


def _content_reason(view: View, path: str) -> str | None:
    try:
        with view.open(path) as fh:
            return secrets.content_reason(fh)
    except (OSError, KeyError):
        return None


def package_deltas(
    base_apt: list[AptPackage], apt_now: list[AptPackage], base_pip: list[PipPackage], pip_now: list[PipPackage]
) -> list[PackageDelta]:
    out: list[PackageDelta] = []
    old_apt = {p.key: p for p in base_apt}
    new_apt = {p.key: p for p in apt_now}
    for key in sorted(old_apt.keys() | new_apt.keys()):
        old, new = old_apt.get(key), new_apt.get(key)
        if old is None and new is not None:
            out.append(PackageDelta("apt", new.name, "added", None, new.version))
        elif new is None and old is not None:
            out.append(PackageDelta("apt", old.name, "removed", old.version, None))
        elif old is not None and new is not None and old.version != new.version:
            cmp = version_compare(new.version, old.version)
            out.append(PackageDelta("apt", new.name, "upgraded" if cmp > 0 else "downgraded", old.version, new.version))
    old_pip = {p.key: p for p in base_pip}
    new_pip = {p.key: p for p in pip_now}
    for key in sorted(old_pip.keys() | new_pip.keys()):
        o, n = old_pip.get(key), new_pip.get(key)
        if o is None and n is not None:
            out.append(PackageDelta("pip", n.name, "added", None, n.version, n.location))
        elif n is None and o is not None:
            out.append(PackageDelta("pip", o.name, "removed", o.version, None, o.location))
        elif o is not None and n is not None and o.version != n.version:
            out.append(
                PackageDelta("pip", n.name, _pip_direction(o.version, n.version), o.version, n.version, n.location)
            )
    return out


def _pip_direction(old: str, new: str) -> Literal["upgraded", "downgraded", "changed"]:
    from packaging.version import InvalidVersion, Version

    try:
        return "upgraded" if Version(new) > Version(old) else "downgraded"
    except InvalidVersion:
        return "changed"


def config_changes(base: ImageConfig | None, now: ImageConfig | None) -> list[ConfigChange]:
    if now is None:
        return []
    old = base.flat() if base else {}
    new = now.flat()
    out = []
    for key in sorted(old.keys() | new.keys()):
        if old.get(key) != new.get(key):
            out.append(ConfigChange(key, old.get(key), new.get(key)))
    return out


_BUILD = re.compile(
    r"^(\|\d+ .*?)?/bin/sh -c |^(RUN|COPY|ADD|ENV|ARG|CMD|ENTRYPOINT|LABEL|EXPOSE|WORKDIR|USER|VOLUME|"
    r"SHELL|STOPSIGNAL|HEALTHCHECK|ONBUILD|MAINTAINER) "
)


def layer_origin(created_by: str, comment: str) -> str:
    if comment.startswith("Imported from"):
        return "import"
    if "buildkit" in comment or _BUILD.match(created_by.strip()):
        return "build"
    return "commit"


def history(rows: list[RawHistory], base_len: int) -> list[HistoryEntry]:
    return [
        HistoryEntry(
            created=row.created,
            created_by=row.created_by,
            comment=row.comment,
            size=row.size,
            empty_layer=row.empty_layer,
            origin=layer_origin(row.created_by, row.comment),  # type: ignore[arg-type]
            in_base=i < base_len,
        )
        for i, row in enumerate(rows)
    ]
