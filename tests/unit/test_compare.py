from __future__ import annotations

from drift.compare import compare_config, compare_packages
from drift.model import AptPackage, ImageConfig, Inventory, PipPackage, Target


def inv(apt=(), pip=(), config=None) -> Inventory:  # type: ignore[no-untyped-def]
    return Inventory(Target("image", "x", "test"), None, tuple(apt), tuple(pip), (), (), config, None, (), (), ())


def apt(name: str, version: str, manual: bool = True, arch: str = "amd64") -> AptPackage:
    return AptPackage(name, version, arch, name, version, manual)


def pip(name: str, version: str, requested: bool = True) -> PipPackage:
    site = "/usr/local/lib/python3.11/dist-packages"
    return PipPackage(name, version, site, requested, "/usr/local", f"{site}/{name}-{version}.dist-info")


def test_packages() -> None:
    expected = inv(
        [apt("dpkg", "1"), apt("jq", "1.6"), apt("curl", "7"), apt("libc6", "2", arch="i386")],
        [pip("requests", "2.31.0"), pip("Six", "1.16.0")],
    )
    actual = inv(
        [apt("dpkg", "1"), apt("jq", "1.7"), apt("vim", "9", manual=False), apt("libc6", "2", arch="i386")],
        [pip("requests", "2.31.0", requested=False), pip("six", "1.16.0"), pip("idna", "3.4")],
    )
    got = {(f.category, f.manager, f.name, f.expected, f.actual) for f in compare_packages(expected, actual)}
    assert got == {
        ("version", "apt", "jq", "1.6", "1.7"),
        ("missing", "apt", "curl", "7", None),
        ("undocumented", "apt", "vim", None, "9"),
        ("mark", "pip", "requests", "requested", "dependency"),
        ("undocumented", "pip", "idna", None, "3.4"),
    }  # Six and six are one project (PEP 503); libc6:i386 matches itself


def test_config_keys_that_differ() -> None:
    e = inv(config=ImageConfig(env=("A=1", "B=2"), cmd=("a", "b"), labels=(("x", "1"),)))
    a = inv(config=ImageConfig(env=("A=1", "B=3"), cmd=("b", "a")))
    got = [(f.name, f.expected, f.actual) for f in compare_config(e, a)]
    assert got == [("Cmd", ["a", "b"], ["b", "a"]), ("Env.B", "2", "3"), ("Labels.x", "1", None)]
