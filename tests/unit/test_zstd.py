"""zstd layers and archives: read like gzip ones, under the same bounds (and zstd's own window limit)."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import zstandard

from tests.conftest import run_drift
from tests.hostile.make_corpus import STATUS_ONE, base_layer, docker_archive, folder, member, oci_layout, tar

ENV = {"DOCKER_HOST": "unix:///nonexistent/drift-test.sock"}  # nothing here needs an engine


def _top() -> bytes:
    return tar(folder("etc"), member("etc/hand-made.conf", b"listen=1\n"), member("var/lib/dpkg/status", STATUS_ONE))


def _inspect(target: Path, base: Path, tmp_path: Path) -> dict[str, object]:
    proc = run_drift("inspect", str(target), "--base", str(base), "-f", "json", "--no-cache", env=ENV, check=0)
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def test_a_zstd_layout_reads_as_the_gzip_one(tmp_path: Path) -> None:
    layers = [base_layer(), _top()]
    docker_archive(tmp_path / "base.tar", [base_layer()])
    gz = oci_layout(tmp_path / "gz", layers)
    zs = oci_layout(tmp_path / "zs", layers, packed=[zstandard.ZstdCompressor().compress(x) for x in layers])
    a, b = _inspect(gz, tmp_path / "base.tar", tmp_path), _inspect(zs, tmp_path / "base.tar", tmp_path)
    assert a["packages"] == b["packages"] and a["files"] == b["files"]
    assert any(f["path"] == "/etc/hand-made.conf" for f in b["files"])  # type: ignore[attr-defined, index]


def test_a_zstd_compressed_archive_is_read(tmp_path: Path) -> None:
    plain = docker_archive(tmp_path / "img.tar", [base_layer(), _top()])
    docker_archive(tmp_path / "base.tar", [base_layer()])
    packed = tmp_path / "img.tar.zst"
    packed.write_bytes(zstandard.ZstdCompressor().compress(plain.read_bytes()))
    a, b = _inspect(plain, tmp_path / "base.tar", tmp_path), _inspect(packed, tmp_path / "base.tar", tmp_path)
    assert a["packages"] == b["packages"] and a["files"] == b["files"]


def _refused(target: Path, tmp_path: Path, *words: str) -> str:
    docker_archive(tmp_path / "base.tar", [base_layer()])
    proc = run_drift("inspect", str(target), "--base", str(tmp_path / "base.tar"), "--no-cache", env=ENV, check=2)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def test_a_truncated_zstd_layer_is_refused_like_a_truncated_gzip_one(tmp_path: Path) -> None:
    layers = [base_layer(), _top()]
    zs = zstandard.ZstdCompressor().compress(layers[1])
    gz = gzip.compress(layers[1], mtime=0)
    zs_layout = oci_layout(tmp_path / "zs", layers, packed=[gzip.compress(layers[0], mtime=0), zs[:-5]])
    gz_layout = oci_layout(tmp_path / "gz", layers, packed=[gzip.compress(layers[0], mtime=0), gz[:-5]])
    _refused(zs_layout, tmp_path, "corrupt or truncated", "layer 2")
    _refused(gz_layout, tmp_path, "corrupt or truncated", "layer 2")


def test_a_frame_asking_for_a_huge_window_is_refused(tmp_path: Path) -> None:
    """zstd's bomb lever: a frame header may ask for gigabytes of decoder memory (here 1 GB)."""
    params = zstandard.ZstdCompressionParameters(window_log=30, compression_level=1)
    out = io.BytesIO()
    with zstandard.ZstdCompressor(compression_params=params).stream_writer(out, closefd=False) as writer:
        writer.write(_top())
    assert zstandard.get_frame_parameters(out.getvalue()).window_size == 1 << 30
    layers = [base_layer(), _top()]
    layout = oci_layout(tmp_path / "win", layers, packed=[gzip.compress(layers[0], mtime=0), out.getvalue()])
    _refused(layout, tmp_path, "window", "128 MB", "refused")


def test_memory_is_bounded_on_a_zstd_bomb(tmp_path: Path) -> None:
    """As tests/unit/test_bounds.py's gzip file-list bomb: 330 MB of file lists in a few hundred KB."""
    lines = b"".join(b"/usr/share/doc/pkg/file-%07d\n" % i for i in range(40_000))
    status = STATUS_ONE + b"".join(
        b"Package: p%d\nStatus: install ok installed\nVersion: 1\nArchitecture: amd64\n\n" % i for i in range(12)
    )
    members = [folder("var/lib/dpkg/info"), member("var/lib/dpkg/status", status), member("srv/hand-made", b"x\n")]
    members += [member(f"var/lib/dpkg/info/p{i}.list", lines * (30 if i < 8 else 8)) for i in range(12)]
    layer = tar(*members)
    zs = zstandard.ZstdCompressor(level=3).compress(layer)
    assert len(layer) > 300 << 20 and len(zs) < len(layer) // 100
    base = base_layer()
    target = oci_layout(tmp_path / "bomb", [base, layer], packed=[zstandard.ZstdCompressor().compress(base), zs])
    del layer, members
    docker_archive(tmp_path / "base.tar", [base])
    code = (
        "import resource, subprocess, sys\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024\n"
        "print(p.returncode, peak, repr(p.stderr[-500:]))\n"
    )
    cmd = [sys.executable, "-m", "drift", "inspect", str(target), "--base", str(tmp_path / "base.tar"), "-f", "json"]
    env = {**os.environ, **ENV, "DRIFT_CACHE_DIR": str(tmp_path / "cache")}
    out = subprocess.run([sys.executable, "-c", code, *cmd], capture_output=True, text=True, timeout=600, env=env)
    code_, peak, stderr = out.stdout.split(" ", 2)
    assert code_ == "0", stderr
    assert int(peak) < 250, f"peak RSS {peak} MB"  # the gzip bomb's bound


def test_a_local_inspect_does_not_import_zstd_or_registry_code() -> None:
    code = (
        "import sys\n"
        "from drift.sources import resolve\n"
        "import drift.cli, drift.inventory, drift.sources.archive, drift.sources.tarlayer\n"
        "print(sorted(m for m in sys.modules if 'zstandard' in m or m.startswith('drift.sources.registry')"
        " or m == 'drift.sources.zstd'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
