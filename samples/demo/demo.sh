#!/usr/bin/env bash
# The story drift exists for, on a real engine:
#   a container patched by hand, committed and shipped; what does it hold that no file says?
set -euo pipefail
cd "$(dirname "$0")"
BASE=${DRIFT_BASE_IMAGE:-drift-base:bookworm}
NAME=drift-demo
IMAGE=drift-demo/app:handmade
OUT=${DRIFT_DEMO_OUT:-../../demo-out}

say() { printf '\n\033[1m### %s\033[0m\n' "$*"; }

say "1. A developer starts a container from $BASE and installs what the app needs by hand"
docker rm -f "$NAME" >/dev/null 2>&1 || true
docker run -d --name "$NAME" --network host "$BASE" sleep infinity >/dev/null
echo "\$ docker exec $NAME bash -c '<handmade.sh>'"
sed 's/^/    /' handmade.sh | grep -v '^    #'
docker exec "$NAME" bash -c "$(cat handmade.sh)" >/dev/null 2>&1

say "2. ... then commits it and ships the image"
echo "\$ docker commit $NAME $IMAGE"
old=$(docker image inspect -f '{{.Id}}' "$IMAGE" 2>/dev/null || true)
docker commit -m "works on my machine" "$NAME" "$IMAGE" >/dev/null
docker rm -f "$NAME" >/dev/null
# the image an earlier `make demo` left, now untagged: removed, so that runs do not pile up
if [ -n "$old" ] && [ "$old" != "$(docker image inspect -f '{{.Id}}' "$IMAGE")" ]; then
  docker rmi "$old" >/dev/null 2>&1 || true
fi

say "3. Months later: what is in it that no file documents?"
echo "\$ drift inspect $IMAGE"
drift inspect "$IMAGE" | awk '/^== Python environments/{exit} {print}'
mkdir -p "$OUT"
drift inspect "$IMAGE" --format json -o "$OUT/inventory.json"
echo "(full inventory as JSON: $OUT/inventory.json)"

say "4. drift writes the Dockerfile that rebuilds it, then proves it by rebuilding"
echo "\$ drift snapshot $IMAGE -o $OUT/snapshot --force --verify --network host"
drift snapshot "$IMAGE" -o "$OUT/snapshot" --force --verify --network host
echo
echo "\$ cat $OUT/snapshot/Dockerfile   (long package lists shortened here)"
awk '
  /^      [^ ]+=[^ ]+ \\$/ { n++; if (n <= 4) print; else skipped++; next }
  { if (skipped) { printf "      ... (%d more pinned packages)\n", skipped; skipped = 0 } n = 0; print }
' "$OUT/snapshot/Dockerfile"

say "5. The team wrote a Dockerfile from memory. drift audits the image against it"
echo "\$ drift diff $IMAGE Dockerfile"
set +e
drift diff "$IMAGE" Dockerfile
code=$?
set -e
echo "(exit code $code: 1 means drift)"
echo
echo "\$ drift diff $IMAGE Dockerfile --patch   (what the Dockerfile is missing)"
drift diff "$IMAGE" Dockerfile --patch || true

say "6. The ops view: drift report over a small fleet, every hour, with history"
FLEET=(drift-demo-web-1 drift-demo-web-2 drift-demo-worker)
mkdir -p "$OUT"
OUT_ABS=$(cd "$OUT" && pwd)
export DRIFT_STORE="$OUT_ABS/history.sqlite"
rm -f "$DRIFT_STORE" "$DRIFT_STORE"-* "$DRIFT_STORE".*
for c in "${FLEET[@]}"; do
  docker rm -f "$c" >/dev/null 2>&1 || true
  docker run -d --name "$c" --label drift.demo=fleet --network host "$BASE" sleep infinity >/dev/null
done
trap 'docker rm -f "${FLEET[@]}" >/dev/null 2>&1 || true' EXIT
echo "\$ drift report --filter label=drift.demo=fleet      (the first run records a baseline)"
drift report --filter label=drift.demo=fleet
echo
echo "(someone fixes things by hand in production ...)"
echo "\$ docker exec drift-demo-web-2 apt-get install tree;  docker exec drift-demo-worker sh -c 'echo debug=1 > /etc/worker.conf'"
docker exec drift-demo-web-2 bash -c 'apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends tree' >/dev/null 2>&1
docker exec drift-demo-worker sh -c 'echo debug=1 > /etc/worker.conf'
outputs=(-o "json:$OUT/report.json" -o "html:$OUT/report.html" -o "markdown:$OUT/report.md")
echo "\$ drift report --filter label=drift.demo=fleet ${outputs[*]}"
set +e
drift report --filter label=drift.demo=fleet "${outputs[@]}"
code=$?
set -e
echo "(exit code $code: 1 means new drift since the last run)"
echo
echo "\$ drift history"
drift history
echo "(the report: $(ls "$OUT"/report.* | tr '\n' ' '))"
echo
echo "(left for you to try drift on: the image $IMAGE; remove it with: docker rmi $IMAGE)"
