#!/usr/bin/env bash
# Stops the etcd members scripts/etcd-up.sh started under DIR and deletes their data (each test cluster
# preallocates ~120 MiB of WAL per member; left behind, repeated test runs fill the disk). --keep-data keeps it.
set -uo pipefail
DIR=${1:?usage: etcd-down.sh DIR [--keep-data]}
for i in 1 2 3; do [ -f "$DIR/e$i.pid" ] && kill -9 "$(cat "$DIR/e$i.pid")" 2> /dev/null; done
if [ "${2:-}" != "--keep-data" ]; then
  sleep 0.2  # the killed members release their files
  rm -rf "$DIR"/data1 "$DIR"/data2 "$DIR"/data3
fi
exit 0
