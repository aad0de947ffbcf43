"""Linear time and bounded memory on crafted metadata (the issue's linearity guards).

Timed on purpose: each size is one where the old quadratic code takes minutes (or never
ends); the limits are generous so a loaded machine does not fail them.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import time
from pathlib import Path

from drift.inventory.apt import MAX_FIELD, TRUNCATED, paragraphs
from tests.hostile.make_corpus import STATUS_ONE, base_layer, docker_archive, folder, member, oci_layout, tar


def test_a_long_continued_field_is_linear_and_cut() -> None:
    """50 MB of continuation lines: joined with += this never ends."""
    data = b"Package: big\nVersion: 1\nDescription: start\n" + b" line\n" * 8_500_000 + b"\nPackage: next\n"
    started = time.monotonic()
    (big, after) = paragraphs(data)
    elapsed = time.monotonic() - started
    assert elapsed < 60, f"{len(data) >> 20} MB took {elapsed:.1f} s"
    assert big[TRUNCATED] == "Description" and len(big["Description"]) == MAX_FIELD
    assert big["Version"] == "1" and after["Package"] == "next"


def test_short_fields_are_joined_as_before() -> None:
    (para,) = paragraphs(b"Package: a\nDescription: one\n two\n .\n three\nVersion: 2\n")
    assert para == {"Package": "a", "Description": "one\n two\n .\n three", "Version": "2"}


def list_bomb(tmp_path: Path) -> Path:
    """A small gzip layer that inflates to hundreds of MB of dpkg file lists."""
    lines = b"".join(b"/usr/share/doc/pkg/file-%07d\n" % i for i in range(40_000))  # 1.4 MB
    status = STATUS_ONE + b"".join(
        b"Package: p%d\nStatus: install ok installed\nVersion: 1\nArchitecture: amd64\n\n" % i for i in range(12)
    )
    members = [folder("var/lib/dpkg/info"), member("var/lib/dpkg/status", status), member("srv/hand-made", b"x\n")]
    members += [member(f"var/lib/dpkg/info/p{i}.list", lines * (30 if i < 8 else 8)) for i in range(12)]
    layer = tar(*members)
    assert len(layer) > 300 << 20
    base = base_layer()
    packed = [gzip.compress(base, mtime=0), gzip.compress(layer, compresslevel=1, mtime=0)]
    target = oci_layout(tmp_path / "bomb", [base, layer], packed=packed)
    docker_archive(tmp_path / "base.tar", [base])
    return target


def test_memory_is_bounded_on_a_file_list_bomb(tmp_path: Path) -> None:
    target = list_bomb(tmp_path)
    code = (
        "import resource, subprocess, sys\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024\n"
        "print(p.returncode, peak, repr(p.stderr[-500:]))\n"
    )
    cmd = [sys.executable, "-m", "drift", "inspect", str(target), "--base", str(tmp_path / "base.tar"), "-f", "json"]
    env = {**os.environ, "DRIFT_CACHE_DIR": str(tmp_path / "cache")}
    out = subprocess.run([sys.executable, "-c", code, *cmd], capture_output=True, text=True, timeout=600, env=env)
    code_, peak, stderr = out.stdout.split(" ", 2)
    assert code_ == "0", stderr
    assert int(peak) < 250, f"peak RSS {peak} MB"  # 464 MB before; a 330 MB layer must not be held
