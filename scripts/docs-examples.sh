#!/usr/bin/env bash
# The example outputs the documentation shows, from real runs on a real engine: the story of
# `make demo` (samples/demo), then a few more commands. Each example is written to
# docs/examples/NAME.txt as "$ COMMAND" followed by what it printed (stdout and stderr, in order),
# and "(exit code N)" when that is not 0. The pages include these files (pymdownx.snippets), and
# scripts/docs-readme.py copies the short ones into README.md. Nothing here is pasted by hand.
#
#   make docs-examples          (= bash scripts/docs-examples.sh, with drift on PATH)
#
# Needs: a Docker engine, the base image ($DRIFT_BASE_IMAGE, made by scripts/base-image.sh), and
# network for apt and pip inside containers (--network host). It makes the demo's container and
# image (drift-demo, drift-demo/app:handmade, as `make demo` does) and its three fleet containers,
# plus drift-docs-* containers and images, and removes all but the demo image (which `make demo`
# leaves too). Outputs are written to demo-out/ (ignored by git).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BASE=${DRIFT_BASE_IMAGE:-drift-base:bookworm}
EX=docs/examples
OUT=demo-out
NAME=drift-demo
IMAGE=drift-demo/app:handmade
FLEET=(drift-demo-web-1 drift-demo-web-2 drift-demo-worker)
AWKWARD=drift-docs-awkward
export PYTHONUNBUFFERED=1 COLUMNS=120 DRIFT_STORE="$ROOT/$OUT/history.sqlite"

