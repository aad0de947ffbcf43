"""Run drift over the wild corpus: every tests/corpus/wild/NAME/Dockerfile (each modelled on a
public project's Dockerfile named in its header) is built here, then audited against itself with
`drift diff IMAGE DIR/Dockerfile -f json`, statically and with `--build --network host`. The
Dockerfile describes the image exactly, so every finding is a false alarm (or a case whose
Dockerfile really does not declare something; the case's README says so).

    python scripts/corpus.py [NAME ...] [--keep] [--strict] [--jobs N] [--out FILE]
                             [--modes static,build] [--verify-packages] [--plant] [--corpus DIR]

--corpus DIR runs another folder of cases (default tests/corpus/wild), e.g. tests/corpus/holdout.

--plant commits hand-made drift on the built image (an apt install, a pip install, an added
config file, a package file edited) and requires each found, and nothing else, in every mode.

Prints a table (case, static findings by category, build findings by category, seconds), writes
every finding to a JSON file (default corpus-findings.json), removes the images it built unless
--keep. Exits 1 when any case has a finding drift counts as drift (its own exit code 1; `unknown`
findings, what drift says it cannot decide, are listed but do not count unless --strict), 2 when
a case does not build or drift fails.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus" / "wild"
BUILD_TIMEOUT = 600
DIFF_TIMEOUT = 900


@dataclass
class Result:
    name: str
    seconds: float = 0.0
    error: str | None = None
    static: list[dict[str, Any]] = field(default_factory=list)
    built: list[dict[str, Any]] = field(default_factory=list)

    planted: bool = False
    modes: tuple[str, ...] = ("static", "build")

    def extra(self, findings: list[dict[str, Any]], strict: bool = False) -> list[dict[str, Any]]:
        """Findings that are false alarms: all of them, or with plants all but the plants'."""
        return [f for f in findings if (f["category"] != "unknown" or strict) and not (self.planted and _is_plant(f))]

    def missed(self) -> list[str]:
        if not self.planted:
            return []
        runs = {"static": self.static, "build": self.built}
        # the static audit says when the image's dpkg file lists are gone (an unknown on them)
        listless = any(f["category"] == "unknown" and f.get("name") == "/var/lib/dpkg/info" for f in self.static)
        return [f"{mode}: {m}" for mode in self.modes for m in missed_plants(runs[mode], listless)]

    def found(self, strict: bool = False) -> bool:
        """Whether the case fails: a false alarm, or a plant not found."""
        return bool(self.extra(self.static, strict) + self.extra(self.built, strict)) or bool(self.missed())


TAG_PREFIX = "drift-corpus"  # the test suite's subset uses its own (tests/engine/test_corpus.py)


def tag_of(name: str) -> str:
    return f"{TAG_PREFIX}/{name}:1"


def build(name: str, made: set[str]) -> str | None:
    """docker build with the classic builder and the host network; the error text or None.
    Every image id the build printed (each step's, so each stage's last one) goes into `made`."""
    env = dict(os.environ, DOCKER_BUILDKIT="0")
    cmd = ["docker", "build", "--network", "host", "--rm", "--force-rm", "-t", tag_of(name), str(CORPUS / name)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=BUILD_TIMEOUT)
    made.update(m.group(1) for m in re.finditer(r"^ ---> ([0-9a-f]{12})$", proc.stdout, re.M))
    if proc.returncode != 0:
        return f"docker build failed: {(proc.stderr or proc.stdout)[-2000:]}"
    return None


# With --jobs > 1 the cases share the build cache: a step one case built (the same apt line) is
# another's cached step, and maybe its builder stage's image. Those are removed when every case
# is done (remove_made), never while another case's build may still stand on them.
DEFERRED: set[str] = set()
_deferred_lock = threading.Lock()


def remove(name: str, made: set[str], defer: bool = False) -> None:
    """The case's tag, then the images its builds made (a builder stage's image is untagged and
    outlives the tag); one still used by another image stays (docker refuses, not forced)."""
    subprocess.run(["docker", "image", "rm", tag_of(name)], capture_output=True)
    if defer:
        with _deferred_lock:
            DEFERRED.update(made)
        return
    remove_made(made)


def remove_made(made: set[str]) -> None:
    for image in sorted(made):
        # a tagged image (the base a FROM printed, another case's) is never ours to remove
        tags = subprocess.run(["docker", "image", "inspect", "-f", "{{len .RepoTags}}", image], capture_output=True)
        if tags.returncode == 0 and tags.stdout.strip() == b"0":
            subprocess.run(["docker", "image", "rm", image], capture_output=True)


