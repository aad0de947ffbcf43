"""drift and syft reading the same image from a registry, no engine involved, in one run.

    make bench-registry        (BENCH_RUNS=5 for more runs; also part of make bench)

A throwaway registry (scripts/registry.sh: 127.0.0.1, TLS with its own CA, htpasswd auth) holds
bench.py's large image, pushed once per run. Cases, each run alternating drift and syft:
  cold  drift inspect registry:IMAGE --no-cache -f json  (blobs to a temporary folder, no scan cache)
        vs syft -q registry:IMAGE -o json
  warm  the same with drift's layer cache and blob folder filled by an earlier run
drift gets its credentials from a Docker config (`docker login`), syft from SYFT_REGISTRY_AUTH_*;
both trust the registry's CA (drift: certs.d, as Docker; syft: SYFT_REGISTRY_CA_CERT). drift runs
with DOCKER_HOST pointing at no engine. Targets: cold >= 5x, warm >= 20x, peak memory <= a third.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench  # bench/bench.py: measure, runner, ensure_image, compare

COLD, WARM, MEMORY = 5.0, 20.0, 1 / 3
SCRIPT = bench.ROOT / "scripts" / "registry.sh"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    bench.runner()  # start it before this process grows
    bench.ensure_image(bench.LARGE, bench.LARGE_STORY)
    work = Path(tempfile.mkdtemp(prefix="drift-bench-registry-"))
    folder = work / "registry"
    host = bench.sh("bash", str(SCRIPT), "start", str(folder), str(_free_port())).strip()
    ref = f"{host}/drift-bench-large:1"
    try:
        password = (folder / "password").read_text().strip()
        config = work / "docker-config"
        config.mkdir()
        docker_env = {**os.environ, "DOCKER_CONFIG": str(config)}
        subprocess.run(
            ["docker", "login", "-u", "drift", "--password-stdin", host],
            input=password,
            text=True,
            check=True,
            capture_output=True,
            env=docker_env,
        )
        bench.sh("docker", "tag", bench.LARGE, ref)
        print(f"pushing {bench.LARGE} to {host} ...", file=sys.stderr)
        bench.sh("docker", "push", "-q", ref, env=docker_env)
        cache = str(work / "drift-cache")
        drift_env = {"DOCKER_CONFIG": str(config), "DOCKER_HOST": "unix:///nonexistent/no-engine.sock"}
        syft = [
            "env",
            f"SYFT_REGISTRY_AUTH_AUTHORITY={host}",
            "SYFT_REGISTRY_AUTH_USERNAME=drift",
            f"SYFT_REGISTRY_AUTH_PASSWORD={password}",
            f"SYFT_REGISTRY_CA_CERT={folder / 'ca.crt'}",
            f"DOCKER_CONFIG={work / 'empty'}",
            *bench.SYFT,
            "-q",
            f"registry:{ref}",
            "-o",
            "json",
        ]
        rows = [
            bench.compare(
                f"cold: registry:{ref} (drift --no-cache)",
                [*bench.DRIFT, "inspect", f"registry:{ref}", "--no-cache", "-f", "json"],
                syft,
                {**drift_env, "DRIFT_CACHE_DIR": cache},
            ),
            bench.compare(
                "warm: the same, drift's layer cache and blobs filled",
                [*bench.DRIFT, "inspect", f"registry:{ref}", "-f", "json"],
                syft,
                {**drift_env, "DRIFT_CACHE_DIR": cache},
                before_drift=[*bench.DRIFT, "inspect", f"registry:{ref}", "-f", "json"],
            ),
        ]
    finally:
        subprocess.run(["docker", "rmi", ref], capture_output=True)
        subprocess.run(["bash", str(SCRIPT), "stop", str(folder)], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    report(rows)


def report(rows: list[dict[str, object]]) -> None:
    from tabulate import tabulate

    ok = True
    table = []
    for row, target in zip(rows, (COLD, WARM), strict=True):
        passed = row["speedup"] >= target and row["memory_ratio"] <= MEMORY and row["same_packages"]  # type: ignore[operator]
        ok = ok and bool(passed)
        table.append(
            [
                row["case"],
                f"{row['drift_s']:.2f}",
                f"{row['syft_s']:.2f}",
                f"{row['speedup']:.1f}x (>= {target:.0f}x)",
                row["drift_mb"],
                row["syft_mb"],
                f"{row['memory_ratio']:.2f} (<= {MEMORY:.2f})",
                f"{'yes' if row['same_packages'] else 'NO'} ({row['packages']})",
                "PASS" if passed else "FAIL",
            ]
        )
    runs, cores = bench.RUNS, os.cpu_count()
    print(f"drift vs syft on a registry image (no engine), median of {runs} alternating runs, {cores} cores")
    headers = ["case", "drift s", "syft s", "syft/drift", "drift MB", "syft MB", "memory", "same packages", "target"]
    print(tabulate(table, headers=headers))
    print("all targets met" if ok else "SOME TARGETS MISSED")
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
