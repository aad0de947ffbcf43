"""Files maintainer scripts make or remove through loops, variables and their own helpers are
the package's; a file made by hand next to them is still a finding (issue 15, item 7)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import RUN_ID, commit, drift_json, run_script

pytestmark = pytest.mark.engine

INSTALL = (
    "set -e; export DEBIAN_FRONTEND=noninteractive; apt-get update -qq;"
    " apt-get install -y -qq --no-install-recommends openssh-server postgresql-common >/dev/null;"
)


def _classes(doc: dict[str, Any]) -> dict[str, tuple[str, str, str | None]]:
    return {f["path"]: (f["change"], f["class"], f.get("reason")) for f in doc["files"]}


@pytest.fixture(scope="module")
def installed(docker_client: Any, base_image: str, cleanup: list[tuple[str, str]]) -> Any:
    script = INSTALL + (
        " mkdir -p /etc/ssh/sshd_config.d; echo hand > /etc/ssh/sshd_config.d/hand.conf;"
        " echo x > /etc/ssh/planted_key.pub; echo '// by hand' > /etc/apt/apt.conf.d/99hand"
    )
    return run_script(docker_client, base_image, script, f"drift-test-scripts-install-{RUN_ID}", cleanup)


def test_install_made_by_scripts_and_helpers(installed: Any) -> None:
    files = _classes(drift_json("inspect", installed.name))
    unexplained = {p for p, (_, klass, _) in files.items() if klass == "unexplained"}
    assert unexplained == {"/etc/ssh/sshd_config.d/hand.conf", "/etc/ssh/planted_key.pub", "/etc/apt/apt.conf.d/99hand"}
    # ssh-keygen "$file.pub" after `create_key ... /etc/ssh/ssh_host_rsa_key`
    assert files["/etc/ssh/ssh_host_rsa_key.pub"][1] == "package"
    # written by /usr/share/postgresql-common/pg_updateaptconfig (APTCONF="$APTCONFDIR/02autoremove-postgresql")
    assert files["/etc/apt/apt.conf.d/02autoremove-postgresql"][1] == "package"
    # the alias link deb-systemd-helper made from ssh.service's Alias=
    assert files["/etc/systemd/system/sshd.service"][1] == "package"


def test_purge_removed_by_postrm(docker_client: Any, installed: Any, cleanup: list[tuple[str, str]]) -> None:
    image = commit(installed, "drift-test/scripts-installed", cleanup)
    script = (
        "set -e; rm /etc/apt/apt.conf.d/99hand; export DEBIAN_FRONTEND=noninteractive;"
        " apt-get purge -y -qq openssh-server postgresql-common >/dev/null; rm /etc/ssh/ssh_config"
    )
    purged = run_script(
        docker_client, image, script, f"drift-test-scripts-purge-{RUN_ID}", cleanup, network_mode="none"
    )
    files = _classes(drift_json("inspect", purged.name))
    for path in (
        "/etc/ssh/ssh_host_rsa_key",  # rm -f /etc/ssh/ssh_host_rsa_key /etc/ssh/ssh_host_rsa_key.pub
        "/etc/ssh/ssh_host_ed25519_key.pub",
        "/etc/apt/apt.conf.d/02autoremove-postgresql",  # rm -f /etc/apt/apt.conf.d/02autoremove-postgresql*
        "/etc/postgresql-common/root.crt",  # rm -rf /etc/postgresql-common/root.crt
        "/etc/postgresql-common/createcluster.conf",  # rm -f $CCCONFIG (CCCONFIG=/etc/...)
    ):
        assert files[path] == ("deleted", "package", "removed by the package's maintainer scripts"), path
    assert files["/etc/ssh/ssh_config"][:2] == ("deleted", "unexplained")  # openssh-client's, removed by hand
    assert files["/etc/apt/apt.conf.d/99hand"][:2] == ("deleted", "unexplained")
