"""Writing outputs safely: a hostile image cannot make drift write outside its output folder,
and atomic outputs leave nothing behind (no engine needed: crafted `docker save` archives)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from drift.errors import OutputError
from drift.output import atomic_dir, clean_leftovers, write_text
from drift.snapshot.build_context import Folder, Item, write


def _layer(members: list[tuple[str, str, bytes | str | int]]) -> bytes:
    """A layer tar from (name, kind, payload): file -> bytes, symlink -> target, dir -> mode."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, payload in members:
            info = tarfile.TarInfo(name)
            data = None
            if kind == "file":
                assert isinstance(payload, bytes)
                info.size, info.mode, data = len(payload), 0o644, io.BytesIO(payload)
            elif kind == "symlink":
                assert isinstance(payload, str)
                info.type, info.linkname = tarfile.SYMTYPE, payload
            else:
                assert isinstance(payload, int)
                info.type, info.mode = tarfile.DIRTYPE, payload
            tar.addfile(info, data)
    return buf.getvalue()


def _archive(path: Path, layers: list[bytes]) -> Path:
    """A `docker save` archive whose diff_ids are the layers' real digests."""
    diff_ids = ["sha256:" + hashlib.sha256(layer).hexdigest() for layer in layers]
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [{"created_by": f"step {i}"} for i in range(len(layers))],
        }
    ).encode()
    names = [f"{d[7:]}/layer.tar" for d in diff_ids]
    manifest = [{"Config": "config.json", "RepoTags": [f"crafted/{path.stem}:1"], "Layers": names}]
    with tarfile.open(path, "w") as tar:
        members = [("manifest.json", json.dumps(manifest).encode()), ("config.json", config)]
        for name, data in [*members, *zip(names, layers, strict=True)]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _tree(root: Path) -> dict[str, tuple[int, bytes | str | None]]:
    out: dict[str, tuple[int, bytes | str | None]] = {}
    for top, dirs, files in os.walk(root):
        for name in dirs + files:
            p = Path(top) / name
            st = p.lstat()
            body: bytes | str | None = None
            if stat.S_ISLNK(st.st_mode):
                body = os.readlink(p)
            elif stat.S_ISREG(st.st_mode):
                body = p.read_bytes()
            out[str(p.relative_to(root))] = (st.st_mode, body)
    return out


