#!/bin/bash
# Gateway overhead on loopback: the same load straight to one awan replica and through awan serve's gateway,
# three runs each. COUNT (2000) requests at RATE (100)/s, 16-token prompts, 4-token streamed answers.
set -e
cd "$(dirname "$0")/.."; A=$PWD/build/release/apps/awan
D=${OUT:-/tmp/awan-gateway-bench}; rm -rf $D; mkdir -p $D
source bench/lib.sh
serve_up $D 18181
cat > $D/svc.yaml <<'Y'
apiVersion: awan/v1
kind: Service
metadata: {name: bench}
spec:
  model: {name: llama-3.1-8b, parameters_b: 8.03, weights_gib: 14.96, kv_kib_per_token: 128, layers: 32}
  shapes: [{accelerator: H100, gpus: 1}]
  replicas: {min: 1, max: 1}
  slo: {ttft_ms: 1000, tpot_ms: 60}
Y
AWAN_URL=$URL AWAN_TOKEN=$T $A submit $D/svc.yaml
for i in $(seq 50); do
  P=$(curl -s $URL/v1/services/bench -H "Authorization: Bearer $T" | python3 -c 'import json,sys; d=json.load(sys.stdin); r=[x for x in d["replica_list"] if x["state"]=="Ready"]; print(r[0]["port"] if r else "")')
  [ -n "$P" ] && break; sleep 0.2
done
echo "replica port $P"
for run in 1 2 3; do
  for where in direct gateway; do
    if [ $where = direct ]; then TO=http://127.0.0.1:$P; else TO=$URL; fi
    $A bench gateway --url $TO --token $T --model bench --count ${COUNT:-2000} --rate ${RATE:-100} --prompt-tokens 16 --output-tokens 4 --json $D/$where-$run.json > /dev/null
    echo "$where run $run: $(python3 -c "import json; d=json.load(open('$D/$where-$run.json')); print('ok %d ttft p50 %.2f p99 %.2f e2e p50 %.2f p99 %.2f ms, %.1f answers/s' % (d['ok'], d['ttft_p50_ms'], d['ttft_p99_ms'], d['e2e_p50_ms'], d['e2e_p99_ms'], d['answers_per_s']))")"
  done
done
