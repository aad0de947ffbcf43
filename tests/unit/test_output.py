"""Atomic writes give the file the mode a plain write would: a report must stay readable by
node_exporter's textfile collector or a web server (mkstemp alone makes it 0600)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from drift.output import atomic_dir, write_text


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_file_follows_the_umask(tmp_path: Path, umask_022: None) -> None:
    out = tmp_path / "drift.prom"
    write_text(str(out), "drift_engine_up 1\n")
    assert out.read_text() == "drift_engine_up 1\n"
    assert mode(out) == 0o644
    os.umask(0o077)
    private = tmp_path / "private.json"
    write_text(str(private), "{}")
    assert mode(private) == 0o600


def test_replaced_file_keeps_its_mode(tmp_path: Path, umask_022: None) -> None:
    out = tmp_path / "index.html"
    out.write_text("old")
    out.chmod(0o640)
    write_text(str(out), "new")
    assert out.read_text() == "new" and mode(out) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["index.html"]  # no temporary file left


def test_atomic_dir_follows_the_umask(tmp_path: Path, umask_022: None) -> None:
    target = tmp_path / "snap"
    with atomic_dir(str(target), force=False) as tmp:
        Path(tmp, "Dockerfile").write_text("FROM scratch\n")
    assert mode(target) == 0o755 and (target / "Dockerfile").exists()


def test_a_device_is_written_into_never_replaced(tmp_path: Path) -> None:
    """-o /dev/null (or a FIFO) is written into: a rename over it would replace the device with a
    regular file (as root, /dev/null itself)."""
    import os
    import stat
    import threading

    from drift.output import write_text

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()))
    reader.start()
    write_text(str(fifo), "hello\n")
    reader.join(10)
    assert got == ["hello\n"]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    write_text("/dev/null", "x\n")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
