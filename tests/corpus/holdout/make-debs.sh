#!/bin/bash
# Rebuilds the two stand-in .deb files of the held-out corpus (trr-labs-local-deb,
# mordicus-dpkg-i) with dpkg-deb inside drift-base:bookworm. They are committed; this only
# records how they were made.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
cd "$D"
mkdir -p laba3/DEBIAN laba3/usr/bin laba3/usr/share/doc/laba3
cat > laba3/usr/bin/laba3 <<'EOF'
#!/bin/sh
# laba3: integrates x^2 on [0, 1] with the trapezoid rule (stand-in for the lab's C++ program)
n=${1:-100}
echo "scale=6; h=1/$n; s=0; for (i=1; i<$n; i++) s+=(i*h)^2; (s + 0.5)*h" | bc
EOF
chmod 755 laba3/usr/bin/laba3
printf 'laba3 (1.0) lab: stand-in\n' > laba3/usr/share/doc/laba3/README
cat > laba3/DEBIAN/control <<'EOF'
Package: laba3
Version: 1.0
Section: misc
Priority: optional
Architecture: all
Depends: bc
Maintainer: Lab Student <student@example.org>
Description: laboratory work 3
 Numerical integration lab program.
EOF
(cd laba3 && find usr -type f -exec md5sum {} + > DEBIAN/md5sums)
P=mordicus/usr/lib/python3/dist-packages
mkdir -p mordicus/DEBIAN $P/Mordicus $P/Mordicus-0.1.dist-info
cat > $P/Mordicus/__init__.py <<'EOF'
"""Mordicus: model order reduction (stand-in)."""
import numpy as np

__version__ = "0.1"


def pod(snapshots, rank):
    u, s, _ = np.linalg.svd(np.asarray(snapshots), full_matrices=False)
    return u[:, :rank], s[:rank]
EOF
printf 'Metadata-Version: 2.1\nName: Mordicus\nVersion: 0.1\nSummary: model order reduction\nRequires-Dist: numpy\n' > $P/Mordicus-0.1.dist-info/METADATA
printf 'debian\n' > $P/Mordicus-0.1.dist-info/INSTALLER
printf 'Mordicus\n' > $P/Mordicus-0.1.dist-info/top_level.txt
cat > mordicus/DEBIAN/control <<'EOF'
Package: python3-mordicus
Version: 0.1-1
Section: python
Priority: optional
Architecture: all
Depends: python3, python3-numpy
Maintainer: Feel++ <feelpp-devel@example.org>
Description: model order reduction tools (Python 3)
 Stand-in package of the Mordicus library.
EOF
(cd mordicus && find usr -type f -exec md5sum {} + > DEBIAN/md5sums)
docker run --rm -v "$D:/d" -w /d drift-base:bookworm sh -c \
  "dpkg-deb --root-owner-group --build laba3 laba3_1.0_all.deb && dpkg-deb --root-owner-group --build mordicus python3-mordicus_0.1-1_all.deb && chown $(id -u) *.deb"
cp laba3_1.0_all.deb "$HERE/trr-labs-local-deb/"
cp python3-mordicus_0.1-1_all.deb "$HERE/mordicus-dpkg-i/"
