"""What RUN lines explain that the audit used to miss: build dependencies purged again,
homes made by account commands, files written without being named, reserved words."""

from __future__ import annotations

from drift.dockerfile.shell import analyse

SAVED_APT_MARK = """set -eux; savedAptMark="$(apt-mark showmanual)"; apt-get update;
apt-get install -y --no-install-recommends dpkg-dev wget python3-minimal;
apt-mark auto '.*' > /dev/null; apt-mark manual $savedAptMark; apt-mark manual python3-minimal;
apt-get purge -y --auto-remove -o APT::AutoRemove::RecommendsImportant=false"""


def test_build_dependencies_of_the_saved_apt_mark_pattern_are_transient() -> None:
    found = analyse(SAVED_APT_MARK)
    assert {a.name: a.transient for a in found.apt_install} == {
        "dpkg-dev": True,
        "wget": True,
        "python3-minimal": False,
    }


def test_installs_without_the_reset_stay_declared() -> None:
    found = analyse("apt-get install -y wget && apt-get purge -y --auto-remove curl")
    assert [(a.name, a.transient) for a in found.apt_install] == [("wget", False)]


def test_account_commands_explain_the_homes_they_make() -> None:
    assert "/home/django" in analyse("useradd -m -s /bin/bash django").paths
    assert "/srv/app" in analyse("useradd --create-home --home-dir /srv/app app").paths
    assert "/home/bob" in analyse("adduser --disabled-password --gecos Bob bob").paths
    assert not any(p.startswith("/home") for p in analyse("useradd -r -g redis redis").paths)
    assert not any(p.startswith("/home") for p in analyse("adduser --system --no-create-home x").paths)


def test_commands_that_write_files_without_naming_them() -> None:
    assert "/usr/lib/locale/locale-archive" in analyse("locale-gen").paths
    found = analyse("sed -i.bak 's/a/b/' /etc/x.conf && sed --in-place=.orig 's/a/b/' /etc/y.conf")
    assert {"/etc/x.conf", "/etc/x.conf.bak", "/etc/y.conf", "/etc/y.conf.orig"} <= set(found.paths)
    assert "/etc/apache2/mods-enabled" in analyse("a2enmod rewrite").paths


def test_owner_and_mode_changes_are_not_content_writes() -> None:
    found = analyse("chown -R app:app /app && chmod 600 /etc/secret")
    assert found.paths == [] and found.meta_paths == ["/app", "/etc/secret"]


def test_commands_after_reserved_words_are_read() -> None:
    script = (
        "if ! command -v psql > /dev/null; then apt-get install -y postgresql-client; fi; "
        "for u in a b; do useradd -m alice; done; { echo x; } > /etc/x; "
        "while false; do pip install six; done"
    )
    found = analyse(script)
    assert [a.name for a in found.apt_install] == ["postgresql-client"]
    assert found.accounts and "/home/alice" in found.paths and "/etc/x" in found.paths
    assert [p.spec for p in found.pip_install] == ["six"]


def test_sourcing_a_settings_file_is_not_an_unknown() -> None:
    assert not analyse(". /etc/apache2/envvars && mkdir -p /x").unknown_any
    assert analyse(". ./install.sh").unknown_any
