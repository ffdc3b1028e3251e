#!/usr/bin/env bash
# Stops what scripts/alerting-up.sh DIR started.
#   scripts/alerting-down.sh DIR
set -euo pipefail
DIR=${1:?usage: alerting-down.sh DIR}
for name in prometheus alertmanager; do
  [ -f "$DIR/$name.pid" ] || continue
  PID=$(cat "$DIR/$name.pid")
  kill "$PID" 2> /dev/null || true
  for _ in $(seq 50); do kill -0 "$PID" 2> /dev/null || break; sleep 0.1; done
  kill -9 "$PID" 2> /dev/null || true
  rm -f "$DIR/$name.pid"
done
