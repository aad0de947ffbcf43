"""Expected vs actual -> findings.

`compare_inventories` compares two inventories exactly (image vs image, original vs
rebuilt). `drift.dockerfile.audit` (static reasoning over a Dockerfile) produces the same
`Finding` values, so renderers and exit codes do not care where findings came from.
"""

from __future__ import annotations

from typing import Any

from drift.model import (
    DEFAULT_PATH,
    AptPackage,
    FileChange,
    Finding,
    Inventory,
    PipPackage,
    canonical_name,
    clean_workdir,
    engine_made_config,
)


def native_arch(*inventories: Inventory) -> str | None:
    for inv in inventories:
        for p in inv.apt:
            if p.name == "dpkg":
                return p.architecture
    return None


def apt_label(p: AptPackage, native: str | None) -> str:
    """name, or name:arch for a foreign architecture (as apt spells it)."""
    return p.name if p.architecture in ("all", "", native) else f"{p.name}:{p.architecture}"


def _pip_key(p: PipPackage) -> tuple[str, str]:
    return canonical_name(p.name), p.location


def compare_packages(expected: Inventory, actual: Inventory) -> list[Finding]:
    out: list[Finding] = []
    native = native_arch(actual, expected)
    exp_apt = {apt_label(p, native): p for p in expected.apt}
    act_apt = {apt_label(p, native): p for p in actual.apt}
    for key in sorted(exp_apt.keys() | act_apt.keys()):
        e, a = exp_apt.get(key), act_apt.get(key)
        if e is None and a is not None:
            out.append(Finding("undocumented", "apt", key, None, a.version, fix=f"{key}={a.version}"))
        elif a is None and e is not None:
            out.append(Finding("missing", "apt", key, e.version, None))
        elif e is not None and a is not None:
            if e.version != a.version:
                out.append(Finding("version", "apt", key, e.version, a.version))
            if e.manual != a.manual:
                out.append(Finding("mark", "apt", key, _mark(e.manual), _mark(a.manual), detail="apt-mark"))
    exp_pip = {_pip_key(p): p for p in expected.pip}
    act_pip = {_pip_key(p): p for p in actual.pip}
    for pkey in sorted(exp_pip.keys() | act_pip.keys()):
        ep, ap = exp_pip.get(pkey), act_pip.get(pkey)
        location = pkey[1]
        if ep is None and ap is not None:
            out.append(
                Finding(
                    "undocumented", "pip", ap.name, None, ap.version, location=location, fix=f"{ap.name}=={ap.version}"
                )
            )
        elif ap is None and ep is not None:
            out.append(Finding("missing", "pip", ep.name, ep.version, None, location=location))
        elif ep is not None and ap is not None:
            if ep.version != ap.version:
                out.append(Finding("version", "pip", ap.name, ep.version, ap.version, location=location))
            if ep.requested != ap.requested:
                out.append(
                    Finding(
                        "mark",
                        "pip",
                        ap.name,
                        _req(ep.requested),
                        _req(ap.requested),
                        location=location,
                        detail="REQUESTED",
                    )
                )
    return out


def _mark(manual: bool) -> str:
    return "manual" if manual else "auto"


def _req(requested: bool) -> str:
    return "requested" if requested else "dependency"


# Content that embeds build dates or password hashes: compared by presence, mode and owner.
_VOLATILE = frozenset({"/etc/shadow", "/etc/gshadow"})


def _file_state(f: FileChange) -> dict[str, Any]:
    if f.path in _VOLATILE:
        return {"change": f.change, "kind": f.kind, "mode": f"{f.mode:04o}", "owner": f"{f.uid}:{f.gid}"}
    state: dict[str, Any] = {
        "change": f.change,
        "kind": f.kind,
        "mode": f"{f.mode:04o}",
        "owner": f"{f.uid}:{f.gid}",
        "size": f.size,
        "link_target": f.link_target,
        "sha256": f.sha256,
    }
    if f.executable:
        state["executable"] = True
    if f.package_file is not None:  # the package's recorded digest, not the actual one (sha256 says that)
        state["package_file"] = {"package": f.package_file.package, "recorded": f.package_file.recorded}
    return state