def diff(name: str, *extra: str) -> tuple[list[dict[str, Any]], str | None]:
    """drift diff (this checkout's drift) as JSON: its findings, or an error text."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    dockerfile = str(CORPUS / name / "Dockerfile")
    cmd = [sys.executable, "-m", "drift", "diff", tag_of(name), dockerfile, *extra, "-f", "json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=DIFF_TIMEOUT)
    if proc.returncode not in (0, 1):
        return [], f"drift diff {' '.join(extra) or '(static)'} exited {proc.returncode}: {proc.stderr[-2000:]}"
    return json.loads(proc.stdout)["findings"], None


# Drift planted by hand on top of the built image (--plant): each must be a finding of its own in
# both modes. /usr/bin/zdiff is gzip's (a shell script; gzip is required in every Debian image).
PLANT_SCRIPT = (
    "set -e; export DEBIAN_FRONTEND=noninteractive; "
    "apt-get update -q >/dev/null; apt-get install -y -q --no-install-recommends tree >/dev/null; "
    # a venv's pip trusts its own CA bundle, not the system's (which holds this machine's proxy CA)
    "export PIP_CERT=/etc/ssl/certs/ca-certificates.crt; "
    'PIP=pip; command -v pip >/dev/null || PIP="python3 -m pip"; '
    "$PIP install -q --no-cache-dir --break-system-packages toolz==0.12.1 2>/dev/null "
    "|| $PIP install -q --no-cache-dir toolz==0.12.1; "
    "echo 'set by hand' > /etc/drift-plant.conf; "
    "echo '# hot fix' >> /usr/bin/zdiff"
)
PLANTS = {
    ("undocumented", "tree"),
    ("undocumented", "toolz"),
    ("file", "/etc/drift-plant.conf"),
    ("file", "/usr/bin/zdiff"),
}


def plant(name: str) -> str | None:
    """Put the plants on top of the case's image, under its tag; the error text or None. A build
    FROM the image (no context) keeps its entrypoint, command and user: the plants are the only
    drift, in a layer whose history matches no line of the case's Dockerfile."""
    user = subprocess.run(
        ["docker", "image", "inspect", "-f", "{{.Config.User}}", tag_of(name)], capture_output=True, text=True
    ).stdout.strip()
    lines = [f"FROM {tag_of(name)}", *(["USER 0"] if user else []), f"RUN {PLANT_SCRIPT}"]
    lines += [f"USER {user}"] if user else []
    env = dict(os.environ, DOCKER_BUILDKIT="0")
    cmd = ["docker", "build", "--network", "host", "--rm", "--force-rm", "-t", tag_of(name), "-"]
    proc = subprocess.run(
        cmd, input="\n".join(lines) + "\n", capture_output=True, text=True, env=env, timeout=BUILD_TIMEOUT
    )
    if proc.returncode != 0:
        return f"planting failed: {(proc.stderr or proc.stdout)[-1000:]}"
    return None


def _is_plant(f: dict[str, Any]) -> bool:
    return (f["category"], f.get("name") or "") in PLANTS


def missed_plants(findings: list[dict[str, Any]], listless: bool = False) -> list[str]:
    """The plants no finding names (a package file edit must say its package, unless the
    image's dpkg file lists are gone: LISTLESS, then no tool can know whose file it is)."""
    seen = set()
    for f in findings:
        name = f.get("name") or ""
        if (
            f["category"] == "file"
            and name == "/usr/bin/zdiff"
            and not listless
            and "package_file" not in json.dumps(f)
            and ("package file" not in str(f.get("detail")))
        ):
            continue  # found, but not as gzip's file
        seen.add((f["category"], name))
    return sorted(f"{c} {n}" for c, n in PLANTS - seen)


def run_case(
    name: str,
    keep: bool,
    modes: tuple[str, ...] = ("static", "build"),
    extra: tuple[str, ...] = (),
    planted: bool = False,
    defer: bool = False,
) -> Result:
    result = Result(name, planted=planted, modes=modes)
    made: set[str] = set()
    start = time.monotonic()
    try:
        # the engine is shared: a build that fails once (a mirror hiccup, a busy engine) is tried again
        result.error = build(name, made) and build(name, made)
        if result.error is None and planted:
            result.error = plant(name)
        if result.error is None:
            err = err2 = None
            if "static" in modes:
                result.static, err = diff(name, *extra)
            if "build" in modes:
                # --no-build-cache: the rebuild must not be the very image the build cache keeps
                result.built, err2 = diff(name, "--build", "--no-build-cache", "--network", "host", *extra)
            result.error = err or err2
    except subprocess.TimeoutExpired as exc:
        result.error = f"timed out: {' '.join(map(str, exc.cmd))[:200]}"
    finally:
        if not keep:
            remove(name, made, defer)
    result.seconds = time.monotonic() - start
    return result


