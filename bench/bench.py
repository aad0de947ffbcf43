"""drift side by side with syft, in one run, on images this script builds itself.

    make bench            (BENCH_RUNS=5 make bench for more runs)

Cases (each run alternates drift and syft on the same input; medians are reported):
  cold        drift inspect IMAGE --no-cache -f json   vs  syft -q docker:IMAGE -o json
  incremental a new image = IMAGE + one small layer, IMAGE already inspected (cache warm)
  archive     drift inspect FILE.tar --no-cache        vs  syft -q docker-archive:FILE.tar -o json
  growth      the cold case on a small and a large image: how time and memory grow

Peak memory is each child process's own maximum resident set (os.wait4). Targets (issue 8,
raised to what issue 5's work reached): cold (large image) >= 10x, incremental >= 25x, archive
>= 5x faster than syft (the small cold image keeps 5x); peak memory <= a third of syft's.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from drift.progress import bar

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DRIFT = [str(BIN / "drift")]
SYFT = [str(BIN / "syft")] if (BIN / "syft").exists() else ["syft"]
BASE = os.environ.get("DRIFT_BASE_IMAGE", "drift-base:bookworm")
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
SMALL = "drift-bench/small:1"
COLD, WARM, ARCHIVE, MEMORY = 10.0, 25.0, 5.0, 1 / 3  # speed-ups over syft, peak memory ratio
COLD_SMALL = 5.0  # the small image: syft's fixed start-up weighs less there (8.6x measured before issue 8)
LARGE = "drift-bench/large:1"

SMALL_STORY = (
    "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "
    "python3 python3-pip && pip install -q --break-system-packages requests==2.31.0 && rm -rf /var/lib/apt/lists/*"
)
LARGE_STORY = (
    "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3 python3-pip "
    "&& pip install -q --break-system-packages requests==2.31.0 && rm -rf /var/lib/apt/lists/*"
)


def sh(*cmd: str, **kw: object) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout  # type: ignore[call-overload]


def ensure_image(tag: str, story: str) -> None:
    if subprocess.run(["docker", "image", "inspect", tag], capture_output=True).returncode == 0:
        return
    print(f"building {tag} (once) ...", file=sys.stderr)
    name = f"drift-bench-{uuid.uuid4().hex[:8]}"
    sh("docker", "run", "--name", name, "--network", "host", BASE, "bash", "-c", story)
    sh("docker", "commit", name, tag)
    sh("docker", "rm", name)


_RUNNER: subprocess.Popen[str] | None = None


def runner() -> subprocess.Popen[str]:
    """A small helper process started first, while this one is still small (see runner.py)."""
    global _RUNNER
    if _RUNNER is None:
        _RUNNER = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("runner.py"))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
    return _RUNNER


def measure(cmd: list[str], env: dict[str, str] | None = None, ok: tuple[int, ...] = (0,)) -> tuple[float, int, str]:
    """Wall time (s), peak RSS (MB) of this command alone (see runner.py), and its stdout;
    an exit code not in `ok` stops the bench with the command's stderr."""
    helper = runner()
    assert helper.stdin is not None and helper.stdout is not None
    with tempfile.NamedTemporaryFile() as out:
        helper.stdin.write(json.dumps({"cmd": cmd, "env": env or {}, "stdout": out.name}) + "\n")
        helper.stdin.flush()
        answer = json.loads(helper.stdout.readline())
        if answer["code"] not in ok:
            raise SystemExit(f"{' '.join(cmd)} failed ({answer['code']}): {answer['stderr'][-800:]}")
        return answer["seconds"], answer["peak_kb"] // 1024, Path(out.name).read_text()


def packages_drift(text: str) -> set[tuple[str, str, str]]:
    doc = json.loads(text)
    return {(p["manager"], p["name"].lower(), p["version"]) for p in doc["packages"]}


def packages_syft(text: str) -> set[tuple[str, str, str]]:
    doc = json.loads(text)
    kinds = {"deb": "apt", "python": "pip"}
    return {(kinds[a["type"]], a["name"].lower(), a["version"]) for a in doc["artifacts"] if a["type"] in kinds}


