"""A small, fast tar reader for layer scans.

Python's tarfile builds a rich TarInfo per member and parses every field through several
helpers; scanning a 1 GB image layer with it takes about a second. Layers only need the
header fields, so this reads ustar/GNU/PAX headers directly: 512 bytes, a checksum, a
few slices, and a seek over the data (or a read-and-discard on a compressed stream).
GNU long names/links ('L', 'K') and PAX extended headers ('x'; path, linkpath, size,
uid, gid, mtime) are honoured; global PAX headers ('g') are skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO, NamedTuple

BLOCK = 512
_ZERO = bytes(BLOCK)
KINDS = {
    b"0": "file",
    b"\0": "file",
    b"7": "file",
    b"1": "hardlink",
    b"2": "symlink",
    b"3": "char",
    b"4": "block",
    b"5": "dir",
    b"6": "fifo",
}


class TarError(Exception):
    """The stream is not a well-formed tar (bad checksum, cut short)."""


class Member(NamedTuple):
    name: str
    kind: str
    mode: int
    uid: int
    gid: int
    size: int
    mtime: int
    linkname: str
    offset: int  # where the data starts in the stream


def _num(field: bytes) -> int:
    if field and field[0] & 0x80:  # base-256 (GNU) for large values
        value = int.from_bytes(field[1:], "big")
        return -value if field[0] & 0x40 else value
    text = field.split(b"\0", 1)[0].strip()
    return int(text, 8) if text else 0


def _text(field: bytes) -> str:
    return field.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _pax(data: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        space = data.find(b" ", pos)
        if space < 0:
            break
        length = int(data[pos:space])
        record = data[space + 1 : pos + length - 1]
        key, _, value = record.partition(b"=")
        out[key.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
        pos += length
    return out


class Reader:
    def __init__(self, fh: BinaryIO, *, seekable: bool | None = None) -> None:
        self.fh = fh
        self.pos = 0
        self.seekable = fh.seekable() if seekable is None else seekable

    def _read(self, n: int) -> bytes:
        data = self.fh.read(n)
        self.pos += len(data)
        return data

    def skip_to(self, target: int) -> None:
        if target <= self.pos:
            return
        if self.seekable:
            self.fh.seek(target)
            self.pos = target
            return
        while self.pos < target:
            chunk = self._read(min(1 << 20, target - self.pos))
            if not chunk:
                raise TarError("the stream ends inside a member's data")

    def read_data(self, member: Member) -> bytes:
        """The content of the member just yielded (call before iterating further)."""
        if self.seekable:
            self.fh.seek(member.offset)
            self.pos = member.offset
        elif self.pos != member.offset:
            raise TarError("cannot go back in a stream")
        data = self._read(member.size)
        if len(data) != member.size:
            raise TarError(f"{member.name} is cut short")
        return data

    def members(self) -> Iterator[Member]:
        offset = 0
        long_name: str | None = None
        long_link: str | None = None
        pax: dict[str, str] = {}
        while True:
            self.skip_to(offset)
            if self.seekable:
                self.fh.seek(offset)
                self.pos = offset
            header = self._read(BLOCK)
            if not header:
                raise TarError("the archive ends without its end-of-archive marker")
            if len(header) < BLOCK:
                raise TarError("the archive is cut short inside a header")
            if header == _ZERO:
                return
            try:
                stored = _num(header[148:156])
            except ValueError as exc:
                raise TarError(f"bad header at offset {offset}") from exc
            if stored != sum(header[:148]) + 256 + sum(header[156:]):
                raise TarError(f"bad header checksum at offset {offset}")
            typeflag = header[156:157]
            size = _num(header[124:136])
            data_at = offset + BLOCK
            offset = data_at + (size + BLOCK - 1) // BLOCK * BLOCK
            if typeflag in (b"L", b"K", b"x", b"g"):
                self.skip_to(data_at)
                data = self._read(size)
                if len(data) != size:
                    raise TarError("the archive is cut short inside an extended header")
                if typeflag == b"L":
                    long_name = _text(data)
                elif typeflag == b"K":
                    long_link = _text(data)
                elif typeflag == b"x":
                    pax = _pax(data)
                continue
            name = _text(header[0:100])
            if header[257:262] == b"ustar":
                prefix = _text(header[345:500])
                if prefix:
                    name = f"{prefix}/{name}"
            linkname = _text(header[157:257])
            uid, gid, mtime = _num(header[108:116]), _num(header[116:124]), _num(header[136:148])
            if long_name is not None:
                name, long_name = long_name, None
            if long_link is not None:
                linkname, long_link = long_link, None
            if pax:
                name = pax.get("path", name)
                linkname = pax.get("linkpath", linkname)
                size = int(pax.get("size", size))
                uid = int(pax.get("uid", uid))
                gid = int(pax.get("gid", gid))
                mtime = int(float(pax.get("mtime", mtime)))
                offset = data_at + (size + BLOCK - 1) // BLOCK * BLOCK
                pax = {}
            kind = KINDS.get(typeflag, "file")
            if kind in ("dir", "symlink", "hardlink", "char", "block", "fifo"):
                data_size = size if kind == "file" else 0
            else:
                data_size = size
            yield Member(name, kind, _num(header[100:108]) & 0o7777, uid, gid, data_size, mtime, linkname, data_at)
