"""`drift diff --fix`: the Dockerfile reconciled with the image.

Undocumented packages a person installed (not their dependencies) are added, pinned, to
the install command of their manager in the final stage (a new RUN when there is none);
pins that disagree are set to the installed version; missing packages and files nothing
explains are flagged in comments; config is appended. Everything else stays as written.
"""

from __future__ import annotations

import re

from drift.diff.modes import DiffResult
from drift.dockerfile.escape import comment, has_control
from drift.dockerfile.parse import Dockerfile
from drift.model import Finding

_APT_INSTALL = re.compile(r"\b(apt-get|apt)\b[^\n]*?\binstall\b")
_PIN_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+:~=-]*")  # a name=version a RUN line holds unquoted
_PIP_INSTALL = re.compile(r"\b(pip3?|python3?(\.\d+)? -m pip)\b[^\n]*?\binstall\b")
FILES_HEADER = "# drift: files changed in "


def _final_stage(df: Dockerfile) -> tuple[int, int]:
    """0-based index range of the final stage's instructions (FROM included)."""
    froms = [i for i, inst in enumerate(df.instructions) if inst.keyword == "FROM"]
    return froms[-1], len(df.instructions)


def _candidates(result: DiffResult, manager: str) -> list[Finding]:
    return [
        f
        for f in result.findings
        if f.category == "undocumented" and f.manager == manager and f.explained_by is None and f.expected is None
    ]


def _safe(f: Finding) -> bool:
    return bool(_PIN_WORD.fullmatch(f"{f.name}={f.actual}"))


def _roots(result: DiffResult, manager: str) -> list[Finding]:
    return [f for f in _candidates(result, manager) if _safe(f)]


def _comments_above(lines: list[str], index: int) -> set[str]:
    """The comment lines right above line INDEX (0-based)."""
    out = set()
    while index > 0 and lines[index - 1].lstrip().startswith("#"):
        index -= 1
        out.add(lines[index].strip())
    return out


def _old_files_block(lines: list[str]) -> set[int]:
    """Indices of a files block an earlier --fix appended (replaced, never repeated)."""
    start = next((i for i, line in enumerate(lines) if line.startswith(FILES_HEADER)), None)
    if start is None:
        return set()
    end = start + 1
    while end < len(lines) and lines[end].startswith("# "):
        end += 1
    first = start - 1 if start > 0 and not lines[start - 1].strip() else start
    return set(range(first, end))


