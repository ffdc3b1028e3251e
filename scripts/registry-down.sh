#!/usr/bin/env bash
# Stops the registry scripts/registry-up.sh DIR started (its data stays in DIR/data).
#   scripts/registry-down.sh DIR
set -euo pipefail
DIR=${1:?usage: registry-down.sh DIR}
[ -f "$DIR/registry.pid" ] || exit 0
PID=$(cat "$DIR/registry.pid")
kill "$PID" 2> /dev/null || true
for _ in $(seq 50); do kill -0 "$PID" 2> /dev/null || break; sleep 0.1; done
kill -9 "$PID" 2> /dev/null || true
rm -f "$DIR/registry.pid"