def compare(
    label: str, drift_cmd: list[str], syft_cmd: list[str], env: dict[str, str], before_drift: list[str] | None = None
) -> dict[str, object]:
    d_times, d_mem, s_times, s_mem = [], [], [], []
    same = True
    shown = bar(f"bench: {label}")  # on a terminal only (drift/progress.py)
    shown.start(2 * RUNS)
    for i in range(RUNS):
        if before_drift:
            subprocess.run(before_drift, check=True, capture_output=True, env={**os.environ, **env})
        shown.step(f"drift, run {i + 1}/{RUNS}")
        t, m, d_out = measure(drift_cmd, env)
        d_times.append(t)
        d_mem.append(m)
        shown.step(f"syft, run {i + 1}/{RUNS}")
        t, m, s_out = measure(syft_cmd)
        s_times.append(t)
        s_mem.append(m)
        same = same and packages_drift(d_out) == packages_syft(s_out)
    shown.stop()
    row = {
        "case": label,
        "drift_s": statistics.median(d_times),
        "syft_s": statistics.median(s_times),
        "drift_mb": max(d_mem),
        "syft_mb": max(s_mem),
        "same_packages": same,
        "packages": len(packages_drift(d_out)),
    }
    row["speedup"] = row["syft_s"] / row["drift_s"]  # type: ignore[operator]
    row["memory_ratio"] = row["drift_mb"] / row["syft_mb"]  # type: ignore[operator]
    return row


def image_size(tag: str) -> str:
    return f"{int(sh('docker', 'image', 'inspect', '-f', '{{.Size}}', tag)) / 1e6:.0f} MB"


def main() -> None:
    runner()  # start it before this process grows
    ensure_image(SMALL, SMALL_STORY)
    ensure_image(LARGE, LARGE_STORY)
    cache = tempfile.mkdtemp(prefix="drift-bench-cache-")
    env = {"DRIFT_CACHE_DIR": cache}
    rows = [
        compare(
            f"cold, {size} image {tag} ({image_size(tag)})",
            [*DRIFT, "inspect", tag, "--no-cache", "-f", "json"],
            [*SYFT, "-q", f"docker:{tag}", "-o", "json"],
            env,
        )
        for size, tag in (("small", SMALL), ("large", LARGE))
    ]
    # incremental: a fresh image (one small new layer) on top of the large one, which drift has seen
    plus = f"drift-bench/plus:{uuid.uuid4().hex[:8]}"
    ctx = tempfile.mkdtemp(prefix="drift-bench-ctx-")
    Path(ctx, "Dockerfile").write_text(f"FROM {LARGE}\nRUN echo {uuid.uuid4().hex} > /etc/build-id\n")
    sh("docker", "build", "-q", "-t", plus, ctx, env={**os.environ, "DOCKER_BUILDKIT": "0"})
    try:
        rows.append(
            compare(
                f"incremental: {plus} = large + 1 small layer (cache warm)",
                [*DRIFT, "inspect", plus, "-f", "json"],
                [*SYFT, "-q", f"docker:{plus}", "-o", "json"],
                env,
                before_drift=[*DRIFT, "inspect", LARGE, "-f", "json"],
            )
        )
    finally:
        subprocess.run(["docker", "rmi", "-f", plus], capture_output=True)
    archive = os.path.join(tempfile.mkdtemp(prefix="drift-bench-"), "large.tar")
    sh("docker", "save", "-o", archive, LARGE)
    try:
        rows.append(
            compare(
                f"archive: docker save of the large image ({os.path.getsize(archive) / 1e6:.0f} MB)",
                [*DRIFT, "inspect", archive, "--no-cache", "-f", "json"],
                [*SYFT, "-q", f"docker-archive:{archive}", "-o", "json"],
                env,
            )
        )
    finally:
        os.unlink(archive)
    report(rows)


