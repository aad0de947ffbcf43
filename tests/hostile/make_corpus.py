"""Generate the hostile corpus: crafted docker-save archives, OCI layouts and root folders.

Nothing here is committed as a blob: every input is built from a few lines of code, so a
new class of attack is a new function. Other tests import this module and call `build`
(or a single builder); `python -m tests.hostile.make_corpus DEST` writes the corpus to a
folder for manual runs.

Each `Case` names its target (and optional `--base`), the exit code drift must give (0, 2,
or None for "0 or 2"), and words the one-line error must contain. `sentinel` is a folder
outside every output: cases aim links at it, and the runner checks it stays untouched.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import random
import sys
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BLOCK = 512


@dataclass(frozen=True)
class Case:
    name: str
    target: Path
    base: Path | None = None
    expect: int | None = None  # exit code drift must give; None: 0 or 2
    words: str = ""  # the error line contains this (when the exit code is 2)
    unknowns: tuple[str, ...] = ()  # on exit 0, each is part of some unknown's reason


Builder = Callable[[Path, Path], Case]
BUILDERS: dict[str, Builder] = {}


def case(func: Builder) -> Builder:
    """Register a builder: func(folder, sentinel) -> Case. The name is the function's."""
    BUILDERS[func.__name__] = func
    return func


# -- raw tar writing (every field under our control) ---------------------------------------
def _octal(value: int, width: int) -> bytes:
    return f"{value:0{width - 1}o}".encode() + b"\0"


def header(
    name: str | bytes,
    *,
    kind: bytes = b"0",
    size: int = 0,
    mode: int = 0o644,
    link: str | bytes = b"",
    size_field: bytes | None = None,
    uid: int = 0,
    gid: int = 0,
) -> bytes:
    """One ustar header block; `size_field` replaces the 12-byte size field verbatim."""
    raw_name = name.encode() if isinstance(name, str) else name
    raw_link = link.encode() if isinstance(link, str) else link
    block = bytearray(BLOCK)
    block[0:100] = raw_name[:100].ljust(100, b"\0")
    block[100:108] = _octal(mode, 8)
    block[108:116] = _octal(uid, 8)
    block[116:124] = _octal(gid, 8)
    block[124:136] = size_field if size_field is not None else _octal(size, 12)
    block[136:148] = _octal(1700000000, 12)
    block[148:156] = b" " * 8
    block[156:157] = kind
    block[157:257] = raw_link[:100].ljust(100, b"\0")
    block[257:265] = b"ustar\x0000"
    checksum = sum(block)
    block[148:156] = f"{checksum:06o}".encode() + b"\0 "
    return bytes(block)


def pad(data: bytes) -> bytes:
    return data + bytes(-len(data) % BLOCK)


def member(name: str | bytes, data: bytes = b"", **kw: Any) -> bytes:
    return header(name, size=len(data), **kw) + pad(data)


def pax(records: bytes) -> bytes:
    """A PAX extended header ('x') with these raw records, for the member that follows."""
    return header("PaxHeader", kind=b"x", size=len(records)) + pad(records)


def pax_record(key: str, value: str) -> bytes:
    body = f" {key}={value}\n".encode()
    length = len(body) + len(str(len(body)))
    if len(str(length)) != len(str(len(body))):
        length += 1
    return str(length).encode() + body


def tar(*members: bytes) -> bytes:
    return b"".join(members) + bytes(2 * BLOCK)


def folder(name: str | bytes) -> bytes:
    raw = name.encode() if isinstance(name, str) else name
    return member(raw.rstrip(b"/") + b"/", kind=b"5", mode=0o755)


def symlink(name: str | bytes, target: str | bytes) -> bytes:
    return member(name, kind=b"2", link=target, mode=0o777)


def hardlink(name: str, target: str) -> bytes:
    return member(name, kind=b"1", link=target)


# -- images ----------------------------------------------------------------------------------
STATUS_ONE = b"Package: base-files\nStatus: install ok installed\nVersion: 12.4\nArchitecture: amd64\n\n"


