"""containerd's descriptions turned into drift's (no containerd needed): snapshot mounts to
layer folders, a spec to a container config, the kubelet's labels to a name, URLs and names."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from drift.errors import DriftError
from drift.inventory import runtime
from drift.report.engines import from_config, host_endpoint, host_name
from drift.sources import containerd


def _mount(kind: str, source: str, *options: str) -> SimpleNamespace:
    return SimpleNamespace(type=kind, source=source, options=list(options))


def test_overlay_options_give_lower_folders_bottom_first_and_the_upper() -> None:
    mounts = [
        _mount(
            "overlay",
            "overlay",
            "index=off",
            "workdir=/s/9/work",
            "upperdir=/s/9/fs",
            "lowerdir=/s/3/fs:/s/2/fs:/s/1/fs",
        )
    ]
    assert containerd.overlay_dirs(mounts) == (["/s/1/fs", "/s/2/fs", "/s/3/fs"], "/s/9/fs")
    # a snapshot without parents is one folder, bound
    assert containerd.overlay_dirs([_mount("bind", "/s/1/fs", "rbind", "rw")]) == ([], "/s/1/fs")


def test_names_from_the_kubelets_labels_else_the_id() -> None:
    labels = {containerd.POD_NAMESPACE: "shop", containerd.POD_NAME: "web-7d9f", containerd.CONTAINER_NAME: "app"}
    assert containerd.display_name("abc", labels) == "shop/web-7d9f/app"
    assert containerd.display_name("abc", {containerd.POD_NAME: "web-7d9f"}) == "abc"
    assert containerd.split_namespace("k8s.io/abc") == ("k8s.io", "abc")
    assert containerd.split_namespace("k8s.io/shop/web-7d9f/app") == ("k8s.io", "shop/web-7d9f/app")
    assert containerd.split_namespace("shop/web-7d9f/app") == (None, "shop/web-7d9f/app")
    assert containerd.split_namespace("abc") == (None, "abc")


def test_short_image_names_are_spelt_as_containerd_stores_them() -> None:
    assert containerd.normalized("drift-base:bookworm") == "docker.io/library/drift-base:bookworm"
    assert containerd.normalized("debian") == "docker.io/library/debian:latest"
    assert containerd.normalized("bitnami/redis:7") == "docker.io/bitnami/redis:7"
    assert containerd.normalized("registry.k8s.io/pause:3.9") == "registry.k8s.io/pause:3.9"
    assert containerd.normalized("localhost:5000/app") == "localhost:5000/app:latest"


def test_the_spec_becomes_a_docker_shaped_config() -> None:
    image = {"Env": ["PATH=/bin"], "Cmd": ["bash"], "Entrypoint": None, "Labels": {"a": "1"}}
    process = {"args": ["sleep", "3600"], "env": ["PATH=/bin", "HOSTNAME=node-1", "MODE=prod"], "cwd": "/"}
    labels = {"io.containerd.image.config.stop-signal": "SIGTERM", containerd.POD_NAME: "web", "app": "shop"}
    cfg = containerd.run_config(process, image, labels, "docker.io/library/x:1")
    assert cfg["Cmd"] == ["sleep", "3600"] and not cfg["Entrypoint"]
    assert cfg["Env"] == ["PATH=/bin", "MODE=prod"]  # the runtime's HOSTNAME is not the deployment's
    assert cfg["WorkingDir"] == ""  # "/" is the runtime's default cwd, not a WORKDIR
    assert cfg["Labels"] == {"a": "1", "app": "shop"}  # the kubelet's and containerd's own labels left out
    assert cfg["Image"] == "docker.io/library/x:1" and cfg["User"] == ""
    # an argv that begins with the image's entrypoint: the rest is the command
    image = {"Entrypoint": ["/init"], "Cmd": ["serve"]}
    cfg = containerd.run_config({"args": ["/init", "serve"], "user": {"uid": 1000, "gid": 1000}}, image, {}, "x")
    assert (cfg["Entrypoint"], cfg["Cmd"], cfg["User"]) == (["/init"], ["serve"], "1000:1000")


def test_kubernetes_mount_points_are_the_pods() -> None:
    attrs = {
        "_drift_made_by": "kubernetes",
        "Mounts": [
            {"Type": "bind", "Destination": "/var/run/secrets/kubernetes.io/serviceaccount"},
            {"Type": "bind", "Destination": "/etc/hosts"},
            {"Type": "bind", "Destination": "/srv/data/"},
        ],
    }
    paths = runtime.run_paths(attrs)
    assert set(paths) == {"/var/run/secrets/kubernetes.io/serviceaccount", "/etc/hosts", "/srv/data"}
    assert all(why.startswith(runtime.KUBE_REASON) for why in paths.values())
    assert "service-account token" in paths["/var/run/secrets/kubernetes.io/serviceaccount"]
    # a Docker container's are still docker run's
    assert runtime.run_paths({"Mounts": attrs["Mounts"]})["/etc/hosts"].startswith(runtime.REASON)


def test_containerd_urls_for_report(tmp_path: Path) -> None:
    assert host_name("containerd:///run/containerd/containerd.sock") == "/run/containerd/containerd.sock"
    assert host_endpoint("containerd:///tmp/x.sock", "--host").host == "containerd:///tmp/x.sock"
    with pytest.raises(DriftError, match="containerd:///PATH"):
        host_endpoint("containerd://relative.sock", "--host")
    config = tmp_path / "drift.toml"
    config.write_text('[[engine]]\nname = "node-1"\nhost = "containerd:///run/containerd/containerd.sock"\n')
    (spec,) = from_config(str(config))
    assert (spec.name, spec.endpoint.host) == ("node-1", "containerd:///run/containerd/containerd.sock")
    engine = containerd.Engine(spec.endpoint)
    assert (engine.address, engine.namespace) == ("/run/containerd/containerd.sock", "k8s.io")


def test_label_filters_only() -> None:
    from drift.sources.containerd.engine import _Api
    from drift.sources.contexts import Endpoint

    api = _Api(containerd.Engine(Endpoint("", "containerd:///nonexistent.sock", "test")))
    with pytest.raises(DriftError, match="label=KEY"):
        api.containers(filters={"name": ["web"]})
    assert containerd.all_labels({"a": "1", "b": "2"}, [("a", "1"), ("b", None)])
    assert not containerd.all_labels({"a": "1"}, [("a", "2")])


class _Described:
    """An engine that only describes (a container and its image), for container_source alone."""

    address, namespace = "/nonexistent.sock", "k8s.io"

    def __init__(self, image: dict[str, object]) -> None:
        self.image = image

    def find_image(self, ref: str) -> dict[str, object]:
        return self.image


def _attrs(lower: list[str], upper: str) -> dict[str, object]:
    return {
        "Id": "abc",
        "Image": "sha256:" + "1" * 64,
        "Config": {"Image": "docker.io/library/x:1"},
        "GraphDriver": {"Name": "overlayfs", "Data": {"LowerDir": ":".join(reversed(lower)), "UpperDir": upper}},
    }


def test_lower_folders_are_layers_by_diff_id_only_when_they_are_one_per_layer(tmp_path: Path) -> None:
    import contextlib

    folders = []
    for name in ("l1", "l2", "up"):
        (tmp_path / name).mkdir()
        folders.append(str(tmp_path / name))
    ids = ["sha256:" + "a" * 64, "sha256:" + "b" * 64]
    image = {"Id": "sha256:" + "1" * 64, "RootFS": {"Layers": ids}, "_config": {}}
    engine: Any = _Described(image)
    with contextlib.ExitStack() as stack:
        src = containerd.container_source(engine, "abc", stack, resolved_by="t", attrs=_attrs(folders[:2], folders[2]))
        assert [layer.digest for layer in src.layers] == [*ids, None]
        assert src.layer_ids == [*ids, "container:abc"] and src.base_layers == 2
        # one folder for two layers: no digest is given to it, and no layer prefix can match
        src = containerd.container_source(engine, "abc", stack, resolved_by="t", attrs=_attrs(folders[:1], folders[2]))
        assert [layer.digest for layer in src.layers] == [None, None]
        assert src.layer_ids[0].startswith("containerd-snapshot:") and src.base_layers == 1


def test_the_service_account_mount_point_through_var_run_is_the_pods() -> None:
    """On a node (no tmpfs on /run, unlike `ctr run`'s spec), runc makes the token's mount point
    through the image's /var/run -> /run link: those folders are Kubernetes', a file beside is not."""
    from drift.model import FileChange
    from tests.unit.helpers import tar_layer, view_of

    view = view_of(tar_layer({"run": None, "etc": None}, links={"var/run": "/run"}))
    attrs = {
        "_drift_made_by": "kubernetes",
        "Mounts": [{"Type": "bind", "Destination": "/var/run/secrets/kubernetes.io/serviceaccount"}],
    }

    def added(path: str, kind: str = "dir", size: int = 0) -> FileChange:
        return FileChange(path, "added", kind, size, 0o755, 0, 0, "unexplained")

    made = ["/run/secrets", "/run/secrets/kubernetes.io", "/run/secrets/kubernetes.io/serviceaccount"]
    changes = [added(p) for p in made] + [added("/run/secrets/by-hand.txt", "file", 3)]
    out = {f.path: f for f in runtime.mark_run_paths(changes, attrs, view)}
    for path in made:
        assert out[path].klass == "noise" and (out[path].reason or "").startswith(runtime.KUBE_REASON), out[path]
    assert out["/run/secrets/by-hand.txt"].klass == "unexplained"


def test_a_restarted_pod_container_is_the_one_that_runs() -> None:
    pytest.importorskip(
        "google.protobuf", reason="protobuf (a dependency since containerd) is not installed: make venv"
    )
    from drift.sources.containerd_api import containerd_pb2 as pb

    labels = {containerd.POD_NAMESPACE: "shop", containerd.POD_NAME: "web", containerd.CONTAINER_NAME: "app"}
    old, new, other = pb.Container(id="old", labels=labels), pb.Container(id="new", labels=labels), pb.Container(id="x")
    old.created_at.seconds, new.created_at.seconds = 100, 200
    assert {c.id for c in containerd.current([old, new, other], {"old": "running", "new": "stopped"})} == {"old", "x"}
    assert {c.id for c in containerd.current([old, new, other], {})} == {"new", "x"}
