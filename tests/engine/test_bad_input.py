"""Bad input: one line on stderr, exit 2, no traceback, nothing half-written."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from tests.conftest import run_drift


def assert_one_line_error(proc, *needles: str) -> None:  # type: ignore[no-untyped-def]
    assert proc.returncode == 2, proc.stderr + proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("drift: error: ")
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def _tar_bytes(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def _file(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def make_archive(path: Path, layer: bytes) -> Path:
    config = json.dumps(
        {
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]},
            "history": [],
        }
    ).encode()
    outer = _tar_bytes(
        [
            _file(
                "manifest.json",
                json.dumps([{"Config": "cfg.json", "RepoTags": ["evil:1"], "Layers": ["l1/layer.tar"]}]).encode(),
            ),
            _file("cfg.json", config),
            _file("l1/layer.tar", layer),
        ]
    )
    path.write_bytes(outer)
    return path


@pytest.mark.engine
def test_unknown_target(docker_client) -> None:  # type: ignore[no-untyped-def]
    proc = run_drift("inspect", "no-such-thing-anywhere-42")
    assert_one_line_error(proc, "no-such-thing-anywhere-42", "docker ps -a")


@pytest.mark.engine
def test_unknown_prefixed_container_and_image(docker_client) -> None:  # type: ignore[no-untyped-def]
    assert_one_line_error(run_drift("inspect", "container:nope-nope"), "no container 'nope-nope'")
    assert_one_line_error(run_drift("inspect", "image:nope-nope:1"), "no image 'nope-nope:1'")


def test_engine_down(tmp_path: Path) -> None:
    sock = f"unix://{tmp_path}/nothing.sock"
    proc = run_drift("inspect", "some-container", env={"DOCKER_HOST": sock})
    assert_one_line_error(proc, sock, "DOCKER_HOST")


def test_not_an_archive(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar"
    junk.write_bytes(os.urandom(4096))
    assert_one_line_error(run_drift("inspect", str(junk)), str(junk), "docker save")


def test_truncated_archive(tmp_path: Path) -> None:
    layer = _tar_bytes([_file("etc/hello", b"x" * 100_000)])
    whole = make_archive(tmp_path / "whole.tar", layer).read_bytes()
    cut = tmp_path / "cut.tar"
    cut.write_bytes(whole[: len(whole) // 2])
    assert_one_line_error(run_drift("inspect", str(cut)), "cut.tar")


def test_truncated_gzip(tmp_path: Path) -> None:
    import gzip

    layer = _tar_bytes([_file("etc/hello", os.urandom(200_000))])
    whole = gzip.compress(make_archive(tmp_path / "whole.tar", layer).read_bytes())
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    assert_one_line_error(run_drift("inspect", str(cut)), "cut.tar.gz")


def test_member_outside_root_is_refused(tmp_path: Path) -> None:
    layer = _tar_bytes([_file("../../etc/evil", b"boom")])
    archive = make_archive(tmp_path / "evil.tar", layer)
    assert_one_line_error(run_drift("inspect", str(archive)), "outside the root")


def test_absolute_symlinks_are_read_not_followed(tmp_path: Path) -> None:
    """A link to /etc/passwd inside the archive names the archive's file, never the host's."""
    link = tarfile.TarInfo("var/lib/dpkg/status")
    link.type = tarfile.SYMTYPE
    link.linkname = "/etc/shadow"
    esc = tarfile.TarInfo("var/lib/apt/extended_states")
    esc.type = tarfile.SYMTYPE
    esc.linkname = "../../../../../../etc/passwd"
    layer = _tar_bytes([(link, None), (esc, None)])
    archive = make_archive(tmp_path / "links.tar", layer)
    proc = run_drift("inspect", str(archive), "-f", "json", "--base", str(archive))
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["packages"] == []


def test_output_not_half_written_on_error(tmp_path: Path) -> None:
    dest = tmp_path / "out.json"
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"not a tar" * 100)
    proc = run_drift("inspect", str(junk), "-o", str(dest))
    assert proc.returncode == 2
    assert not dest.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junk.tar"]