def base_layer() -> bytes:
    return tar(
        folder("etc"),
        member("etc/os-release", b'ID=debian\nVERSION_ID="12"\n'),
        folder("usr"),
        folder("usr/bin"),
        folder("var"),
        folder("var/lib"),
        folder("var/lib/dpkg"),
        member("var/lib/dpkg/status", STATUS_ONE),
        folder("var/lib/dpkg/info"),
        member("var/lib/dpkg/info/base-files.list", b"/.\n/etc\n/etc/os-release\n"),
    )


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def image_config(layers: list[bytes], **settings: Any) -> dict[str, Any]:
    return {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": ["PATH=/usr/local/bin:/usr/bin:/bin"], "Cmd": ["bash"], **settings},
        "rootfs": {"type": "layers", "diff_ids": [sha(layer) for layer in layers]},
        "history": [{"created_by": f"layer {i}"} for i in range(len(layers))],
    }


def docker_archive(
    dest: Path,
    layers: list[bytes],
    *,
    config: Any = None,
    manifest: Any = None,
    extra: dict[str, bytes] | None = None,
) -> Path:
    """A `docker save` archive (classic flavour) holding these layer tars."""
    config_bytes = json.dumps(config if config is not None else image_config(layers)).encode()
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    names = [f"{hashlib.sha256(layer).hexdigest()}/layer.tar" for layer in layers]
    if manifest is None:
        manifest = [{"Config": config_name, "RepoTags": ["hostile:latest"], "Layers": names}]
    files = {config_name: config_bytes, "manifest.json": json.dumps(manifest).encode(), **(extra or {})}
    files.update(zip(names, layers, strict=True))
    with tarfile.open(dest, "w") as out:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))
    return dest


