"""The tar reader and TarLayer on crafted streams: malformed headers fail fast, digests are
checked while reading, content access is linear, hard links cannot loop."""

from __future__ import annotations

import gzip
import hashlib
import io
import time
from pathlib import Path

import pytest

from drift.errors import CorruptArchive
from drift.inventory.files import content_sha256
from drift.sources.fs import View
from drift.sources.tarlayer import TarLayer
from drift.sources.tarread import Reader, TarError
from tests.hostile.make_corpus import folder, hardlink, header, member, pax, pax_record, tar


def members(data: bytes) -> list[str]:
    return [m.name for m in Reader(io.BytesIO(data)).members()]


@pytest.mark.parametrize(
    "stream",
    [
        tar(header("x", size_field=b"\xff" * 12)),  # base-256 negative size
        tar(pax(b"0 path=x\n"), member("x")),  # a PAX record of length 0
        tar(pax(b"3 \n"), member("x")),  # a PAX record shorter than its own length field
        tar(pax(pax_record("size", "-1")), member("x")),
        tar(pax(pax_record("size", "1e400")), member("x")),
        tar(pax(pax_record("uid", "nan")), member("x")),
        tar(header("x", size_field=b"12345678901\x00".replace(b"1", b"9"))),  # not octal
        tar(header("x", kind=b"x", size=1 << 30)),  # a 1 GB extended header
    ],
)
def test_malformed_headers_are_errors_not_loops(stream: bytes) -> None:
    started = time.monotonic()
    with pytest.raises(TarError):
        members(stream)
    assert time.monotonic() - started < 5


def test_negative_mtime_is_allowed() -> None:
    block = bytearray(header("old", size=0))
    block[136:148] = b"\xff" * 12  # -1: one second before 1970
    block[148:156] = b" " * 8
    block[148:156] = f"{sum(block):06o}".encode() + b"\0 "
    (only,) = list(Reader(io.BytesIO(tar(bytes(block)))).members())
    assert only.mtime == -1


def layer_of(data: bytes, digest: str | None, *, packed: bool = False) -> TarLayer:
    blob = gzip.compress(data, compresslevel=1) if packed else data
    return TarLayer(lambda: io.BytesIO(blob), digest=digest, description="test layer", verify=True)


def test_layer_digest_is_verified_while_reading() -> None:
    data = tar(member("etc/a", b"a\n"))
    good = "sha256:" + hashlib.sha256(data).hexdigest()
    assert "/etc/a" in layer_of(data, good).scan().entries
    assert "/etc/a" in layer_of(data, good, packed=True).scan().entries
    forged = "sha256:" + hashlib.sha256(b"another layer").hexdigest()
    with pytest.raises(CorruptArchive, match="not to the diff_id"):
        layer_of(data, forged).scan()
    with pytest.raises(CorruptArchive, match="not a sha256 layer digest"):
        layer_of(data, "sha256:../../etc")


def test_trailing_bytes_count_in_the_digest() -> None:
    data = tar(member("etc/a", b"a\n")) + bytes(10240)  # docker pads layers to 10 KiB records
    good = "sha256:" + hashlib.sha256(data).hexdigest()
    layer_of(data, good).scan()
    short = "sha256:" + hashlib.sha256(data[:-512]).hexdigest()
    with pytest.raises(CorruptArchive):
        layer_of(data, short).scan()


def test_hard_link_loops_and_chains_end() -> None:
    data = tar(
        member("a", b"content"),
        hardlink("b", "a"),
        hardlink("c", "b"),
        hardlink("x", "y"),
        hardlink("y", "x"),
        hardlink("s", "s"),
    )
    layer = layer_of(data, None)
    view = View([layer.scan()], [layer])
    assert view.read("/c") == b"content" and view.entries["/c"].linkname == "/a"
    assert not {"/x", "/y", "/s"} & set(view.entries)


@pytest.mark.parametrize("packed", [False, True])
def test_reading_every_file_of_a_layer_is_linear(packed: bool, tmp_path: Path) -> None:
    """20k files: reading each one by re-scanning the layer (the old way) takes many minutes."""
    count = 20_000
    data = tar(folder("srv"), *(member(f"srv/f{i}", f"file {i}\n".encode()) for i in range(count)))
    path = tmp_path / "layer.tar"
    path.write_bytes(gzip.compress(data, compresslevel=1) if packed else data)
    layer = TarLayer(lambda: open(path, "rb"), digest=None, description="big layer")  # noqa: SIM115
    started = time.monotonic()
    view = View([layer.scan()], [layer])
    digests = {content_sha256(view, f"/srv/f{i}") for i in range(count)}
    elapsed = time.monotonic() - started
    assert len(digests) == count and None not in digests
    assert content_sha256(view, "/srv/f7") == hashlib.sha256(b"file 7\n").hexdigest()
    assert elapsed < 60, f"{count} reads took {elapsed:.1f} s"