cleanup() {
  docker rm -f "$NAME" "${FLEET[@]}" "$AWKWARD" >/dev/null 2>&1 || true
  docker rmi "$AWKWARD:1" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# example NAME COMMAND [FILTER]: run COMMAND (a shell command line, run from the project root),
# write "$ COMMAND", its output (through FILTER, a shell command, if given) and a non-zero exit
# code to docs/examples/NAME.txt.
example() {
  local name=$1 cmd=$2 filter=${3:-cat} code=0
  local raw
  raw=$(mktemp)
  (eval "$cmd") >"$raw" 2>&1 || code=$?
  {
    printf '$ %s\n' "$cmd"
    eval "$filter" <"$raw"
    [ "$code" = 0 ] || printf '(exit code %s)\n' "$code"
  } >"$EX/$name.txt"
  rm -f "$raw"
  echo "docs-examples: $EX/$name.txt (exit $code)" >&2
}

# session NAME: run each line of stdin as a command line, writing each as "$ LINE" followed by
# its output (and a non-zero exit code) to docs/examples/NAME.txt.
session() {
  local name=$1 line code
  : >"$EX/$name.txt"
  while IFS= read -r line; do
    printf '$ %s\n' "$line" >>"$EX/$name.txt"
    code=0
    (eval "$line") </dev/null >>"$EX/$name.txt" 2>&1 || code=$?
    [ "$code" = 0 ] || printf '(exit code %s)\n' "$code" >>"$EX/$name.txt"
  done
  echo "docs-examples: $EX/$name.txt" >&2
}

# drift names a base by its first tag: another tag on the base image (a test's, a registry's)
# would show in every example instead of $BASE
tags=$(docker image inspect -f '{{join .RepoTags " "}}' "$BASE")
if [ "$tags" != "$BASE" ]; then
  echo "docs-examples: warning: $BASE also carries the tags '$tags'; the examples will name the first one" >&2
fi

mkdir -p "$EX" "$OUT"
rm -f "$EX"/*.txt

# 1. A developer starts a container from the base and installs what the app needs by hand,
#    then commits it (samples/demo/handmade.sh, as `make demo` runs it).
docker rm -f "$NAME" >/dev/null 2>&1 || true
docker run -d --name "$NAME" --network host "$BASE" sleep infinity >/dev/null
docker exec "$NAME" bash -c "$(cat samples/demo/handmade.sh)" >/dev/null 2>&1
old=$(docker image inspect -f '{{.Id}}' "$IMAGE" 2>/dev/null || true)
docker commit -m "works on my machine" "$NAME" "$IMAGE" >/dev/null
docker rm -f "$NAME" >/dev/null
if [ -n "$old" ] && [ "$old" != "$(docker image inspect -f '{{.Id}}' "$IMAGE")" ]; then
  docker rmi "$old" >/dev/null 2>&1 || true
fi

# 2. inspect: the whole table output up to the long lists (the demo cuts it at the same place)
cut_lists='awk '\''/^== Python environments/{print "...  (then: Python environments, the full apt and pip lists)"; exit} {print}'\'''
example inspect "drift inspect $IMAGE" "$cut_lists"
example inspect-summary "drift inspect $IMAGE" 'awk '\''/^== Unexplained/{n=1} n&&/^$/{print "..."; exit} {print}'\'''
example inspect-json "drift inspect $IMAGE --format json -o $OUT/inventory.json && python3 -m json.tool $OUT/inventory.json | sed -n 1,12p"

# 3. snapshot, verified by a rebuild; then the Dockerfile it wrote, long package lists shortened
example snapshot "drift snapshot $IMAGE -o $OUT/snapshot --force --verify --network host"
shorten='awk '\''
  /^      [^ ]+=[^ ]+ \\$/ { n++; if (n <= 4) print; else skipped++; next }
  marks && /^      / { if (!cut) print "      ... (shortened here)"; cut = 1; next }
  { if (skipped) { printf "      ... (%d more pinned packages: shortened here)\n", skipped; skipped = 0 }
    n = 0; marks = /apt-mark auto/; cut = 0; print }
'\'''
example snapshot-dockerfile "cat $OUT/snapshot/Dockerfile" "$shorten"

# 4. diff against the Dockerfile the team wrote from memory (samples/demo/Dockerfile)
example diff "cd samples/demo && drift diff $IMAGE Dockerfile"
example diff-patch "cd samples/demo && drift diff $IMAGE Dockerfile --patch"

# 5. report over a small fleet, twice, with a hand change in between; history; ack
rm -f "$DRIFT_STORE" "$DRIFT_STORE"-* "$DRIFT_STORE".*
for c in "${FLEET[@]}"; do
  docker rm -f "$c" >/dev/null 2>&1 || true
  docker run -d --name "$c" --label drift.demo=fleet --network host "$BASE" sleep infinity >/dev/null
done
example report-1 "drift report --filter label=drift.demo=fleet"
docker exec drift-demo-web-2 bash -c 'apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends tree' >/dev/null 2>&1
docker exec drift-demo-worker sh -c 'echo debug=1 > /etc/worker.conf'
example report-2 "drift report --filter label=drift.demo=fleet -o json:$OUT/report.json -o html:$OUT/report.html -o markdown:$OUT/report.md"
example report-markdown "cat $OUT/report.md"
example history "drift history"
fp=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(next(f["fingerprint"] for f in d["findings"] if f["name"] == "tree"))' "$OUT/report.json")
example ack "drift ack $fp --reason 'tree is wanted on web-2: add it to the image' --expires 30d"
example report-3 "drift report --filter label=drift.demo=fleet"
example history-target "drift history drift-demo-web-2"
example cache-info "drift cache info"
docker rm -f "${FLEET[@]}" >/dev/null

# 6. snapshot of an awkward image: a secret ENV, quotes and $ in an ENV, a newline in a LABEL,
#    a WORKDIR with a space, the setup command as CMD
rm -rf "$OUT/awkward"
docker rm -f "$AWKWARD" >/dev/null 2>&1 || true
sed -e "s|@BASE@|$BASE|g" -e "s|@NAME@|$AWKWARD|g" -e "s|@OUT@|$OUT|g" <<'EOF' | session snapshot-awkward
docker run --name @NAME@ -e API_TOKEN=s3cr3t-value -e 'GREETING=say "hi" to $USER' -l $'note=line one\nRUN touch /pwned' -w '/my app' @BASE@ bash -c 'echo "setup done"'
docker commit @NAME@ @NAME@:1
drift snapshot @NAME@:1 --base @BASE@ -o @OUT@/awkward
tail -n 14 @OUT@/awkward/Dockerfile
EOF

# 7. mistakes: one line on stderr, exit code 2
example error-format "drift diff $IMAGE samples/demo --format xml"
example error-nofile "drift diff $IMAGE samples/demo/Nodockerfile"
example error-fix-patch "drift diff $IMAGE samples/demo --fix --patch"
example error-target "drift inspect no-such-image"
printf "%s\\n" "this is not an image archive" >"$OUT/junk.tar"
example error-archive "drift inspect $OUT/junk.tar"
example error-base "drift snapshot $BASE"

# 8. the severity rules, as drift/severity.py holds them (a Markdown table)
python3 -c 'from drift.severity import markdown_table; print(markdown_table())' >"$EX/severity-table.md"
echo "docs-examples: $EX/severity-table.md" >&2