def _blob(root: Path, data: bytes) -> str:
    digest = sha(data)
    (root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (root / "blobs" / "sha256" / digest.split(":")[1]).write_bytes(data)
    return digest


def oci_layout(
    dest: Path,
    layers: list[bytes],
    *,
    index: Any = None,
    manifest: Any = None,
    config: Any = None,
    packed: list[bytes] | None = None,
) -> Path:
    """An OCI image layout with gzip layers; any document can be replaced by a crafted one."""
    dest.mkdir(parents=True)
    packed = packed if packed is not None else [gzip.compress(layer, mtime=0) for layer in layers]
    config_bytes = json.dumps(config if config is not None else image_config(layers)).encode()
    if manifest is None:
        manifest = {
            "schemaVersion": 2,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": _blob(dest, config_bytes)},
            "layers": [
                {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": _blob(dest, p), "size": len(p)}
                for p in packed
            ],
        }
    manifest_bytes = json.dumps(manifest).encode()
    if index is None:
        index = {"schemaVersion": 2, "manifests": [{"digest": _blob(dest, manifest_bytes), "size": 1}]}
    (dest / "index.json").write_text(json.dumps(index))
    (dest / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    return dest


def layered(folder_: Path, name: str, top: bytes, **kw: Any) -> Case:
    """A target archive = base layer + `top`, compared with the base archive (--base)."""
    base = folder_ / "base.tar"
    if not base.exists():
        docker_archive(base, [base_layer()])
    target = docker_archive(folder_ / f"{name}.tar", [base_layer(), top])
    return Case(name, target, base, **kw)


# -- the cases: tar headers (item 7) ----------------------------------------------------------
@case
def negative_base256_size(d: Path, s: Path) -> Case:
    field = b"\xff" * 11 + b"\x00"  # two's complement: a negative size
    top = tar(header("etc/evil", size_field=field), member("etc/after", b"x"))
    return layered(d, "negative_base256_size", top, expect=2, words="negative")


@case
def huge_base256_size(d: Path, s: Path) -> Case:
    field = b"\x80" + (1 << 80).to_bytes(11, "big")
    return layered(d, "huge_base256_size", tar(header("etc/huge", size_field=field)), expect=2)


@case
def huge_size_cut_short(d: Path, s: Path) -> Case:
    top = header("etc/big", size=1 << 33) + b"tiny"
    return layered(d, "huge_size_cut_short", top, expect=2, words="corrupt")


@case
def pax_zero_length(d: Path, s: Path) -> Case:
    top = tar(pax(b"0 path=x\n"), member("etc/x", b"x"))
    return layered(d, "pax_zero_length", top, expect=2, words="PAX")


@case
def pax_negative_size(d: Path, s: Path) -> Case:
    top = tar(pax(pax_record("size", "-1024")), member("etc/x", b"x"))
    return layered(d, "pax_negative_size", top, expect=2, words="PAX")


@case
def pax_garbage_length(d: Path, s: Path) -> Case:
    top = tar(pax(b"99999999 path=x\n"), member("etc/x", b"x"))
    return layered(d, "pax_garbage_length", top, expect=2, words="PAX")


@case
def bad_checksum(d: Path, s: Path) -> Case:
    block = bytearray(header("etc/x", size=0))
    block[0] ^= 1
    return layered(d, "bad_checksum", tar(bytes(block)), expect=2, words="checksum")


@case
def no_end_marker(d: Path, s: Path) -> Case:
    return layered(d, "no_end_marker", member("etc/x", b"x"), expect=2)


# -- members and links -----------------------------------------------------------------------
@case
def dotdot_member(d: Path, s: Path) -> Case:
    return layered(d, "dotdot_member", tar(member("../../etc/evil", b"x")), expect=2, words="outside")


@case
def dotdot_hardlink(d: Path, s: Path) -> Case:
    top = tar(hardlink("etc/evil", "../../../etc/passwd"))
    return layered(d, "dotdot_hardlink", top, expect=2, words="outside")


@case
def symlink_escape_then_write(d: Path, s: Path) -> Case:
    """A link to the sentinel folder, then files "under" the link: nothing may land there."""
    top = tar(
        folder("srv"),
        symlink("srv/escape", str(s)),
        member("srv/escape/pwned", b"written outside\n", mode=0o4755),
        symlink("srv/up", "../../../../../../../../" + str(s).lstrip("/")),
        member("srv/up/pwned2", b"written outside\n"),
        symlink("etc/shadow-link", "/etc/shadow"),
    )
    return layered(d, "symlink_escape_then_write", top)


@case
def symlink_chain_and_loop(d: Path, s: Path) -> Case:
    links = [symlink(f"srv/l{i}", f"l{i + 1}") for i in range(60)]
    top = tar(folder("srv"), *links, symlink("srv/loop-a", "loop-b"), symlink("srv/loop-b", "loop-a"))
    return layered(d, "symlink_chain_and_loop", top, expect=0)


@case
def hardlink_loop(d: Path, s: Path) -> Case:
    top = tar(
        folder("srv"),
        hardlink("srv/a", "srv/b"),
        hardlink("srv/b", "srv/a"),
        hardlink("srv/self", "srv/self"),
        member("srv/file", b"data\n"),
        hardlink("srv/c", "srv/file"),
        hardlink("srv/d", "srv/c"),
    )
    return layered(d, "hardlink_loop", top, expect=0)


@case
def device_files(d: Path, s: Path) -> Case:
    top = tar(
        folder("dev"),
        member("dev/sda", kind=b"4"),
        member("dev/mem", kind=b"3"),
        member("dev/fifo", kind=b"6"),
        member("etc/devlink", kind=b"3"),
    )
    return layered(d, "device_files", top, expect=0)


@case
def non_utf8_names(d: Path, s: Path) -> Case:
    top = tar(
        folder("srv"),
        member(b"srv/caf\xe9-latin1", b"x\n"),
        member(b"srv/\xff\xfe", b"y\n"),
        symlink(b"srv/link-\xff", b"caf\xe9-latin1"),
        member("srv/ctl\x1b[31mred", b"z\n"),
    )
    return layered(d, "non_utf8_names", top)


@case
def truncated_gzip_layer(d: Path, s: Path) -> Case:
    layer = tar(member("etc/x", random.Random(0).randbytes(100000)))  # does not compress
    packed = gzip.compress(layer)
    return Case(
        "truncated_gzip_layer", oci_layout(d / "truncated_gzip_layer", [layer], packed=[packed[:200]]), expect=2
    )


@case
def forged_diff_id(d: Path, s: Path) -> Case:
    """An archive that claims another layer's diff_id (cache poisoning): refused."""
    real, forged = base_layer(), tar(member("etc/forged", b"evil"))
    config = image_config([real])
    target = docker_archive(d / "forged_diff_id.tar", [forged], config=config)
    return Case("forged_diff_id", target, expect=2, words="diff_id")


# -- wrong-shape JSON and digests (items 5, 12) -----------------------------------------------
def _shape_case(name: str, expect: int = 2, words: str = "", **kw: Any) -> Builder:
    def build(d: Path, s: Path) -> Case:
        return Case(name, docker_archive(d / f"{name}.tar", [base_layer()], **kw), expect=expect, words=words)

    build.__name__ = name
    return case(build)


_shape_case("manifest_is_object", manifest={"Config": "x", "Layers": []})
_shape_case("manifest_entry_is_list", manifest=[["Config", "Layers"]])
_shape_case("manifest_without_config", manifest=[{"Layers": []}])
_shape_case("manifest_layers_is_string", manifest=[{"Config": "c.json", "Layers": "abc"}])
_shape_case("manifest_config_dotdot", manifest=[{"Config": "../../etc/passwd", "Layers": []}], words="outside")
_shape_case("manifest_config_absolute", manifest=[{"Config": "/etc/passwd", "Layers": []}], words="outside")
_shape_case("config_is_list", config=[1, 2, 3])
_shape_case("config_rootfs_is_list", config={"rootfs": [], "config": {}})
_shape_case("config_env_is_string", config={**image_config([base_layer()]), "config": {"Env": "A=1"}})
_shape_case("config_ports_is_list", config={**image_config([base_layer()]), "config": {"ExposedPorts": ["80"]}})
_shape_case("config_history_wrong", expect=0, config={**image_config([base_layer()]), "history": [1, "x", None]})
_shape_case("diff_id_not_a_digest", config={"rootfs": {"diff_ids": ["sha256:../../x"]}}, words="digest")


def _oci_case(name: str, words: str = "", **kw: Any) -> Builder:
    def build(d: Path, s: Path) -> Case:
        return Case(name, oci_layout(d / name, [base_layer()], **kw), expect=2, words=words)

    build.__name__ = name
    return case(build)


_oci_case("oci_digest_traversal", words="digest", index={"manifests": [{"digest": "sha256:../../../../etc/passwd"}]})
_oci_case("oci_digest_short", words="digest", index={"manifests": [{"digest": "sha256:abc"}]})
_oci_case("oci_digest_not_string", words="digest", index={"manifests": [{"digest": 5}]})
_oci_case("oci_index_is_list", index=[{"digest": "x"}])
_oci_case("oci_manifests_is_object", index={"manifests": {"digest": "x"}})
_oci_case("oci_descriptor_without_digest", words="digest", index={"manifests": [{"size": 3}]})
_oci_case(
    "oci_layer_digest_traversal",
    words="digest",
    manifest={"config": {"digest": "sha256:" + "0" * 64}, "layers": [{"digest": "sha512:../x"}]},
)


@case
def oci_blob_symlink(d: Path, s: Path) -> Case:
    """A blob that is a link to a host file is never read."""
    root = oci_layout(d / "oci_blob_symlink", [base_layer()])
    index = json.loads((root / "index.json").read_text())
    name = index["manifests"][0]["digest"].split(":")[1]
    blob = root / "blobs" / "sha256" / name
    blob.unlink()
    secret = s.parent / "host-secret.json"
    secret.write_text('{"manifests": []}')
    os.symlink(secret, blob)
    return Case("oci_blob_symlink", root, expect=2, words="symbolic link")


@case
def odd_dist_info(d: Path, s: Path) -> Case:
    """Python metadata of every wrong shape: each is an unknown or a package, never a crash."""
    site = "usr/lib/python3/dist-packages"
    meta = b"Metadata-Version: 2.1\nName: x\nVersion: 1\n\n"
    top = tar(
        folder("usr/lib/python3"),
        folder(site),
        folder(f"{site}/garbage.dist-info"),
        member(f"{site}/garbage.dist-info/METADATA", b"\xff\xfe\x00\x01" * 100),
        folder(f"{site}/x-1.dist-info"),
        member(f"{site}/x-1.dist-info/METADATA", meta),
        member(f"{site}/x-1.dist-info/direct_url.json", b'{"url": "https://x", "vcs_info": "git", "dir_info": []}'),
        member(f"{site}/x-1.dist-info/RECORD", b"../../../../etc/passwd,,\n/abs/path,,\n\n,,,\n"),
        folder(f"{site}/y-1.dist-info"),
        member(f"{site}/y-1.dist-info/METADATA", meta.replace(b"x", b"y")),
        member(f"{site}/y-1.dist-info/direct_url.json", b'[{"url": 5}]'),
        folder(f"{site}/.dist-info"),
        member(f"{site}/.dist-info/METADATA", b"Name: \nVersion: \n"),
        folder(b"usr/lib/python3/dist-packages/caf\xe9-1.dist-info"),
        member(b"usr/lib/python3/dist-packages/caf\xe9-1.dist-info/METADATA", meta.replace(b"x", b"caf\xc3\xa9")),
        folder(f"{site}/nl\nname.dist-info"),
        member(f"{site}/file.dist-info", b"not a folder"),
        symlink(f"{site}/link.egg-info", "/etc/passwd"),
        folder(f"{site}/dir.egg-info"),
        member(f"{site}/dir.egg-info/PKG-INFO", b"Name: z\nVersion: 2\n"),
        member(f"{site}/dir.egg-info/requires.txt", b"[\n\x00\n"),
    )
    return layered(d, "odd_dist_info", top, expect=0, unknowns=("without Name or Version", "no readable METADATA"))


@case
def root_folder_oddities(d: Path, s: Path) -> Case:
    """A root folder: FIFOs where package databases belong (reading one would hang), links
    to host files and to the sentinel, a sparse 100 GB status file, a name that is not UTF-8."""
    root = d / "root_folder_oddities"
    base = d / "root_folder_base"
    for where in (base, root):
        (where / "etc").mkdir(parents=True)
        (where / "etc/os-release").write_text('ID=debian\nVERSION_ID="12"\n')
        (where / "var/lib/dpkg/info").mkdir(parents=True)
    (base / "var/lib/dpkg/status").write_bytes(STATUS_ONE)
    os.mkfifo(root / "var/lib/dpkg/status")
    (root / "var/lib/dpkg/status.d").mkdir()
    with open(root / "var/lib/dpkg/status.d/huge", "wb") as fh:
        fh.truncate(100 << 30)  # sparse: no disk used, but a size no reader may trust
    os.mkfifo(root / "var/lib/dpkg/info/base-files.list")
    site = root / "usr/lib/python3/dist-packages/x-1.dist-info"
    site.mkdir(parents=True)
    os.symlink("/etc/shadow", site / "METADATA")
    (root / "srv").mkdir()
    os.symlink(s, root / "srv/escape")
    os.symlink("../../../../../../../../" + str(s).lstrip("/"), root / "srv/up")
    os.symlink("loop-b", root / "srv/loop-a")
    os.symlink("loop-a", root / "srv/loop-b")
    (root / os.fsdecode(b"srv/caf\xe9")).write_bytes(b"x\n")
    return Case("root_folder_oddities", root, base, expect=0, unknowns=("is a fifo", "larger than 64 MB"))


# -- metadata size (items 8, 9) ---------------------------------------------------------------
@case
def dpkg_status_10k(d: Path, s: Path) -> Case:
    paras = [
        f"Package: pkg{i}\nStatus: install ok installed\nVersion: 1.{i}\nArchitecture: amd64\n"
        f"Description: package {i}\n more text\n .\n even more\n"
        for i in range(10000)
    ]
    status = (STATUS_ONE.decode() + "\n".join(paras)).encode()
    top = tar(member("var/lib/dpkg/status", status))
    return layered(d, "dpkg_status_10k", top, expect=0)


@case
def dpkg_long_field(d: Path, s: Path) -> Case:
    """A 20 MB field of continuation lines: linear, and cut with an unknown."""
    field = b"Description: x\n" + b" y\n" * 7_000_000
    status = STATUS_ONE + b"Package: big\nStatus: install ok installed\nVersion: 1\n" + field
    top = tar(member("var/lib/dpkg/status", status))
    return layered(d, "dpkg_long_field", top, expect=0, unknowns=("Description longer than 1 MB",))


def build(dest: Path, sentinel: Path, names: list[str] | None = None) -> list[Case]:
    """Write the corpus (or the named cases) under dest; the sentinel folder must exist."""
    dest.mkdir(parents=True, exist_ok=True)
    return [BUILDERS[name](dest, sentinel) for name in names or BUILDERS]


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tests.hostile.make_corpus DEST", file=sys.stderr)
        return 2
    dest = Path(argv[0]).resolve()
    sentinel = dest / "sentinel"
    sentinel.mkdir(parents=True, exist_ok=True)
    for item in build(dest, sentinel):
        print(f"{item.name}\t{item.target}\t{item.base or ''}\t{item.expect}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
