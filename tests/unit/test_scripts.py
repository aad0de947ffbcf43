"""drift.inventory.scripts: what maintainer scripts name, read without running them."""

from __future__ import annotations

import time

from drift.inventory import scripts


def _made(texts: dict[str, str], path: str) -> str | None:
    return scripts.made_by(scripts.index(texts), [path])


def _removed(texts: dict[str, str], path: str) -> str | None:
    return scripts.removed_by([scripts.index(texts)], [path])


def test_loops_variables_and_braces() -> None:
    text = """#!/bin/sh
set -e
for f in a b c; do touch /etc/foo/$f; done
for d in /var/lib/x /var/log/y; do mkdir -p "$d"; done
for i in cert key
do
    openssl x -out "/etc/ssl/${i}.pem"
done
DIR=/var/lib/foo; mkdir $DIR/cache
touch /etc/bar/{one,two}.conf
cat > "$DPKG_ROOT"/etc/baz.conf
local CONF="${CONFDIR:-/etc/qux}/q.conf"; touch "$CONF"
"""
    n = scripts.names(text)
    for path in (
        "/etc/foo/a",
        "/etc/foo/c",
        "/var/lib/x",
        "/var/log/y",
        "/etc/ssl/cert.pem",
        "/etc/ssl/key.pem",
        "/var/lib/foo/cache",
        "/etc/bar/one.conf",
        "/etc/bar/two.conf",
        "/etc/baz.conf",
        "/etc/qux/q.conf",
    ):
        assert path in n.paths, path
    assert "/etc/foo/d" not in n.paths and "/etc/foo/$f" not in n.paths


def test_unknown_values_name_nothing() -> None:
    text = """
X="$(cat /etc/fromsub)"
touch "$X/planted" $1/etc/pos /etc/$UNSET
for z in *; do rm -rf /$z; done
rm -rf /
rm -rf $UNKNOWN/
echo '$HOME/literal'
"""
    n = scripts.names(text)
    assert "/etc/fromsub" in n.paths  # a literal inside a command substitution still counts
    assert not {"/planted", "/etc/pos", "/"} & n.paths  # (/etc itself is named: it explains that folder only)
    assert not n.globs and not n.removed_globs and n.removed == frozenset()
    texts = {"evil": text}
    for path in ("/etc/passwd", "/etc/shadow", "/usr/bin/x", "/root/.ssh/authorized_keys", "/etc/pos"):
        assert _made(texts, path) is None and _removed(texts, path) is None


def test_prefixes_and_globs_stay_narrow() -> None:
    texts = {
        "foo": """
mkdir -p /var/lib/foo /etc/foo
rm -rf /var/lib/foo/cache/*
chmod 644 /etc/foo/*.conf
rm -f /etc/*
rm -rf /usr/*
""",
    }
    assert _made(texts, "/var/lib/foo/db/x") == "foo"  # a package's state folder
    assert _made(texts, "/etc/foo") == "foo"
    assert _made(texts, "/etc/foo/hand.sh") is None  # never everything under a folder of /etc
    assert _made(texts, "/etc/foo/a.conf") == "foo"  # the glob's own pattern
    assert _made(texts, "/var/lib/bar") is None and _made(texts, "/usr/bin/x") is None
    assert _removed(texts, "/var/lib/foo/cache/old") == "foo"
    assert _removed(texts, "/etc/passwd") is None and _removed(texts, "/usr/bin/x") is None
    assert _removed(texts, "/var/lib/foo") is None  # named, not removed


def test_suffix_joins_only_named_paths() -> None:
    texts = {
        "openssh-server": """
create_key() { file="$1"; ssh-keygen -q -f "$file" -N ''; ssh-keygen -l -f "$file.pub"; }
create_key /etc/ssh/ssh_host_rsa_key -t rsa
rm -f "$conf.dpkg-old"
""",
    }
    assert _made(texts, "/etc/ssh/ssh_host_rsa_key.pub") == "openssh-server"
    assert _made(texts, "/etc/ssh/planted_key.pub") is None
    assert _removed(texts, "/etc/ssh/ssh_host_rsa_key.dpkg-old") == "openssh-server"
    assert _removed(texts, "/etc/ssh/ssh_host_rsa_key.pub") is None


def test_removals() -> None:
    texts = {
        "pg": """
if [ "$1" = purge ]; then
    rm -rf /var/lib/pgx /etc/pgx/root.crt
    CCCONFIG=/etc/pgx/createcluster.conf
    rm -f $CCCONFIG $CCCONFIG.ucf-*
    mv /etc/pgx/old.conf /etc/pgx/new.conf
    dpkg-maintscript-helper rm_conffile /etc/pgx/gone 1.0 pg -- "$@"
fi
"""
    }
    for path in (
        "/var/lib/pgx",
        "/etc/pgx/root.crt",
        "/etc/pgx/createcluster.conf",
        "/etc/pgx/old.conf",
        "/etc/pgx/gone",
    ):
        assert _removed(texts, path) == "pg", path
    assert _removed(texts, "/etc/pgx/createcluster.conf.ucf-dist") == "pg"
    assert _removed(texts, "/etc/pgx/new.conf") is None


def test_helpers_from_the_package_itself() -> None:
    shipped = {
        "pg": ["/usr/share/pg/update-conf", "/usr/sbin/pg-setup", "/usr/lib/tmpfiles.d/pg.conf", "/usr/share/doc/pg/x"],
    }
    files = {
        "/usr/share/pg/update-conf": b'#!/bin/sh\nD="/etc/apt/apt.conf.d"\necho > "$D/02pg"\n',
        "/usr/sbin/pg-setup": b"#!/bin/sh\n/usr/share/pg/level2\n",
        "/usr/lib/tmpfiles.d/pg.conf": b"d /var/lib/pgdata 0700 root root -\n",
        "/usr/share/doc/pg/x": b"#!/bin/sh\ntouch /etc/not-a-helper\n",
    }
    text = "/usr/share/pg/update-conf\npg-setup --init\nsystemd-tmpfiles --create pg.conf\n"
    out = scripts.with_helpers({"pg": text}, lambda name: shipped[name], files.get)
    texts = {"pg": out["pg"]}
    assert _made(texts, "/etc/apt/apt.conf.d/02pg") == "pg"
    assert _made(texts, "/var/lib/pgdata") == "pg"
    assert _made(texts, "/etc/not-a-helper") is None  # not named by the script
    binary = scripts.with_helpers(
        {"pg": "/usr/share/pg/update-conf"}, lambda n: shipped[n], lambda p: b"\x7fELF\0/etc/x"
    )
    assert binary == {"pg": "/usr/share/pg/update-conf"}


def test_hostile_scripts_stay_bounded() -> None:
    loop = "for x in " + " ".join(f"a{i}" for i in range(100_000)) + "; do touch /etc/foo/$x/$x/$x; done\n"
    braces = "A=/var/lib/q/{a,b,c,d}{e,f,g,h}{i,j,k,l}{m,n,o,p}\n" * 2000
    products = "for a in 1 2 3 4 5 6 7 8; do :; done\nb=$a$a\nc=$b$b\n" + "touch /etc/x/$a$b$c\n" * 40_000
    quotes = ("'''\"\"\"\\$(`" * 100_000)[: 1 << 20]
    for text in ((loop + braces)[: 1 << 20], products, quotes):
        start = time.perf_counter()
        n = scripts.names(text)
        assert time.perf_counter() - start < 10
        assert len(n.paths) <= scripts.MAX_NAMES
    assert len(scripts.names(loop).paths) <= scripts.MAX_VALUES + 1
