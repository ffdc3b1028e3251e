#!/bin/bash
# The conv trace's first 2 minutes x3 through awan serve's gateway, the service at time_scale $1 (load sent $1x faster).
set -e
# Usage: bench/services_live.sh TIME_SCALE (1: real time, 10: ten times faster). Compare with
#   awan sim serve --fleet examples/fleets/asean.yaml --services <the same service in a services file> \
#     --requests chat=<the same 2 minutes> --scale 3 --autoscaler awan --warmup-s $WARMUP
# WARMUP (0): seconds of the trace replayed first and not counted, on both sides. SCALE (3): copies of the
# trace. STARTUP (instant): `modelled` makes each replica load its weights and warm up first, as the
# simulator's cold-start model says (53 s for this model), so that both sides pay the same cold starts.
TS=${1:-1}
TRACE=${TRACE:-../shared/traces/azure-llm-2023/AzureLLMInferenceTrace_conv.csv}
cd "$(dirname "$0")/.."; A=$PWD/build/release/apps/awan
D=${OUT:-/tmp/awan-agree}/run-$TS; rm -rf $D; mkdir -p $D
source bench/lib.sh
serve_up $D 18282
cat > $D/svc.yaml <<Y
apiVersion: awan/v1
kind: Service
metadata: {name: chat}
spec:
  model: {name: llama-3.1-70b, parameters_b: 70.6, weights_gib: 131, kv_kib_per_token: 320, layers: 80}
  shapes: [{accelerator: H100, gpus: 4}]
  replicas: {min: 1, max: 6}
  slo: {ttft_ms: 1000, tpot_ms: 60}
  autoscaler: awan
  time_scale: $TS
  startup: ${STARTUP:-instant}
Y
AWAN_URL=$URL AWAN_TOKEN=$T $A submit $D/svc.yaml
# The replay starts once the first replica is ready (as the simulator's warm-up does, with its first replica up).
wait_service chat '"ready":[1-9]' 120
$A bench gateway --url $URL --token $T --model chat --requests $TRACE --seconds 120 --scale ${SCALE:-3} --speed $TS --stream true --warmup-s ${WARMUP:-0} --slo-ttft-ms 1000 --slo-tpot-ms 60 --json $D/bench.json
curl -s $URL/v1/services/chat -H "Authorization: Bearer $T" > $D/describe.json
python3 -c "import json; d=json.load(open('$D/describe.json')); print('attainment', d['slo_attainment_pct'], 'requests', d['requests'], 'decisions', [(x['at_ms']//1000, x['from'], x['to']) for x in d['decisions']])"
curl -s $URL/metrics -H "Authorization: Bearer $T" | grep -E "awan_service_(ttft|tpot)_seconds_(bucket|count)" > $D/metrics.txt
