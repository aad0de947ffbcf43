from __future__ import annotations

from drift.inventory import runtime
from drift.model import FileChange
from tests.unit.helpers import tar_layer, view_of

ATTRS = {
    "Mounts": [
        {"Type": "volume", "Destination": "/data/vol"},
        {"Type": "bind", "Destination": "/etc/app/conf.ini"},
    ],
    "HostConfig": {"Tmpfs": {"/scratch/tmp": ""}, "Init": True},
    "Config": {"WorkingDir": "/newdir/sub/"},
}


def _added(path: str, kind: str = "dir", size: int = 0) -> FileChange:
    return FileChange(path, "added", kind, size, 0o755, 0, 0, "unexplained")


def test_run_paths_from_docker_inspect() -> None:
    paths = runtime.run_paths(ATTRS)
    assert set(paths) == {"/data/vol", "/etc/app/conf.ini", "/scratch/tmp", "/newdir/sub", "/sbin/docker-init"}
    assert all(why.startswith(runtime.REASON) for why in paths.values())
    assert runtime.run_paths({}) == {}


def test_made_by_run_is_noise_and_hand_made_stays() -> None:
    view = view_of(tar_layer({"usr": None, "usr/sbin": None}, links={"sbin": "usr/sbin"}))
    changes = [
        _added("/data"),
        _added("/data/vol"),
        _added("/etc/app/conf.ini", "file"),
        _added("/newdir"),
        _added("/newdir/sub"),
        _added("/newdir/sub/notes.txt", "file", 5),  # written by hand in the working folder
        _added("/usr/sbin/docker-init", "file"),
        _added("/opt/handmade"),
        _added("/etc/app/other.ini", "file", 3),
    ]
    out = {f.path: f for f in runtime.mark_run_paths(changes, ATTRS, view)}
    for path in ("/data", "/data/vol", "/etc/app/conf.ini", "/newdir", "/newdir/sub", "/usr/sbin/docker-init"):
        assert out[path].klass == "noise", path
        assert (out[path].reason or "").startswith(runtime.REASON)
    for path in ("/newdir/sub/notes.txt", "/opt/handmade", "/etc/app/other.ini"):
        assert out[path].klass == "unexplained", path


def test_a_file_with_content_at_a_mount_point_is_not_hidden() -> None:
    changes = [
        _added("/etc/app/conf.ini", "file", 12),
        FileChange("/data/vol", "modified", "dir", 0, 0o700, 0, 0, "unexplained"),
    ]
    out = runtime.mark_run_paths(changes, ATTRS, view_of(tar_layer({"etc": None})))
    assert [f.klass for f in out] == ["unexplained", "unexplained"]


def test_an_image_volume_mount_point_is_the_engines_but_not_what_is_in_it() -> None:
    view = view_of(tar_layer({"home": None}))
    changes = [
        _added("/home/app"),
        _added("/home/app/.data"),
        _added("/home/app/.data/dropped", "file", 7),
        _added("/srv/volfile", "file", 9),  # a VOLUME over a file with content: not hidden
    ]
    out = {f.path: f for f in runtime.mark_volume_points(changes, ("/home/app/.data", "/srv/volfile"), view)}
    assert out["/home/app/.data"].klass == "noise" and out["/home/app/.data"].reason == runtime.VOLUME_REASON
    assert out["/home/app"].klass == "noise" and "/home/app/.data" in (out["/home/app"].reason or "")
    assert out["/home/app/.data/dropped"].klass == "unexplained"
    assert out["/srv/volfile"].klass == "unexplained"
    assert runtime.mark_volume_points(changes, (), view) == changes