def delta_file_finding(f: FileChange) -> Finding:
    """The finding of an unexplained file change against the base (`drift diff` TARGET mode,
    and what `drift inspect` rates: FileChange.severity)."""
    return f.as_finding()


def compare_files(expected: Inventory, actual: Inventory) -> list[Finding]:
    """Hand-made changes (unexplained) must be the same on both sides, byte for byte."""
    # An unknown one (written with packages whose file lists are gone: a package's or by hand) is
    # compared with the other side's unknown or hand-made one; alone, it says nothing either way.
    exp = {f.path: f for f in expected.files if f.klass in ("unexplained", "unknown")}
    act = {f.path: f for f in actual.files if f.klass in ("unexplained", "unknown")}
    out = []
    for path in sorted(exp.keys() | act.keys()):
        e, a = exp.get(path), act.get(path)
        if (e is None or a is None) and (e or a).klass == "unknown":  # type: ignore[union-attr]
            continue
        e_state = _file_state(e) if e else None
        a_state = _file_state(a) if a else None
        if e_state != a_state:
            differs = None
            if e_state and a_state:
                differs = ", ".join(k for k in e_state if e_state[k] != a_state[k])
            out.append(Finding("file", None, path, e_state, a_state, detail=differs))
    exp_conf = {(p.name, c.path): c.state for p in expected.apt for c in p.conffiles_changed}
    act_conf = {(p.name, c.path): c.state for p in actual.apt for c in p.conffiles_changed}
    for key in sorted(exp_conf.keys() | act_conf.keys()):
        if exp_conf.get(key) != act_conf.get(key) and key[1] not in exp and key[1] not in act:
            out.append(
                Finding("file", "apt", key[1], exp_conf.get(key), act_conf.get(key), detail=f"conffile of {key[0]}")
            )
    return out


def compare_config(expected: Inventory, actual: Inventory) -> list[Finding]:
    """Config keys that differ, found by DeepDiff (imported here: it takes ~0.7 s to import,
    and only the slow paths, --verify and diff --build, compare two whole configs)."""
    from deepdiff import DeepDiff

    if expected.config is None or actual.config is None:
        return []
    e, a = expected.config.flat(), actual.config.flat()
    for flat in (e, a):  # `WORKDIR /app/` keeps its slash in a build's config; a commit cleans it
        if isinstance(flat.get("WorkingDir"), str):
            flat["WorkingDir"] = clean_workdir(flat["WorkingDir"])
        for key in ("Cmd", "Entrypoint"):  # `CMD []` and no CMD run the same (nothing)
            if flat.get(key) == []:
                flat[key] = None
        if "Env.PATH" not in flat:  # a container without PATH gets the engine's default one
            flat["Env.PATH"] = DEFAULT_PATH
    for key in engine_made_config(e, a):
        e.pop(key, None)
        a.pop(key, None)
    keys: set[str] = set()
    for report in DeepDiff(e, a, view="tree").values():
        for item in report:
            keys.add(str(item.path(output_format="list")[0]))
    return [Finding("config", None, key, e.get(key), a.get(key)) for key in sorted(keys)]


def compare_accounts(expected: Inventory, actual: Inventory) -> list[Finding]:
    """Users and groups each side changed against the same base must end in the same state:
    an account one side did not change is still the base's there (the other side's `before`)."""
    exp = {a.label: a for a in expected.accounts}
    act = {a.label: a for a in actual.accounts}
    out = []
    for label in sorted(exp.keys() | act.keys()):
        e, a = exp.get(label), act.get(label)
        e_state = e.after if e is not None else a.before if a is not None else None
        a_state = a.after if a is not None else e.before if e is not None else None
        if e_state == a_state:
            continue
        if e_state is None or a_state is None:
            detail = "added" if e_state is None else "removed"
        else:
            detail = "changed: " + ", ".join(k for k in e_state if e_state.get(k) != a_state.get(k))
        out.append(Finding("account", None, label, e_state, a_state, detail=detail))
    return out


def compare_inventories(expected: Inventory, actual: Inventory) -> list[Finding]:
    return (
        compare_packages(expected, actual)
        + compare_files(expected, actual)
        + compare_accounts(expected, actual)
        + compare_config(expected, actual)
    )
