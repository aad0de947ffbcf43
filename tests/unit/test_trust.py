"""A layer cache or history store that others can write is not used (as ssh refuses such a key).

Tests run as root: 'another user' is uid 65534 (nobody), set with os.chown / os.lchown."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from drift.cache import LayerCache
from drift.sources.fs import LayerScan
from drift.store import StoreError, open_store
from drift.trust import distrust
from tests.conftest import TEST_CACHE
from tests.hostile import make_corpus

NOBODY = 65534


def folder(path: Path, mode: int = 0o700, uid: int | None = None) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, mode)
    if uid is not None:
        os.chown(path, uid, uid)
    return path


def test_a_private_folder_and_what_is_in_it_are_trusted(tmp_path: Path) -> None:
    mine = folder(tmp_path / "mine")
    assert distrust(str(mine)) is None
    assert distrust(str(mine / "not-yet" / "file")) is None  # parts not made yet are skipped


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o702])
def test_a_folder_others_can_write_is_not(tmp_path: Path, mode: int) -> None:
    shared = folder(tmp_path / "shared", mode)
    bad = distrust(str(shared / "layers.sqlite"))
    assert bad is not None and bad.path == str(shared) and f"mode {mode:04o}" in bad.why


def test_a_folder_above_that_others_can_write_is_not(tmp_path: Path) -> None:
    top = folder(tmp_path / "top", 0o777)
    inner = folder(top / "inner")
    bad = distrust(str(inner))
    assert bad is not None and bad.path == str(top) and bad.fix == f"chmod go-w {top}"


def test_a_folder_owned_by_another_user_is_not(tmp_path: Path) -> None:
    theirs = folder(tmp_path / "theirs", 0o755, NOBODY)
    bad = distrust(str(theirs / "history.sqlite"))
    assert bad is not None and bad.why == f"owned by uid {NOBODY}"


def test_a_file_others_can_write_or_own_is_not(tmp_path: Path) -> None:
    mine = folder(tmp_path / "mine")
    db = mine / "history.sqlite"
    db.write_bytes(b"")
    os.chmod(db, 0o666)
    assert distrust(str(db)) is not None
    os.chmod(db, 0o600)
    os.chown(db, NOBODY, NOBODY)
    assert distrust(str(db)) is not None


def test_a_sticky_folder_above_ours_is_fine_but_not_as_the_folder_itself(tmp_path: Path) -> None:
    sticky = folder(tmp_path / "tmp", 0o1777)
    ours = folder(sticky / "drift-cache")
    assert distrust(str(ours / "layers.sqlite")) is None  # like /tmp/drift-cache made 0700 by drift
    assert distrust(str(sticky / "history.sqlite")) is not None  # straight in /tmp: others can take the name
    os.chmod(ours, 0o777)
    assert distrust(str(ours)) is not None


def test_links_owned_by_another_user_are_not_followed(tmp_path: Path) -> None:
    target = folder(tmp_path / "target")
    link = tmp_path / "link"
    link.symlink_to(target)
    assert distrust(str(link / "layers.sqlite")) is None  # our own link to our own folder
    os.lchown(link, NOBODY, NOBODY)
    bad = distrust(str(link / "layers.sqlite"))
    assert bad is not None and bad.path == str(link) and "link" in bad.why
    open_link = tmp_path / "open"
    open_link.symlink_to(folder(tmp_path / "wide", 0o777))
    assert distrust(str(open_link)) is not None  # ours, but it leads into a folder others can write


def test_the_test_suites_own_cache_passes() -> None:
    """tests/conftest.py puts the cache under /tmp (sticky): drift makes it 0700, which is fine."""
    cache = LayerCache()
    cache.stats()
    cache.get("k")
    assert not cache.disabled and distrust(TEST_CACHE) is None


def scan() -> LayerScan:
    return LayerScan(digest="sha256:" + "a" * 64)


@pytest.mark.parametrize(("mode", "uid"), [(0o777, None), (0o755, NOBODY)])
def test_the_cache_warns_once_and_is_not_used(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mode: int, uid: int | None
) -> None:
    shared = folder(tmp_path / "cache", mode, uid)
    caches = [LayerCache(str(shared / "layers.sqlite")) for _ in range(2)]  # e.g. one per engine thread
    for cache in caches:
        assert cache.get("k") is None
        cache.put("k", scan())
        assert cache.disabled
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"drift: warning: layer cache {shared} is "), err
    assert err[0].endswith("or set DRIFT_CACHE_DIR") and ": not used; fix with " in err[0]
    assert ("writable by others (mode 0777)" if uid is None else f"owned by uid {NOBODY}") in err[0]
    assert os.listdir(shared) == []


def test_a_private_cache_is_used_as_before(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cache = LayerCache(str(tmp_path / "cache" / "layers.sqlite"))
    cache.put("k", scan())
    assert cache.get("k") is not None and not cache.disabled
    assert capsys.readouterr().err == ""
    assert os.stat(tmp_path / "cache").st_mode & 0o777 == 0o700


def drift(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "drift", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def test_inspect_with_a_cache_others_can_write_runs_on_with_one_warning(tmp_path: Path) -> None:
    make_corpus.docker_archive(tmp_path / "base.tar", [make_corpus.base_layer()])
    shared = folder(tmp_path / "cache", 0o777)
    proc = drift("inspect", "base.tar", "-f", "json", cwd=tmp_path, env={"DRIFT_CACHE_DIR": str(shared)})
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == (
        f"drift: warning: layer cache {shared} is writable by others (mode 0777): not used; "
        f"fix with chmod 700 {shared} or set DRIFT_CACHE_DIR\n"
    )
    assert '"packages"' in proc.stdout and os.listdir(shared) == []


def store_cases(tmp_path: Path) -> dict[str, Path]:
    wide = folder(tmp_path / "wide", 0o777)
    theirs = folder(tmp_path / "theirs", 0o755, NOBODY)
    mine = folder(tmp_path / "mine")
    link = mine / "link.sqlite"
    link.symlink_to(mine / "real.sqlite")
    os.lchown(link, NOBODY, NOBODY)
    return {"wide": wide / "h.sqlite", "theirs": theirs / "h.sqlite", "link": link}


@pytest.mark.parametrize("case", ["wide", "theirs", "link"])
def test_a_store_others_can_write_is_refused_with_one_line(tmp_path: Path, case: str) -> None:
    store = store_cases(tmp_path)[case]
    before = sorted(os.listdir(store.parent))
    proc = drift("report", "--store", str(store), "--host", "unix:///nonexistent.sock", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"drift: error: the history store {store}"), proc.stderr
    assert "refused, nothing was written" in lines[0]
    assert sorted(os.listdir(store.parent)) == before  # no store, lock or journal made


def test_a_private_store_opens_as_before(tmp_path: Path) -> None:
    path = folder(tmp_path / "mine") / "h.sqlite"
    with open_store(str(path)) as store:
        assert store is not None
    assert path.exists()
    os.chmod(path, 0o666)
    with pytest.raises(StoreError, match="writable by others"), open_store(str(path)):
        pass
