#!/usr/bin/env bash
# awan's quick start on a fresh Debian 12 machine: installs dependencies, builds Release, generates awan's
# built-in example (a 200-node mixed fleet and a workload mix, in the openb trace format) and runs the
# simulator's main job on it: every placement policy, the LP bounds (offline, under the online rule, and given
# awan's admissions), 5 seeds, the FGD paper's protocol, with a table on
# the terminal, JSON and an HTML report with charts under out/quickstart/. Then the control plane: `awan serve` on
# the embedded store (SQLite) with the ASEAN example fleet (its GPUs are virtual here), the three example jobs
# submitted with tenant tokens, shown running on the GPUs awan chose and finishing; then an inference service
# (examples/services/chat-burst.yaml): a burst of requests through the OpenAI-compatible gateway, the
# service scaling up and back down, with its SLO attainment. Last, diagnosis: a node agent, a GPU fault (an Xid 79
# in the node's kernel log) under a job that fails with an NCCL timeout, and `awan diagnose` naming the GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)"
AWAN=build/release/apps/awan
OUT=out/quickstart
$AWAN generate example --out "$OUT/example" --nodes 200 --seed 1
$AWAN sim openb --nodes "$OUT/example/nodes.csv" --pods "$OUT/example/pods.csv" \
  --policy random,dotprod,clustering,packing,bestfit,fgd,k8s,awan,bound,bound-online,bound:awan --seeds 1-5 \
  --json "$OUT/result.json" --report "$OUT/report"
echo
echo "Report: $OUT/report/index.html   JSON: $OUT/result.json"

echo
echo "== awan serve: the control plane on this machine =="
SERVE=$OUT/serve
rm -rf "$SERVE" && mkdir -p "$SERVE"
DB="sqlite:$SERVE/awan.db"
$AWAN init --store "$DB"
UNI=$($AWAN token create --store "$DB" --tenant my-university --role member 2>/dev/null | tail -1)
STARTUP=$($AWAN token create --store "$DB" --tenant my-startup --role member 2>/dev/null | tail -1)
# As root, each tenant's tasks run as its own uid in a sandbox (docs/security.md); without root, as this user.
SANDBOX=()
if [ "$(id -u)" -ne 0 ]; then
  echo "(not root: tasks run unsandboxed, as $(id -un); run as root for tenant isolation)"
  SANDBOX=(--unsandboxed-tasks)
fi
$AWAN serve --store "$DB" --listen 127.0.0.1:0 --fleet examples/fleets/asean.yaml --state-dir "$SERVE/state" \
  "${SANDBOX[@]}" > "$SERVE/serve.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q "listening on" "$SERVE/serve.log" && break; sleep 0.1; done
export AWAN_URL
AWAN_URL=$(grep -o 'http://127.0.0.1:[0-9]*' "$SERVE/serve.log" | head -1)
echo "server: $AWAN_URL (log $SERVE/serve.log)"
AWAN_TOKEN=$UNI $AWAN submit examples/jobs/training-gang.yaml
AWAN_TOKEN=$UNI $AWAN submit examples/jobs/notebook.yaml
AWAN_TOKEN=$STARTUP $AWAN submit examples/jobs/inference-worker.yaml
sleep 1
AWAN_TOKEN=$UNI $AWAN describe j-00000001
for _ in $(seq 30); do
  echo; date +%T
  Q="$(AWAN_TOKEN=$UNI $AWAN queue; AWAN_TOKEN=$STARTUP $AWAN queue | tail -n +2)"
  echo "$Q"
  if ! grep -qE "Pending|Running" <<<"$Q"; then break; fi
  sleep 3
done
echo
AWAN_TOKEN=$UNI $AWAN logs j-00000001 --task 3

