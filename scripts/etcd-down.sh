#!/usr/bin/env bash
# Stops the etcd members scripts/etcd-up.sh started under DIR.
set -uo pipefail
DIR=${1:?usage: etcd-down.sh DIR}
for i in 1 2 3; do [ -f "$DIR/e$i.pid" ] && kill -9 "$(cat "$DIR/e$i.pid")" 2> /dev/null; done
exit 0
