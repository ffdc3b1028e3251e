#!/bin/bash
# The gateway's prefix affinity, live: two replicas of Llama 3.1 8B on L40S (fixed: min = max = 2) behind
# awan serve's gateway, a load whose documents together overflow one replica's prefix cache but not two, with
# the router named by $1 (awan: prefix affinity bounded by load; least-work: none). Prints the share of prompt
# tokens the replicas' caches held (from their answers' usage) and the first-token times.
# Usage: bench/prefix_affinity.sh ROUTER [DOCS] [ASKS] [RPS]
#   DOCS (64) documents of 8 blocks (4,096 tokens) each, every one asked ASKS (4) times with its own question
#   (one more block), in a shuffled order (seed 1), RPS (3) requests a second, answers of 32 tokens.
# One replica's cache holds 403 blocks (the replica model's KV capacity, 206,710 tokens): 64 documents are 512.
set -e
ROUTER=${1:-awan}
DOCS=${2:-64}
ASKS=${3:-4}
RPS=${4:-3}
cd "$(dirname "$0")/.."; A=$PWD/build/release/apps/awan
D=${OUT:-/tmp/awan-affinity}/$ROUTER; rm -rf $D; mkdir -p $D
python3 - "$DOCS" "$ASKS" "$RPS" > $D/load.jsonl <<'PY'
import json, random, sys
docs, asks, rps = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
rng = random.Random(1)
order = [d for d in range(docs) for _ in range(asks)]
rng.shuffle(order)
for i, d in enumerate(order):
    ids = [(d + 1) * 1000 + b for b in range(8)] + [10**9 + i]
    print(json.dumps({"timestamp": int(i * 1000 / rps), "input_length": 9 * 512, "output_length": 32,
                      "hash_ids": ids}))
PY
source bench/lib.sh
serve_up $D 18283
cat > $D/svc.yaml <<Y
apiVersion: awan/v1
kind: Service
metadata: {name: docs}
spec:
  model: {name: llama-3.1-8b, parameters_b: 8.0, weights_gib: 15, kv_kib_per_token: 128, layers: 32}
  shapes: [{accelerator: L40S, gpus: 1}]
  replicas: {min: 2, max: 2}
  slo: {ttft_ms: 2000, tpot_ms: 40}
  autoscaler: awan
  router: $ROUTER
Y
AWAN_URL=$URL AWAN_TOKEN=$T $A submit $D/svc.yaml
wait_service docs '"ready":2' 60
$A bench gateway --url $URL --token $T --model docs --requests $D/load.jsonl --stream true \
  --slo-ttft-ms 2000 --slo-tpot-ms 40 --json $D/bench.json
AWAN_URL=$URL AWAN_TOKEN=$T $A delete service/docs >/dev/null 2>&1 || true
sleep 2  # the replicas stop before the server does
