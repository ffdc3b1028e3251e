#!/usr/bin/env bash
# Starts a three-member etcd cluster on 127.0.0.1 for awan's tests (Debian's etcd-server 3.4): member i listens
# for clients on BASE+i and for peers on BASE+10+i, with its data under DIR/data$i and its pid in DIR/e$i.pid.
# Prints the client endpoints, comma-separated, once the cluster answers. Stop it with scripts/etcd-down.sh DIR.
#   scripts/etcd-up.sh DIR [BASE=23790]
set -euo pipefail
DIR=${1:?usage: etcd-up.sh DIR [BASE]}
BASE=${2:-23790}
command -v etcd > /dev/null || { echo "etcd-up: etcd not found: run scripts/install-deps.sh" >&2; exit 2; }
mkdir -p "$DIR"
CL=""
for i in 1 2 3; do CL="$CL${CL:+,}e$i=http://127.0.0.1:$((BASE + 10 + i))"; done
EPS=""
for i in 1 2 3; do
  etcd --name "e$i" --data-dir "$DIR/data$i" \
    --listen-client-urls "http://127.0.0.1:$((BASE + i))" --advertise-client-urls "http://127.0.0.1:$((BASE + i))" \
    --listen-peer-urls "http://127.0.0.1:$((BASE + 10 + i))" --initial-advertise-peer-urls "http://127.0.0.1:$((BASE + 10 + i))" \
    --initial-cluster "$CL" --initial-cluster-token awan-test --initial-cluster-state new \
    --heartbeat-interval 100 --election-timeout 1000 --log-outputs=stderr > "$DIR/e$i.log" 2>&1 &
  echo $! > "$DIR/e$i.pid"
  EPS="$EPS${EPS:+,}http://127.0.0.1:$((BASE + i))"
done
for _ in $(seq 150); do
  if ETCDCTL_API=3 etcdctl --endpoints="${EPS//http:\/\//}" endpoint health > /dev/null 2>&1; then echo "$EPS"; exit 0; fi
  sleep 0.2
done
echo "etcd-up: the cluster did not become healthy; logs in $DIR" >&2
exit 1
