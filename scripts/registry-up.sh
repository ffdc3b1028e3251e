#!/usr/bin/env bash
# Starts a container image registry (Debian's docker-registry, the CNCF distribution registry) on 127.0.0.1 for
# awan's replica images: no authentication, plain HTTP, storage under DIR/data, its pid in DIR/registry.pid and
# its log in DIR/registry.log. Prints the registry's address (127.0.0.1:PORT) once it answers.
# Stop it with scripts/registry-down.sh DIR.
#   scripts/registry-up.sh DIR [PORT=5000]
set -euo pipefail
DIR=${1:?usage: registry-up.sh DIR [PORT]}
PORT=${2:-5000}
command -v docker-registry > /dev/null || { echo "registry-up: docker-registry not found: run scripts/install-deps.sh" >&2; exit 2; }
mkdir -p "$DIR/data"
DIR=$(cd "$DIR" && pwd)
if [ -f "$DIR/registry.pid" ] && kill -0 "$(cat "$DIR/registry.pid")" 2> /dev/null; then
  echo "registry-up: already running (pid $(cat "$DIR/registry.pid"))" >&2
  echo "127.0.0.1:$PORT"
  exit 0
fi
cat > "$DIR/config.yml" <<CONF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $DIR/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$PORT
CONF
docker-registry serve "$DIR/config.yml" > "$DIR/registry.log" 2>&1 &
echo $! > "$DIR/registry.pid"
for _ in $(seq 100); do
  if curl -sf "http://127.0.0.1:$PORT/v2/" > /dev/null 2>&1; then echo "127.0.0.1:$PORT"; exit 0; fi
  kill -0 "$(cat "$DIR/registry.pid")" 2> /dev/null || break
  sleep 0.1
done
echo "registry-up: the registry did not answer on 127.0.0.1:$PORT; its log: $DIR/registry.log" >&2
tail -5 "$DIR/registry.log" >&2 || true
exit 1
