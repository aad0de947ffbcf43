"""The layer cache holds data, never code; it is private, verified and optional."""

from __future__ import annotations

import json
import os
import pickle
import resource
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from drift import cache
from drift.sources.fs import Entry, LayerScan
from tests.hostile.make_corpus import base_layer, docker_archive, image_config, member, tar


def sample() -> LayerScan:
    scan = LayerScan(digest="sha256:" + "a" * 64)
    scan.entries = {
        "/etc": Entry("dir", 0o755, 0, 0, 0, 1, ""),
        "/srv/caf\udce9": Entry("file", 0o644, 1, 2, 3, -5, ""),
    }
    scan.whiteouts, scan.opaque = ["/gone"], ["/opaque"]
    scan.blobs = {"/var/lib/dpkg/status": b"\x00\xffbinary", "/empty": b""}
    scan.md5 = {"/etc/x": "d41d8cd98f00b204e9800998ecf8427e"}
    return scan


def test_rows_round_trip_as_data() -> None:
    scan = sample()
    back = cache.decode(cache.encode(scan))
    assert back.entries == scan.entries and back.blobs == scan.blobs and back.md5 == scan.md5
    assert (back.whiteouts, back.opaque, back.digest) == (scan.whiteouts, scan.opaque, scan.digest)


class Boom:
    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, (f"touch {os.environ['BOOM_FILE']}",))


def test_a_pickled_row_is_never_unpickled(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    boom = tmp_path / "executed"
    monkeypatch.setenv("BOOM_FILE", str(boom))
    store = cache.LayerCache(str(tmp_path / "c" / "layers.sqlite"))
    store.put("k", sample())  # creates the table
    evil = __import__("zlib").compress(pickle.dumps(Boom()))
    checksum = __import__("hashlib").sha256(evil).hexdigest()
    with sqlite3.connect(store.path) as conn:
        for key, fmt in (("old", 3), ("new", cache.FORMAT)):  # an old-format row, and one that lies
            conn.execute("INSERT INTO layers VALUES (?, ?, ?, ?, ?)", (key, fmt, checksum, evil, len(evil)))
    assert store.get("old") is None and store.get("new") is None
    assert not boom.exists()
    assert store.get("k") is not None


def test_folder_is_private(tmp_path: Path) -> None:
    store = cache.LayerCache(str(tmp_path / "deep" / "drift" / "layers.sqlite"))
    store.put("k", sample())
    assert os.stat(tmp_path / "deep" / "drift").st_mode & 0o777 == 0o700
    assert os.stat(store.path).st_mode & 0o777 == 0o600


def archive(tmp_path: Path, name: str, layers: list[bytes], config: dict | None = None) -> Path:  # type: ignore[type-arg]
    return docker_archive(tmp_path / name, layers, config=config)


def drift(
    target: Path, cache_dir: str | None, *extra: str, fsize: int | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DRIFT_CACHE_DIR"}
    if cache_dir is not None:
        env["DRIFT_CACHE_DIR"] = cache_dir

    def limit() -> None:  # a full disk: writes past `fsize` bytes fail with EFBIG
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))  # type: ignore[arg-type]

    return subprocess.run(
        [sys.executable, "-m", "drift", "inspect", str(target), "--base", str(target), "-f", "json", *extra],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        preexec_fn=limit if fsize else None,
    )


def test_unusable_cache_locations_warn_and_run(tmp_path: Path) -> None:
    target = archive(tmp_path, "img.tar", [base_layer()])
    expected = drift(target, None, "--no-cache").stdout
    a_file = tmp_path / "not-a-folder"
    a_file.write_text("x")
    for where in (str(a_file), str(a_file / "below"), "/proc/drift-cache", "/sys/drift-cache"):
        proc = drift(target, where)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == expected
        lines = proc.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("drift: warning: the layer cache at "), proc.stderr
        for command in (["info"], ["clear"]):
            env = {**os.environ, "DRIFT_CACHE_DIR": where}
            done = subprocess.run([sys.executable, "-m", "drift", "cache", *command], capture_output=True, env=env)
            assert done.returncode == 0 and b"please report" not in done.stderr, done.stderr
    full = drift(target, str(tmp_path / "full"), fsize=20_000)  # room for the database, not its rows
    assert full.returncode == 0 and full.stdout == expected, full.stderr
    assert len(full.stderr.splitlines()) == 1 and "cannot be used" in full.stderr, full.stderr


def test_forged_diff_ids_never_reach_the_cache(tmp_path: Path) -> None:
    real = base_layer()
    genuine = archive(tmp_path, "genuine.tar", [real])
    forged = archive(tmp_path, "forged.tar", [tar(member("etc/os-release", b"ID=forged\n"))], image_config([real]))
    store = str(tmp_path / "cache")
    refused = drift(forged, store)
    assert refused.returncode == 2 and "not to the diff_id" in refused.stderr
    assert len(refused.stderr.splitlines()) == 1
    first = drift(genuine, store)
    again = drift(genuine, store)
    assert first.returncode == again.returncode == 0
    assert first.stdout == again.stdout == drift(genuine, None, "--no-cache").stdout
    with sqlite3.connect(Path(store) / "layers.sqlite") as conn:
        rows = conn.execute("SELECT key, data FROM layers").fetchall()
    assert rows and all(key.startswith(f"{cache.decode(data).digest}|") for key, data in rows)


def test_a_forged_layer_cannot_borrow_a_cached_scan(tmp_path: Path) -> None:
    """Same claimed diff_id and same size as a cached genuine layer: still refused (hashed on a hit)."""
    real = tar(member("etc/os-release", b"ID=genuine\n"))
    fake = tar(member("etc/os-release", b"ID=forged!\n"))
    assert len(real) == len(fake)
    genuine = archive(tmp_path, "genuine.tar", [real])
    forged = archive(tmp_path, "forged.tar", [fake], image_config([real]))
    store = str(tmp_path / "cache")
    assert drift(genuine, store).returncode == 0
    refused = drift(forged, store)
    assert refused.returncode == 2 and "not to the diff_id" in refused.stderr, refused.stderr


def test_a_forged_base_layer_is_refused_without_cache(tmp_path: Path) -> None:
    """A layer that claims the base's diff_id would hide its content as 'the base': hashed, refused."""
    real = base_layer()
    base = archive(tmp_path, "base.tar", [real])
    fake = tar(member("etc/os-release", b"ID=backdoor\n"), member("usr/bin/sshd-backdoor", b"x"))
    top = tar(member("srv/app", b"app\n"))
    config = image_config([real, top])
    forged = archive(tmp_path, "forged.tar", [fake, top], config)
    proc = subprocess.run(
        [sys.executable, "-m", "drift", "inspect", str(forged), "--base", str(base), "--no-cache", "-f", "json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "layer 1" in proc.stderr and "not to the diff_id" in proc.stderr, proc.stderr
    honest = archive(tmp_path, "honest.tar", [real, top], config)
    proc = subprocess.run(
        [sys.executable, "-m", "drift", "inspect", str(honest), "--base", str(base), "--no-cache", "-f", "json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert [f["path"] for f in json.loads(proc.stdout)["files"]] == ["/srv/app"]
