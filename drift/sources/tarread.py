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
MAX_SIZE = 1 << 44  # 16 TiB: a larger member size is a crafted header
MAX_EXTENDED = 1 << 20  # a long name, long link or PAX header larger than this is refused
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


def _num(field: bytes, *, signed: bool = False) -> int:
    if field and field[0] & 0x80:  # base-256 (GNU) for large values
        if field[0] & 0x40:  # two's complement negative: only a time may be before 1970
            if not signed:
                raise TarError("a header holds a negative size or id")
            return int.from_bytes(field, "big", signed=True)
        value = int.from_bytes(bytes([field[0] & 0x7F]) + field[1:], "big")
        if value > MAX_SIZE:
            raise TarError(f"a header holds an impossible number ({value})")
        return value
    text = field.split(b"\0", 1)[0].strip()
    try:
        return int(text, 8) if text else 0
    except ValueError:
        raise TarError(f"a header holds a malformed number {text[:20]!r}") from None


def _text(field: bytes) -> str:
    return field.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _pax(data: bytes) -> dict[str, str]:
    """PAX records "LEN key=value\\n"; each one must move forward and end in a newline."""
    out: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        if data[pos:].strip(b"\0") == b"":
            break  # NUL padding after the last record
        space = data.find(b" ", pos, pos + 24)
        digits = data[pos:space] if space > pos else b""
        if not digits.isdigit():
            raise TarError("a PAX header record has no valid length")
        length = int(digits)
        end = pos + length
        if end <= space + 1 or end > len(data) or data[end - 1 : end] != b"\n":
            raise TarError(f"a PAX header record has a bad length ({length})")
        record = data[space + 1 : end - 1]
        key, eq, value = record.partition(b"=")
        if not eq or not key:
            raise TarError("a PAX header record has no key=value")
        out[key.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
        pos = end
    return out


def _pax_int(pax: dict[str, str], key: str, default: int) -> int:
    text = pax.get(key)
    if text is None:
        return default
    try:
        value = int(float(text)) if key == "mtime" else int(text)
    except (ValueError, OverflowError):
        raise TarError(f"a PAX header holds a malformed {key} {text[:20]!r}") from None
    if (value < 0 or value > MAX_SIZE) and key != "mtime":
        raise TarError(f"a PAX header holds an impossible {key} ({text[:20]})")
    return value


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
            stored = _num(header[148:156])
            if stored != sum(header[:148]) + 256 + sum(header[156:]):
                raise TarError(f"bad header checksum at offset {offset}")
            typeflag = header[156:157]
            size = _num(header[124:136])
            data_at = offset + BLOCK
            offset = data_at + (size + BLOCK - 1) // BLOCK * BLOCK
            if typeflag in (b"L", b"K", b"x", b"g"):
                if size > MAX_EXTENDED:
                    raise TarError(f"an extended header at offset {data_at - BLOCK} is {size} bytes long")
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
            uid, gid, mtime = _num(header[108:116]), _num(header[116:124]), _num(header[136:148], signed=True)
            if long_name is not None:
                name, long_name = long_name, None
            if long_link is not None:
                linkname, long_link = long_link, None
            if pax:
                name = pax.get("path", name)
                linkname = pax.get("linkpath", linkname)
                size = _pax_int(pax, "size", size)
                uid = _pax_int(pax, "uid", uid)
                gid = _pax_int(pax, "gid", gid)
                mtime = _pax_int(pax, "mtime", mtime)
                offset = data_at + (size + BLOCK - 1) // BLOCK * BLOCK
                pax = {}
            kind = KINDS.get(typeflag, "file")
            if kind in ("dir", "symlink", "hardlink", "char", "block", "fifo"):
                data_size = size if kind == "file" else 0
            else:
                data_size = size
            yield Member(name, kind, _num(header[100:108]) & 0o7777, uid, gid, data_size, mtime, linkname, data_at)
