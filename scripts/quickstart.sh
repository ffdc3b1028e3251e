#!/usr/bin/env bash
# awan's quick start on a fresh Debian 12 machine: installs dependencies, builds Release, generates awan's
# built-in example (a 200-node mixed fleet and a workload mix, in the openb trace format) and runs the
# simulator's main job on it: every placement policy and the LP bound, 5 seeds, the FGD paper's protocol, with a table on
# the terminal, JSON and an HTML report with charts under out/quickstart/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)"
AWAN=build/release/apps/awan
OUT=out/quickstart
$AWAN generate example --out "$OUT/example" --nodes 200 --seed 1
$AWAN sim openb --nodes "$OUT/example/nodes.csv" --pods "$OUT/example/pods.csv" \
  --policy random,dotprod,clustering,packing,bestfit,fgd,k8s,awan,bound --seeds 1-5 \
  --json "$OUT/result.json" --report "$OUT/report"
echo
echo "Report: $OUT/report/index.html   JSON: $OUT/result.json"
