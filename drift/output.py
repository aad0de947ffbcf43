"""Atomic writes: a file or a folder appears whole or not at all.

Everything is first written to a sibling `.NAME.drift-PID-XXXXXX` and renamed into place. A
run killed before the rename (`kill -9`, power loss) leaves that sibling behind; the next
write beside it removes the ones whose process is gone (or that are older than a day).
The result gets the modes a plain `open()`/`mkdir` would give under the umask (not the
0600/0700 of a temporary file), or, when a file is replaced, the mode it had.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator

from drift.errors import OutputError

STALE_AGE = 24 * 3600  # seconds after which a leftover is removed whatever its pid says
_LEFTOVER = re.compile(r"^\.(?P<name>.+)\.drift-(?P<pid>\d+)-[A-Za-z0-9_]+(\.old)?$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def _prefix(target: str) -> str:
    return f".{os.path.basename(target)}.drift-{os.getpid()}-"


def clean_leftovers(target: str) -> list[str]:
    """Remove `.NAME.drift-PID-*` siblings of TARGET left by runs that died; returns their paths."""
    folder = os.path.dirname(os.path.abspath(target))
    name = os.path.basename(os.path.abspath(target))
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    removed = []
    now = time.time()
    for entry in names:
        m = _LEFTOVER.match(entry)
        if m is None or m["name"] != name:
            continue
        path = os.path.join(folder, entry)
        try:
            st = os.lstat(path)
        except OSError:
            continue
        if _alive(int(m["pid"])) and now - st.st_mtime < STALE_AGE:
            continue
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.unlink(path)
        removed.append(path)
    return removed


def write_text(path: str, text: str) -> None:
    """Write `text` to `path` through a temporary file in the same folder and a rename."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise OutputError(f"cannot write {path}: folder {folder} does not exist")
    with contextlib.suppress(OSError):
        if not stat.S_ISREG(os.stat(path).st_mode) and not stat.S_ISDIR(os.stat(path).st_mode):
            # a device or pipe (-o /dev/null, /dev/stdout, a FIFO): written into, never replaced
            # by a rename (as root, that turned /dev/null into a regular file)
            try:
                with open(path, "w", encoding="utf-8") as fh:
                    fh.write(text)
            except OSError as exc:
                raise OutputError(f"cannot write {path}: {exc.strerror}") from exc
            return
    clean_leftovers(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=_prefix(path), dir=folder)
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
        clean_leftovers(target)
        tmp = tempfile.mkdtemp(prefix=_prefix(target), dir=parent)
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
