"""A container's packages taken from its image's (drift/inventory/reuse.py): only when the layer
above cannot change what the collectors read, and then equal to what they would read."""

from __future__ import annotations

import hashlib
import io
import tarfile

import pytest

from drift.inventory import apt, pip, reuse
from drift.sources.fs import View, touched_paths
from drift.sources.tarlayer import TarLayer

CONF = "listen=80\n"
STATUS = f"""Package: web
Status: install ok installed
Version: 1.0
Architecture: all
Conffiles:
 /etc/web/web.conf {hashlib.md5(CONF.encode()).hexdigest()}

"""
META = "Metadata-Version: 2.1\nName: toolz\nVersion: 0.12.1\n\n"
SITE = "usr/local/lib/python3.11/dist-packages"
Member = str | None  # content, or None for a folder; "->X" a symlink to X


def layer(members: dict[str, Member]) -> TarLayer:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.mtime = 1
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            elif data.startswith("->"):
                info.type, info.linkname = tarfile.SYMTYPE, data[2:]
                tar.addfile(info)
            else:
                raw = data.encode()
                info.size, info.mode = len(raw), 0o644
                tar.addfile(info, io.BytesIO(raw))
    blob = buf.getvalue()
    return TarLayer(lambda: io.BytesIO(blob), digest=None, description="test layer")


BASE = {
    "lib": "->usr/lib",
    "usr": None,
    "usr/lib": None,
    "usr/lib/python3.11": None,
    "usr/lib/python3.11/os.py": "",
    "etc": None,
    "etc/web": None,
    "etc/web/web.conf": CONF,
    "opt": None,
    "var": None,
    "var/lib": None,
    "var/lib/dpkg": None,
    "var/lib/dpkg/status": STATUS,
    "var/lib/dpkg/info": None,
    "var/lib/dpkg/info/web.list": "/etc/web/web.conf\n/usr/lib/web\n",
    "usr/local": None,
    "usr/local/lib": None,
    "usr/local/lib/python3.11": None,
    SITE: None,
    f"{SITE}/toolz-0.12.1.dist-info": None,
    f"{SITE}/toolz-0.12.1.dist-info/METADATA": META,
    f"{SITE}/toolz-0.12.1.dist-info/RECORD": "toolz/__init__.py,,\n",
}

UNCHANGED = {  # the upper layer holds these; neither collector reads anything of them
    "a file elsewhere": {"opt": None, "opt/app.py": "print()\n"},
    "a new file in /etc": {"etc": None, "etc/app.conf": "x=1\n"},
    "a folder copied up above a change": {"var": None, "var/lib": None, "var/lib/app": None, "var/lib/app/db": ""},
    "a pip script in /usr/local/bin": {"usr": None, "usr/local": None, "usr/local/bin": None, "usr/local/bin/t": ""},
}
CHANGED = {  # each can change an answer: the collector must run
    "dpkg's status rewritten": ({"var/lib/dpkg": None, "var/lib/dpkg/status": STATUS.replace("1.0", "1.1")}, "apt"),
    "a conffile edited": ({"etc/web": None, "etc/web/web.conf": "listen=81\n"}, "apt"),
    "a conffile deleted": ({"etc/web": None, "etc/web/.wh.web.conf": ""}, "apt"),
    "the conffile's folder made opaque": ({"etc/web": None, "etc/web/.wh..wh..opq": ""}, "apt"),
    "/var/lib deleted": ({"var": None, "var/.wh.lib": ""}, "apt"),
    "a usrmerge link replaced": ({"lib": None}, "apt"),
    "a file list edited": ({"var/lib/dpkg/info": None, "var/lib/dpkg/info/web.list": "/etc/web/web.conf\n"}, "apt"),
    "a distribution installed": (
        {f"{SITE}/six-1.16.0.dist-info": None, f"{SITE}/six-1.16.0.dist-info/METADATA": META.replace("toolz", "six")},
        "pip",
    ),
    "a RECORD edited": ({f"{SITE}/toolz-0.12.1.dist-info/RECORD": "toolz/x.py,,\n"}, "pip"),
    "a venv made": ({"opt": None, "opt/venv": None, "opt/venv/pyvenv.cfg": "home = /usr/bin\n"}, "pip"),
    "the site folder deleted": (
        {"usr/local/lib/python3.11": None, "usr/local/lib/python3.11/.wh.dist-packages": ""},
        "pip",
    ),
    "/usr/local made opaque": ({"usr/local": None, "usr/local/.wh..wh..opq": ""}, "pip"),
    "the system Python changed": ({"usr/lib/python3.11": None, "usr/lib/python3.11/EXTERNALLY-MANAGED": ""}, "pip"),
}


def answers(upper: dict[str, Member]) -> tuple[object, object, apt.AptResult, pip.PipResult]:
    layers = [layer(BASE), layer(upper)]
    scans = [x.scan() for x in layers]
    base = View(scans[:1], layers[:1])
    apt_b = apt.collect(base)
    pip_b = pip.collect(base, apt_b.owners_for, apt_b.listless_owner)
    top = View.stacked(base, scans, layers)
    touched = touched_paths(scans[1:])
    opaque = {o for s in scans[1:] for o in s.opaque}
    apt_r = reuse.same_apt(touched, opaque, base, top, apt_b)
    pip_r = reuse.same_pip(touched, opaque, base, top, pip_b, apt_r is not None)
    apt_t = apt.collect(top)
    return apt_r, pip_r, apt_t, pip.collect(top, apt_t.owners_for, apt_t.listless_owner)


@pytest.mark.parametrize("case", sorted(UNCHANGED))
def test_a_layer_that_changes_nothing_they_read_reuses_both_answers_and_they_are_right(case: str) -> None:
    apt_r, pip_r, apt_t, pip_t = answers(UNCHANGED[case])
    assert isinstance(apt_r, apt.AptResult) and isinstance(pip_r, pip.PipResult)
    assert apt_r.packages == apt_t.packages and apt_r.unknowns == apt_t.unknowns
    assert apt_r.owners_for(["/etc/web/web.conf", "/lib/web"]) == apt_t.owners_for(["/etc/web/web.conf", "/lib/web"])
    assert (pip_r.packages, pip_r.environments, pip_r.records) == (pip_t.packages, pip_t.environments, pip_t.records)


@pytest.mark.parametrize("case", sorted(CHANGED))
def test_a_layer_that_can_change_an_answer_makes_the_collector_run(case: str) -> None:
    upper, which = CHANGED[case]
    apt_r, pip_r, _, _ = answers(upper)
    assert pip_r is None  # pip's owners come from apt: never reused without it
    if which == "apt":
        assert apt_r is None
    else:  # pip's own rule says so: dpkg's answer still holds
        assert apt_r is not None


def test_the_stacked_view_is_the_merged_view() -> None:
    for upper in [*UNCHANGED.values(), *(u for u, _ in CHANGED.values())]:
        layers = [layer(BASE), layer(upper)]
        scans = [x.scan() for x in layers]
        base = View(scans[:1], layers[:1])
        base.listdir("/")  # children built: copied, then kept up to date
        stacked, fresh = View.stacked(base, scans, layers), View(scans, layers)
        assert stacked.entries == fresh.entries and stacked.layer_of == fresh.layer_of
        assert {k: v for k, v in stacked.children.items() if v} == {k: v for k, v in fresh.children.items() if v}