def by_category(findings: list[dict[str, Any]]) -> str:
    if not findings:
        return "-"
    counts = Counter(f["category"] for f in findings)
    return " ".join(f"{cat}:{n}" for cat, n in sorted(counts.items()))


def table(results: list[Result]) -> str:
    rows = [("case", "static", "build", "s")]
    for r in results:
        if r.error:
            rows.append((r.name, "ERROR", r.error.splitlines()[0][:60], f"{r.seconds:.0f}"))
        else:
            missed = f" MISSED {'; '.join(r.missed())}" if r.missed() else ""
            rows.append((r.name, by_category(r.static), by_category(r.built) + missed, f"{r.seconds:.0f}"))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    clean = sum(1 for r in results if not r.error and not r.found())
    quiet = sum(1 for r in results if not r.error and not r.found(strict=True))
    what = "every plant found and no other drift" if any(r.planted for r in results) else "without drift"
    lines.append(f"{clean}/{len(results)} cases {what} ({quiet} without even an unknown)")
    return "\n".join(lines)


def slim(finding: dict[str, Any]) -> dict[str, Any]:
    keys = ("category", "manager", "name", "detail", "severity", "explained_by", "package_file")
    return {k: finding.get(k) for k in keys if finding.get(k) is not None or k != "package_file"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="cases to run (default: all)")
    parser.add_argument("--keep", action="store_true", help="keep the images built")
    parser.add_argument("--jobs", type=int, default=1, help="cases run at once (default 1)")
    parser.add_argument("--modes", default="static,build", help="static, build, static,build or both (default both)")
    parser.add_argument(
        "--verify-packages", action="store_true", help="audit with --verify-packages (hash every package file)"
    )
    parser.add_argument(
        "--no-history-evidence", action="store_true", help="static audit without the image's history (stricter)"
    )
    parser.add_argument("--plant", action="store_true", help="plant drift (docker commit) and require it found")
    parser.add_argument("--strict", action="store_true", help="count unknown findings as findings")
    parser.add_argument("--out", default=str(ROOT / "corpus-findings.json"), help="findings JSON file")
    parser.add_argument("--corpus", help="folder of cases (default tests/corpus/wild)")
    args = parser.parse_args(argv)
    if args.corpus:  # another folder's images get their own tags (drift-corpus-holdout/NAME:1)
        global CORPUS, TAG_PREFIX
        CORPUS = Path(args.corpus).resolve()
        TAG_PREFIX = f"drift-corpus-{CORPUS.name}" if CORPUS.name != "wild" else TAG_PREFIX
    every = sorted(p.name for p in CORPUS.iterdir() if (p / "Dockerfile").is_file())
    unknown = sorted(set(args.names) - set(every))
    if unknown:
        parser.error(f"no such case: {', '.join(unknown)} (cases: {', '.join(every)})")

    def one(name: str) -> Result:
        modes = tuple(m.strip() for m in args.modes.replace("both", "static,build").split(","))
        extra = ("--verify-packages",) if args.verify_packages else ()
        extra += ("--no-history-evidence",) if args.no_history_evidence else ()
        result = run_case(name, args.keep, modes, extra, args.plant, defer=args.jobs > 1)
        status = "ERROR" if result.error else f"static {len(result.static)} build {len(result.built)}"
        print(f"{name}: {status} ({result.seconds:.0f}s)", file=sys.stderr, flush=True)
        return result

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(pool.map(one, args.names or every))
    for _ in range(3):  # a stage's image goes once the images built on it are gone
        remove_made(DEFERRED)
    print(table(results))
    doc = {
        r.name: {
            "seconds": round(r.seconds, 1),
            "error": r.error,
            "static": [slim(f) for f in r.static],
            "build": [slim(f) for f in r.built],
        }
        for r in results
    }
    Path(args.out).write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    if any(r.error for r in results):
        return 2
    return 1 if any(r.found(args.strict) for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