def reconcile(result: DiffResult, image: str) -> str:
    """Every value from the image is checked or escaped (drift.dockerfile.escape): findings
    carry escaped fixes, and names in comments are shown with control characters escaped."""
    assert result.dockerfile is not None and result.dockerfile_text is not None
    image = comment(image)
    df = result.dockerfile
    lines = result.dockerfile_text.splitlines()
    start, end = _final_stage(df)
    stage = df.instructions[start:end]
    inserts: dict[int, list[str]] = {}  # 0-based line index -> lines inserted before it
    appended_to: dict[int, str] = {}  # 0-based line index -> text inserted after the install word

    def add_before(index: int, new: list[str]) -> None:
        inserts.setdefault(index, []).extend(new)

    for f in [f for m in ("apt", "pip") for f in _candidates(result, m) if not _safe(f)]:
        add_before(_after_from(stage), [f"# drift: not added (not a plain name and version): {comment(f.name)}"])
    apt = _roots(result, "apt")
    if apt:
        pins = " ".join(f"{f.name}={f.actual}" for f in apt)
        target = _find(stage, lines, _APT_INSTALL)
        if target is not None:
            appended_to[target] = " " + pins
        else:
            at = _after_from(stage)
            add_before(
                at,
                [
                    f"# drift --fix: installed in {image} but not declared",
                    "RUN apt-get update \\",
                    " && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \\",
                    *[f"      {f.name}={f.actual} \\" for f in apt],
                    " && rm -rf /var/lib/apt/lists/*",
                    "",
                ],
            )
    pip = _roots(result, "pip")
    if pip:
        pins = " ".join(f"{f.name}=={f.actual}" for f in pip)
        target = _find(stage, lines, _PIP_INSTALL)
        if target is not None:
            appended_to[target] = appended_to.get(target, "") + " " + pins
        else:
            managed = "--break-system-packages " if any("/usr/local" in (f.location or "") for f in pip) else ""
            at = _before_config(stage)
            add_before(
                at,
                [
                    f"# drift --fix: pip packages installed in {image} but not declared",
                    f"RUN python3 -m pip install --no-cache-dir {managed}{pins}",
                    "",
                ],
            )
    for f in result.findings:
        if f.line is None:
            continue
        if f.category == "missing":
            note = f"# drift: {comment(f.name)} (declared below) is not installed in {image}"
            if note not in _comments_above(lines, f.line - 1):  # a second --fix adds it once
                add_before(f.line - 1, [note])
        elif f.category == "version" and f.manager and f.fix and _safe(f):
            _repin(lines, df, f)
    present = {line.strip() for line in lines}  # config lines an earlier --fix appended stay once
    config = [f.fix for f in result.findings if f.category == "config" and f.fix and f.fix.strip() not in present]
    files = [f for f in result.findings if f.category == "file"]
    tail: list[str] = []
    if config:
        tail += ["", f"# drift --fix: config as found in {image}"]
        tail += [fix if not has_control(fix) else f"# drift: not written: {comment(fix)}" for fix in config]
    dropped = _old_files_block(lines)  # replaced by the current list, never repeated
    if files:
        tail += [
            "",
            f"{FILES_HEADER}{image} that nothing here explains",
            "# ('drift snapshot IMAGE -o DIR' copies them into a build context):",
        ]
        tail += [f"#   {comment(f.detail or '')} {comment(f.name)}" for f in files]
    out: list[str] = []
    for i, line in enumerate(lines):
        out += inserts.get(i, [])
        if i in dropped:
            continue
        if i in appended_to:
            m = _APT_INSTALL.search(line) or _PIP_INSTALL.search(line)
            assert m is not None
            line = line[: m.end()] + appended_to[i] + line[m.end() :]
        out.append(line)
    out += inserts.get(len(lines), [])
    out += tail
    return "\n".join(out) + "\n"


def _find(stage: list, lines: list[str], pattern: re.Pattern[str]) -> int | None:  # type: ignore[type-arg]
    found = None
    for inst in stage:
        if inst.keyword != "RUN":
            continue
        for index in range(inst.line - 1, min(inst.end_line, len(lines))):
            if pattern.search(lines[index]):
                found = index
    return found


def _after_from(stage: list) -> int:  # type: ignore[type-arg]
    return stage[0].end_line


def _before_config(stage: list) -> int:  # type: ignore[type-arg]
    runs = [inst for inst in stage if inst.keyword == "RUN"]
    return runs[-1].end_line if runs else stage[0].end_line


def _repin(lines: list[str], df: Dockerfile, f: Finding) -> None:
    inst = next((i for i in df.instructions if i.line == f.line), None)
    if inst is None:
        return
    name = re.escape(f.name)
    if f.manager == "apt":
        pattern = re.compile(rf"(?<![\w.+-]){name}=[^\s\\'\"]+")
        new = f"{f.name}={f.actual}"
    else:
        pattern = re.compile(rf"(?<![\w.-]){name}\s*(==|>=|<=|~=|!=|>|<)[^\s\\'\"]+", re.IGNORECASE)
        new = f"{f.name}=={f.actual}"
    if not _PIN_WORD.fullmatch(new.replace("==", "=")):
        return  # a version no RUN line can hold unquoted: left as written
    for index in range(inst.line - 1, min(inst.end_line, len(lines))):
        if pattern.search(lines[index]):
            lines[index] = pattern.sub(lambda _: new, lines[index], count=1)
            return