echo
echo "== an inference service: replicas as jobs, the OpenAI-compatible gateway, the autoscaler on live load =="
# Llama 3.1 70B on 4 x H100 per replica (the stand-in engine on virtual GPUs, 10x faster than model time).
export AWAN_TOKEN=$UNI
SVC=examples/services/chat-burst.yaml
if [ "$(id -u)" -eq 0 ] && command -v podman > /dev/null && command -v docker-registry > /dev/null; then
  # As root: the replicas run in containers, their image pulled from a registry on 127.0.0.1 into each
  # node's own image store; awan pre-pulls it onto the nodes the next replicas will land on.
  REGPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  REG=$(scripts/registry-up.sh "$OUT/registry" "$REGPORT")
  trap 'kill $SERVER 2>/dev/null || true; scripts/registry-down.sh "$OUT/registry"' EXIT
  IMG=$(scripts/replica-image.sh "$REG" "$AWAN")
  echo "-- replicas in containers: image $IMG (built from this awan, pushed to the registry on $REG)"
  sed "s|^  time_scale: 10$|  time_scale: 10\n  image: $IMG|" "$SVC" > "$SERVE/chat-burst.yaml"
  SVC=$SERVE/chat-burst.yaml
fi
$AWAN submit "$SVC"
for _ in $(seq 50); do $AWAN services | grep -q " 1/1 " && break; sleep 0.2; done
$AWAN services
echo "-- a burst: 3,000 requests (1,024-token prompts, 128-token answers) at 250/s through the gateway"
$AWAN bench gateway --url "$AWAN_URL" --model chat-burst --count 3000 --rate 250 --prompt-tokens 1024 \
  --output-tokens 128 --stream false &
BURST=$!
for _ in $(seq 6); do sleep 2; $AWAN services | tail -1; done
wait $BURST || true
echo "-- the load is gone: the autoscaler holds two minutes of service time, then scales back down"
for _ in $(seq 40); do
  sleep 1
  if $AWAN services | grep -q " 1/1 "; then break; fi
done
$AWAN describe service/chat-burst
$AWAN delete service/chat-burst

echo
echo "== diagnosis: a node agent, a GPU fault under a failing job, what broke and what to do =="
ADMIN=$($AWAN token create --store "$DB" --role admin 2>/dev/null | tail -1)
$AWAN submit examples/jobs/nccl-timeout.yaml
JOB=$($AWAN queue | grep nccl-timeout | grep -o 'j-[0-9]*' | tail -1 || true)
for _ in $(seq 50); do $AWAN describe "$JOB" | grep -q Running && break; sleep 0.2; done
NODE=$($AWAN describe "$JOB" -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["placement"][0]["node"])' \
  2> /dev/null || true)
if [ -z "$NODE" ]; then echo "($JOB did not start: skipping the diagnosis part)"; fi
if [ -n "$NODE" ]; then
NODETOKEN=$($AWAN token create --store "$DB" --role node --node "$NODE" 2>/dev/null | tail -1)
: > "$SERVE/kmsg"  # the agent's kernel log (on a real node: /dev/kmsg)
$AWAN agent --node "$NODE" --server "$AWAN_URL" --token "$NODETOKEN" --kernel-log "$SERVE/kmsg" --from-start \
  --interval-s 1 2> "$SERVE/agent.log" &
AGENT=$!
echo "-- $JOB runs on $NODE; a GPU there falls off the bus (an Xid 79 in the node's kernel log)"
echo "NVRM: Xid (PCI:0000:3b:00): 79, pid=$$, name=python, GPU has fallen off the bus." >> "$SERVE/kmsg"
for _ in $(seq 50); do $AWAN describe "$JOB" | grep -q Failed && break; sleep 0.2; done
sleep 2
$AWAN describe "$JOB"
echo "-- awan diagnose $JOB (the job's tenant)"
$AWAN diagnose "$JOB"
echo "-- awan diagnose (the fleet admin: every current problem, with the evidence)"
AWAN_TOKEN=$ADMIN $AWAN diagnose
echo "-- the automatic action it calls for, logged in the audit chain (serve --remediation on would take it)"
curl -s "$AWAN_URL/v1/audit" -H "Authorization: Bearer $ADMIN" | grep '"action"' | tail -1 || true
kill $AGENT 2>/dev/null || true
fi
kill $SERVER && wait $SERVER 2>/dev/null || true
[ -d "$OUT/registry" ] && scripts/registry-down.sh "$OUT/registry"
echo "awan serve stopped; its state is in $SERVE (see docs/serve.md)"
