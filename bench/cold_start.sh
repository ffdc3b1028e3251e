#!/bin/bash
# Real cold starts of replicas on this machine (Release build, as root): the replica image pulled from the
# local registry, already on the node, or pre-pulled by awan; the share of scale-ups that landed on a warm
# node; and, as a baseline, the stand-in started as a plain process (no image). Each figure is a replica's
# time from its job's submission to its first healthy /health answer as awan serve saw it (ticks of 50 ms).
# Usage: bench/cold_start.sh [RUNS=5]   (results: $OUT/cold-start.txt, OUT=/tmp/awan-cold-start)
#        PREPULL=false bench/cold_start.sh 3   (the same without awan's pre-pulls)
set -euo pipefail
RUNS=${1:-5}
cd "$(dirname "$0")/.."
A=$PWD/build/release/apps/awan
OUT=${OUT:-/tmp/awan-cold-start}
rm -rf "$OUT" && mkdir -p "$OUT"
[ "$(id -u)" -eq 0 ] || { echo "cold_start.sh: needs root (the container runtime)" >&2; exit 2; }
REG=$(scripts/registry-up.sh "$OUT/registry" 5077)
trap 'scripts/registry-down.sh "$OUT/registry"; pkill -f "awan serve --store sqlite:$OUT" || true' EXIT
IMG=$(scripts/replica-image.sh "$REG" "$A")
echo "image $IMG ($(du -sh "$OUT/registry/data" | cut -f1) in the registry)" | tee "$OUT/cold-start.txt"
P="podman --root $OUT/bare/storage --runroot /run/awan-bench --cgroup-manager cgroupfs --events-backend none --runtime runc"
for i in $(seq "$RUNS"); do  # the runtime alone: a pull into an empty store, then a run with it there
  rm -rf "$OUT/bare"
  t0=$(date +%s%N); $P pull -q --tls-verify=false "$IMG" > /dev/null; t1=$(date +%s%N)
  $P run --rm --network host --ulimit nofile=1024:1024 --ulimit nproc=4096:4096 --entrypoint /usr/local/bin/awan "$IMG" --version > /dev/null
  t2=$(date +%s%N)
  echo "podman: pull $(( (t1 - t0) / 1000000 )) ms, run awan --version $(( (t2 - t1) / 1000000 )) ms" | tee -a "$OUT/cold-start.txt"
done
svc() {  # NAME IMAGE-LINE
  cat <<Y
apiVersion: awan/v1
kind: Service
metadata: {name: $1}
spec:
  model: {name: llama-3.1-70b, parameters_b: 70.6, weights_gib: 131, kv_kib_per_token: 320, layers: 80}
  shapes: [{accelerator: H100, gpus: 4}]
  replicas: {min: 1, max: 4}
  slo: {ttft_ms: 1000, tpot_ms: 60}
  time_scale: 10
$2
Y
}
describe() { curl -s "$URL/v1/services/$1" -H "Authorization: Bearer $T"; }
ready() { describe "$1" | python3 -c "import json,sys; print(json.load(sys.stdin)['replicas']['ready'])"; }
wait_ready() { for _ in $(seq 600); do [ "$(ready "$1")" -ge "$2" ] && return 0; sleep 0.1; done; return 1; }
cold() {  # the cold starts (wall ms) of a service's replicas, with their image state
  describe "$1" | python3 -c "import json,sys; d=json.load(sys.stdin)
print(' '.join('%s:%d' % (r['image'] or 'process', r['cold_start_ms'] / 10) for r in d['replica_list'] if r['cold_start_ms'] >= 0))"
}
for i in $(seq "$RUNS"); do
  D=$OUT/run-$i; mkdir -p "$D"
  $A init --store "sqlite:$D/awan.db" > /dev/null
  T=$($A token create --store "sqlite:$D/awan.db" --tenant my-university --role member 2> /dev/null | tail -1)
  $A serve --store "sqlite:$D/awan.db" --fleet examples/fleets/asean.yaml --listen 127.0.0.1:0 --tick-ms 50 \
    --state-dir "$D/state" > "$D/serve.log" 2>&1 &
  for _ in $(seq 100); do grep -q "listening on" "$D/serve.log" && break; sleep 0.1; done
  URL=$(grep -o 'http://127.0.0.1:[0-9]*' "$D/serve.log" | head -1)
  export AWAN_URL=$URL AWAN_TOKEN=$T
  svc plain "" > "$D/plain.yaml"; $A submit "$D/plain.yaml" > /dev/null; wait_ready plain 1
  echo "run $i: process $(cold plain)" | tee -a "$OUT/cold-start.txt"
  $A delete service/plain > /dev/null
  svc chat "  image: $IMG
  prepull: ${PREPULL:-true}" > "$D/chat.yaml"; $A submit "$D/chat.yaml" > /dev/null; wait_ready chat 1
  echo "run $i: first replica, nothing holds the image: $(cold chat)" | tee -a "$OUT/cold-start.txt"
  $A delete service/chat > /dev/null; sleep 1
  $A submit "$D/chat.yaml" > /dev/null; wait_ready chat 1
  echo "run $i: again, a node holds it: $(cold chat)" | tee -a "$OUT/cold-start.txt"
  sleep 6  # awan pre-pulls onto the region's nodes
  $A bench gateway --url "$URL" --model chat --count 3000 --rate 250 --prompt-tokens 1024 --output-tokens 128 \
    --stream false > "$D/burst.txt" 2>&1
  echo "run $i: after a burst (scale-ups on pre-pulled nodes): $(cold chat); $(describe chat | python3 -c "import json,sys; i=json.load(sys.stdin)['image']; print('%d warm, %d pulled' % (i['starts_on_warm_node'], i['starts_that_pulled']))")" | tee -a "$OUT/cold-start.txt"
  pkill -f "awan serve --store sqlite:$D" || true
  sleep 1
done
