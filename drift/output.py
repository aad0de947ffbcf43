"""Atomic writes: a file or a folder appears whole or not at all."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator

from drift.errors import OutputError


def write_text(path: str, text: str) -> None:
    """Write `text` to `path` through a temporary file in the same folder and a rename."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise OutputError(f"cannot write {path}: folder {folder} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".drift-", dir=folder)
    except OSError as exc:
        raise OutputError(f"cannot write in {folder}: {exc.strerror}") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            os.fchmod(fh.fileno(), _file_mode(path))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _file_mode(path: str) -> int:
    """The mode a plain open() would give: the replaced file's own, else 0666 less the umask
    (mkstemp's 0600 would hide a report from node_exporter or a web server)."""
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        return 0o666 & ~_umask()


@contextlib.contextmanager
def atomic_dir(path: str, *, force: bool) -> Iterator[str]:
    """Yield a temporary folder beside `path`; on success it replaces `path` whole."""
    target = os.path.abspath(path)
    parent = os.path.dirname(target)
    if os.path.exists(target) and not os.path.isdir(target):
        raise OutputError(f"{path} exists and is not a folder")
    if os.path.isdir(target) and os.listdir(target) and not force:
        raise OutputError(f"{path} is not empty: choose another folder or pass --force to replace it")
    try:
        os.makedirs(parent, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}.drift-", dir=parent)
        os.chmod(tmp, 0o777 & ~_umask())  # as mkdir would make it, not mkdtemp's 0700
    except OSError as exc:
        raise OutputError(f"cannot write in {parent}: {exc.strerror}") from exc
    try:
        yield tmp
        if os.path.isdir(target):
            old = tmp + ".old"
            os.rename(target, old)
            os.rename(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