def report(rows: list[dict[str, object]]) -> None:
    from tabulate import tabulate

    targets = {"cold, large": COLD, "incremental": WARM, "archive": ARCHIVE, "cold, small": COLD_SMALL}
    table = []
    ok = True
    for r in rows:
        target = next(v for k, v in targets.items() if str(r["case"]).startswith(k))
        passed = r["speedup"] >= target and r["memory_ratio"] <= MEMORY and r["same_packages"]  # type: ignore[operator]
        ok = ok and bool(passed)
        table.append(
            [
                r["case"],
                f"{r['drift_s']:.2f}",
                f"{r['syft_s']:.2f}",
                f"{r['speedup']:.1f}x (>= {target:.0f}x)",
                r["drift_mb"],
                r["syft_mb"],
                f"{r['memory_ratio']:.2f} (<= {MEMORY:.2f})",
                f"{'yes' if r['same_packages'] else 'NO'} ({r['packages']})",
                "PASS" if passed else "FAIL",
            ]
        )
    print(f"drift vs syft, median of {RUNS} alternating runs each, on {os.cpu_count()} cores")
    print(
        tabulate(
            table,
            headers=[
                "case",
                "drift s",
                "syft s",
                "syft/drift",
                "drift MB",
                "syft MB",
                "memory drift/syft",
                "same packages",
                "target",
            ],
        )
    )
    small, large = rows[0], rows[1]

    def growth(tool: str) -> str:
        t = float(large[f"{tool}_s"]) / float(small[f"{tool}_s"])  # type: ignore[arg-type]
        m = float(large[f"{tool}_mb"]) / float(small[f"{tool}_mb"])  # type: ignore[arg-type]
        return f"{tool}: time x{t:.2f}, peak memory x{m:.2f}"

    print()
    print(f"growth from the small to the large image: {growth('drift')};  {growth('syft')}")
    print("all targets met" if ok else "SOME TARGETS MISSED")
    if not ok:
        raise SystemExit(1)


def report_against_loop(
    rows: list[dict[str, float]],
    *,
    name: str,
    what: str,
    labels: tuple[str, str, str, str],
    cold_x: float,
    second_x: float,
) -> None:
    """The table of a loop-vs-`drift report` bench (fleet.py, node.py): medians of the rounds' rows
    (loop_s, cold_s, second_s, one_s; peaks of cold_mb, second_mb, one_mb), the speed targets
    COLD_X and SECOND_X against the loop, and peak memory of all targets at most 1.5x that of
    one. Exits 1 when a target is missed."""
    from tabulate import tabulate

    med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
    peak = {k: max(r[k] for r in rows) for k in ("cold_mb", "second_mb", "one_mb")}
    cold, second = med["loop_s"] / med["cold_s"], med["loop_s"] / med["second_s"]
    memory = peak["cold_mb"] / peak["one_mb"]
    loop, cold_label, second_label, one_label = labels
    checks = [
        (loop, med["loop_s"], "-", "-", "-"),
        (cold_label, med["cold_s"], peak["cold_mb"], f"{cold:.1f}x", cold >= cold_x),
        (second_label, med["second_s"], peak["second_mb"], f"{second:.1f}x", second >= second_x),
        (one_label, med["one_s"], peak["one_mb"], "-", "-"),
    ]
    print(
        f"{what}; median of {len(rows)} rounds, {os.cpu_count()} cores; {int(med['findings'])} findings, "
        f"the loop printed {int(med['loop_lines'])} lines"
    )
    table = [[c, f"{s:.2f}", m, x, "" if ok == "-" else ("PASS" if ok else "FAIL")] for c, s, m, x, ok in checks]
    print(tabulate(table, headers=["case", "seconds", "peak MB", "loop/drift", "target"]))
    ok = cold >= cold_x and second >= second_x and memory <= 1.5
    print(f"peak memory, 30 containers / 1 container: {memory:.2f} (<= 1.50) {'PASS' if memory <= 1.5 else 'FAIL'}")
    print(f"all {name} targets met" if ok else f"SOME {name.upper()} TARGETS MISSED")
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
