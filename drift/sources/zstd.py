"""zstd streams (BuildKit's and skopeo's `tar+zstd` layers), through the `zstandard` binding.

Read exactly as gzip layers are: one forward stream, never whole in memory, under the same
bounds downstream (tarread's header limits, fs's capture budget, the digest check). One
bound is zstd's own: a frame says how much window memory it needs to be decoded, and a
crafted frame may ask for gigabytes; more than MAX_WINDOW (128 MB, zstd's own default limit
and what `zstd --long` uses) is refused. Imported only when a stream starts with zstd's magic.
"""

from __future__ import annotations

from typing import Any, BinaryIO

from drift.errors import CorruptArchive

MAGIC = b"\x28\xb5\x2f\xfd"
MAX_WINDOW = 1 << 27


class _Frames:
    """The compressed bytes as they go by, walked frame by frame (headers and block headers
    only): at the end of the input the last frame must be complete. zstandard's reader ends
    quietly on a truncated frame; gzip's raises, and so must this."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.checksum = False
        self.pending = b""
        self.skip = 0
        self.state = "magic"
        self.frames = 0

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        if data:
            self._feed(data)
        elif self.state != "magic" or self.pending or self.skip or not self.frames:
            raise ValueError("zstd: the stream ends inside a frame (truncated)")
        return data

    def _need(self, data: memoryview, pos: int, k: int) -> tuple[bytes | None, int]:
        take = min(k - len(self.pending), len(data) - pos)
        self.pending += bytes(data[pos : pos + take])
        if len(self.pending) < k:
            return None, pos + take
        head, self.pending = self.pending, b""
        return head, pos + take

    def _feed(self, chunk: bytes) -> None:
        data, pos = memoryview(chunk), 0
        while pos < len(data):
            if self.skip:
                step = min(self.skip, len(data) - pos)
                self.skip -= step
                pos += step
                continue
            size = {"magic": 4, "skippable": 4, "header": 1, "block": 3}[self.state]
            head, pos = self._need(data, pos, size)
            if head is None:
                return
            self._step(head)

    def _step(self, head: bytes) -> None:
        if self.state == "magic":
            if head == MAGIC:
                self.state, self.frames = "header", self.frames + 1
            elif head[1:] == b"\x2a\x4d\x18" and head[0] & 0xF0 == 0x50:
                self.state = "skippable"
            else:
                raise ValueError("zstd: data after a frame is not another frame")
        elif self.state == "skippable":
            self.skip, self.state = int.from_bytes(head, "little"), "magic"
        elif self.state == "header":
            d = head[0]
            single = (d >> 5) & 1
            self.checksum = bool((d >> 2) & 1)
            self.skip = (0 if single else 1) + (0, 1, 2, 4)[d & 3] + ((1 if single else 0), 2, 4, 8)[d >> 6]
            self.state = "block"
        else:
            h = int.from_bytes(head, "little")
            kind, size = (h >> 1) & 3, h >> 3
            if kind == 3:
                raise ValueError("zstd: a block of the reserved type")
            self.skip = 1 if kind == 1 else size
            if h & 1:
                self.skip += 4 if self.checksum else 0
                self.state = "magic"


class _Reader:
    """A read-only stream over a zstd stream (all its frames); decoder errors become
    ValueError (a corrupt layer) or CorruptArchive (a frame asking too much memory)."""

    def __init__(self, raw: BinaryIO, description: str) -> None:
        import zstandard

        self._error = zstandard.ZstdError
        self._description = description
        decompressor = zstandard.ZstdDecompressor(max_window_size=MAX_WINDOW)
        frames: Any = _Frames(raw)  # it has read(), all stream_reader uses of a source
        self._stream = decompressor.stream_reader(frames, read_size=1 << 17, read_across_frames=True, closefd=False)

    def read(self, n: int = -1) -> bytes:
        try:
            if n is None or n < 0:
                return self._stream.readall()  # type: ignore[no-any-return]
            return self._stream.read(n)  # type: ignore[no-any-return]
        except self._error as exc:
            if "memory" in str(exc).lower() or "window" in str(exc).lower():
                raise CorruptArchive(
                    f"{self._description}: a zstd frame asks for more than {MAX_WINDOW >> 20} MB of window "
                    "memory to be decoded; refused (recompress it without --long above 27)"
                ) from None
            raise ValueError(f"zstd: {exc}") from None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> _Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def reader(raw: BinaryIO, description: str) -> BinaryIO:
    return _Reader(raw, description)  # type: ignore[return-value]
