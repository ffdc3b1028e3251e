#!/bin/bash
# Simulator and server on the same service, trace slice and autoscaler: attainment side by side, and the two
# replica timelines in one chart ($OUT/agree.png, gnuplot). The live side is bench/services_live.sh (the
# first 2 minutes of the Azure conv trace x SCALE through awan serve's gateway, in real time, after a WARMUP
# replay that is not counted); the simulated side is `awan sim serve` on the same requests with the same
# warm-up, its first replica ready at t = 0 (--start-ready) as the live replay starts once the first replica is
# ready. Usage: bench/services_agree.sh [SCALE=3] [WARMUP=120]   (Release build; OUT=/tmp/awan-agree)
set -euo pipefail
SCALE=${1:-3}
WARMUP=${2:-120}
cd "$(dirname "$0")/.."
A=$PWD/build/release/apps/awan
export OUT=${OUT:-/tmp/awan-agree}
TRACE=${TRACE:-../shared/traces/azure-llm-2023/AzureLLMInferenceTrace_conv.csv}
mkdir -p "$OUT"
# The slice: the trace's first 2 minutes (what bench gateway --seconds 120 replays).
python3 - "$TRACE" "$OUT/slice.csv" <<'PY'
import csv, sys, datetime
rows = list(csv.reader(open(sys.argv[1])))
head, body = rows[0], rows[1:]
def t(s): return datetime.datetime.fromisoformat(s[:26])
t0 = t(body[0][0])
with open(sys.argv[2], "w", newline="") as f:
    w = csv.writer(f); w.writerow(head)
    for r in body:
        if (t(r[0]) - t0).total_seconds() >= 120: break
        w.writerow(r)
PY
cat > "$OUT/services.yaml" <<Y
name: agree
models:
  - {name: llama-3.1-70b, parameters_b: 70.6, weights_gib: 131, kv_kib_per_token: 320, layers: 80}
services:
  - name: chat
    tenant: my-university
    model: llama-3.1-70b
    shapes: [{accelerator: H100, gpus: 4}]
    replicas: {min: 1, max: 6}
    slo: {ttft_ms: 1000, tpot_ms: 60}
Y
if [ -z "${PLOT_ONLY:-}" ]; then  # PLOT_ONLY=1: redraw from the last run's files
"$A" sim serve --fleet examples/fleets/asean.yaml --services "$OUT/services.yaml" --requests "chat=$OUT/slice.csv" \
  --scale "$SCALE" --autoscaler awan --router awan --warmup-s "$WARMUP" --start-ready --json "$OUT/sim.json" \
  --quiet > "$OUT/sim.txt"
STARTUP=modelled WARMUP=$WARMUP SCALE=$SCALE TRACE=$OUT/slice.csv bench/services_live.sh 1 > "$OUT/live.txt" 2>&1
fi
python3 - "$OUT" "$WARMUP" <<'PY'
import json, sys
out, warmup = sys.argv[1], float(sys.argv[2])
sim = json.load(open(out + "/sim.json"))
run = [r for r in sim["timeline"] if r["autoscaler"] == "awan"][0]
with open(out + "/sim.dat", "w") as f:
    for p in run["points"]:
        f.write("%g %d\n" % (p["t_s"] - warmup, p["replicas"][0]))
live = json.load(open(out + "/run-1/describe.json"))
# The live service's replica count over service time, from its scaling decisions. The replay began when its
# first replica was ready (its cold start after the service's creation); the warm-up is its first WARMUP s.
first = min(live["replica_list"], key=lambda r: r["job"]) if live["replica_list"] else None
start = (first["cold_start_ms"] / 1000.0) if first and first["job"] == "j-00000001" else 0.0
steps = sorted((d["at_ms"] / 1000.0, d["to"]) for d in live["decisions"])
with open(out + "/live.dat", "w") as f:
    for t, n in steps:
        f.write("%g %d\n" % (t - start - warmup, n))
    f.write("%g %d\n" % (300, steps[-1][1] if steps else 1))
print("live attainment (server's count):", live["slo_attainment_pct"])
PY
gnuplot <<G
set terminal pngcairo size 900,420
set output "$OUT/agree.png"
set title "Replicas of the chat service: awan serve (live) and awan sim serve, conv x$SCALE, warm-up ${WARMUP} s"
set xlabel "seconds of the trace (after the warm-up)"
set ylabel "replicas"
set yrange [0:7]
set xrange [-$WARMUP:300]
set key top left
plot "$OUT/live.dat" using 1:2 with steps lw 2 title "awan serve (scaling decisions)", \
     "$OUT/sim.dat" using 1:2 with steps lw 2 dt 2 title "awan sim serve (replicas)"
G
grep -i "attainment" "$OUT/live.txt" | tail -2
grep -iE "chat|attain" "$OUT/sim.txt" | head -5
echo "chart: $OUT/agree.png"