def test_links_in_the_image_never_carry_writes_out(tmp_path: Path) -> None:
    """Item 1: a layer holds a link to a host folder, then files 'under' it; nothing lands on the host."""
    host = tmp_path / "host"
    host.mkdir()
    (host / "existing.txt").write_text("mine")
    os.chmod(host, 0o700)
    before = (_tree(host), stat.S_IMODE(host.stat().st_mode))
    base = _layer([("srv", "dir", 0o755), ("srv/keep.txt", "file", b"base\n")])
    hostile = _layer(
        [
            ("srv/link", "symlink", str(host)),
            ("srv/link/planted.txt", "file", b"pwned\n"),
            ("srv/link/newdir", "dir", 0o777),
            ("srv/link/newdir/deep.txt", "file", b"pwned too\n"),
            ("srv/relink", "symlink", "../../../../../../../.." + str(host)),
            ("srv/relink/planted2.txt", "file", b"pwned three\n"),
            ("srv/afile", "file", b"a file\n"),
            ("srv/afile/under.txt", "file", b"under a file\n"),
            ("srv/ok.txt", "file", b"fine\n"),
        ]
    )
    base_tar = _archive(tmp_path / "base.tar", [base])
    top_tar = _archive(tmp_path / "top.tar", [base, hostile])
    out = tmp_path / "snap"
    # run from the archives' folder: FROM takes the base as written, and it must read as an image reference
    proc = subprocess.run(
        [sys.executable, "-m", "drift", "snapshot", top_tar.name, "--base", base_tar.name, "-o", str(out)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert (_tree(host), stat.S_IMODE(host.stat().st_mode)) == before  # the host folder is untouched
    files = out / "files"
    assert (files / "srv/ok.txt").read_text() == "fine\n"
    # inside the image, srv/link/planted.txt is HOST/planted.txt of the image's own tree
    inside = files / str(host).lstrip("/")
    assert (inside / "planted.txt").read_text() == "pwned\n"
    assert (inside / "planted2.txt").read_text() == "pwned three\n"
    assert (inside / "newdir/deep.txt").read_text() == "pwned too\n"
    assert os.readlink(files / "srv/link") == str(host)  # the link itself is copied as a link
    assert "left out /srv/afile/under.txt: cannot be written safely" in proc.stderr
    assert not (files / "srv/afile").is_dir()
    for top, dirs, names in os.walk(out):  # every real file and folder lies inside the output
        for name in dirs + names:
            real = os.path.realpath(os.path.join(top, name))
            if not os.path.islink(os.path.join(top, name)):
                assert real.startswith(str(out) + os.sep)


def test_context_writer_refuses_a_link_in_its_own_tree(tmp_path: Path) -> None:
    """The writer never follows a link, even one that appears in the output while it writes."""
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "ctx"
    (root / "files").mkdir(parents=True)
    (root / "files" / "etc").symlink_to(outside)
    item = Item("files", "/etc/x.conf", "/etc/x.conf", "file", 0o644)
    with pytest.raises(OutputError, match="not a folder"):
        write(str(root), [item], {}, lambda path: io.BytesIO(b"data"))  # type: ignore[arg-type,return-value]
    assert list(outside.iterdir()) == []


def test_context_folders_get_the_image_modes(tmp_path: Path) -> None:
    root = tmp_path / "ctx"
    root.mkdir()
    items = [
        Item("files", "/root/.config/app.conf", "/root/.config/app.conf", "file", 0o600),
        Item("files", "/srv/app/data", "/srv/app/data", "dir", 0o2770),
    ]
    folders = {"/root": Folder(0o700, 0, 0), "/root/.config": Folder(0o750, 0, 0), "/srv/app": Folder(0o1751, 9, 9)}
    write(str(root), items, folders, lambda path: io.BytesIO(b"x"))  # type: ignore[arg-type,return-value]
    mode = {p: stat.S_IMODE((root / "files" / p).stat().st_mode) for p in ("root", "root/.config", "srv/app")}
    assert mode == {"root": 0o700, "root/.config": 0o750, "srv/app": 0o1751}
    assert stat.S_IMODE((root / "files/srv/app/data").stat().st_mode) == 0o2770
    assert stat.S_IMODE((root / "files/root/.config/app.conf").stat().st_mode) == 0o600


# -- item 14: atomic outputs --------------------------------------------------------------


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_leftovers_are_removed_live_ones_kept(tmp_path: Path) -> None:
    dead = _dead_pid()
    stale_dir = tmp_path / f".snap.drift-{dead}-abc123"
    stale_dir.mkdir()
    (stale_dir / "Dockerfile").write_text("half")
    stale_file = tmp_path / f".out.json.drift-{dead}-x_y9"
    stale_file.write_text("half")
    live = tmp_path / f".snap.drift-{os.getpid()}-live01"
    live.mkdir()
    other = tmp_path / f".other.drift-{dead}-abc123"  # another output's: not ours to clean
    other.mkdir()
    write_text(str(tmp_path / "out.json"), "{}\n")
    assert not stale_file.exists()
    with atomic_dir(str(tmp_path / "snap"), force=False) as tmp:
        Path(tmp, "Dockerfile").write_text("FROM x\n")
    assert not stale_dir.exists() and live.exists() and other.exists()
    old = os.stat(live).st_mtime - 2 * 24 * 3600
    os.utime(live, (old, old))
    assert clean_leftovers(str(tmp_path / "snap")) == [str(live)]


@pytest.mark.parametrize(("umask", "dir_mode", "file_mode"), [(0o022, 0o755, 0o644), (0o077, 0o700, 0o600)])
def test_output_modes_follow_the_umask(tmp_path: Path, umask: int, dir_mode: int, file_mode: int) -> None:
    code = (
        "import os, sys; os.umask(int(sys.argv[1], 8));"
        "from drift.output import atomic_dir, write_text;"
        "write_text(sys.argv[2] + '/out.txt', 'x');"
        "cm = atomic_dir(sys.argv[2] + '/dir', force=False); tmp = cm.__enter__();"
        "open(tmp + '/f', 'w').close(); cm.__exit__(None, None, None)"
    )
    subprocess.run([sys.executable, "-c", code, oct(umask)[2:], str(tmp_path)], check=True)
    assert stat.S_IMODE((tmp_path / "out.txt").stat().st_mode) == file_mode
    assert stat.S_IMODE((tmp_path / "dir").stat().st_mode) == dir_mode


def test_rewriting_a_file_keeps_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "Dockerfile"
    target.write_text("old\n")
    os.chmod(target, 0o640)
    write_text(str(target), "new\n")
    assert target.read_text() == "new\n" and stat.S_IMODE(target.stat().st_mode) == 0o640


def test_layer_folder_reads_never_follow_links(tmp_path: Path) -> None:
    """Item 6, the mechanism: a path through a link (or to a FIFO) in a layer folder is refused."""
    from drift.sources.layers import DirLayer

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("host\n")
    root = tmp_path / "layer"
    (root / "srv" / "real").mkdir(parents=True)
    (root / "srv" / "real" / "secret.txt").write_text("layer\n")
    (root / "srv" / "data").symlink_to(outside)
    os.mkfifo(root / "srv" / "fifo")
    layer = DirLayer(str(root), digest=None, overlay=False, description="test layer")
    with layer.open("/srv/real/secret.txt") as fh:
        assert fh.read() == b"layer\n"
    with pytest.raises(OSError):
        layer.open("/srv/data/secret.txt")
    with pytest.raises(OSError):
        layer.open("/srv/fifo")  # refused at once, never a hang
    scan = layer.scan()
    assert scan.entries["/srv/data"].kind == "symlink" and "/srv/data/secret.txt" not in scan.entries
