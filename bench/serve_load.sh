#!/usr/bin/env bash
# Load benchmark of `awan serve` on 127.0.0.1 with wrk: durable submits/s (POST /v1/jobs, each fsynced before
# its 201) over ROUNDS consecutive rounds (the store's WAL size after each: it must not grow without bound),
# reads/s (GET /v1/jobs/{id}), then reads/s again while SLOW connections trickle one byte every 2 s, with
# latency percentiles; then the scheduling-cycle latency histogram from /metrics. Use a Release build. The
# per-tenant limits (submit rate, waiting jobs, expensive reads) are switched off: this measures the server,
# not the limits. Bounded: DURATION seconds per phase (default 10), CONNECTIONS connections (default 64),
# 2 wrk threads, loopback only.
#   bench/serve_load.sh [build/release/apps/awan]
set -euo pipefail
cd "$(dirname "$0")/.."
AWAN=${1:-build/release/apps/awan}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
ROUNDS=${ROUNDS:-5}
SLOW=${SLOW:-300}
DIR=$(mktemp -d /tmp/awan-load.XXXXXX)
DB="sqlite:$DIR/awan.db"
$AWAN init --store "$DB" >/dev/null
TOKEN=$($AWAN token create --store "$DB" --tenant my-university --role member 2>/dev/null | tail -1)
ADMIN=$($AWAN token create --store "$DB" --role admin 2>/dev/null | tail -1)
$AWAN serve --store "$DB" --listen 127.0.0.1:0 --fleet examples/fleets/asean.yaml --state-dir "$DIR/state" \
  --submits-per-s 0 --max-waiting-per-tenant 0 --heavy-reads-per-s 0 --max-connections 4096 ${SERVE_ARGS:-} \
  > "$DIR/serve.log" 2>&1 &
SERVER=$!
TRICKLER=""
trap 'kill $SERVER $TRICKLER 2>/dev/null || true; rm -rf "$DIR"' EXIT
for _ in $(seq 100); do grep -q "listening on" "$DIR/serve.log" && break; sleep 0.1; done
URL=$(grep -o 'http://127.0.0.1:[0-9]*' "$DIR/serve.log" | head -1)
PORT=${URL##*:}
# Placeholder jobs (no process): the benchmark measures the API, the store and the scheduler, not fork/exec.
cat > "$DIR/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer $TOKEN"
wrk.headers["Content-Type"] = "application/yaml"
wrk.body = "apiVersion: awan/v1\nkind: Job\nmetadata: {name: load}\nspec: {gpus: 1, duration_s: 600}\n"
done = function(summary, latency, requests)
  io.write(string.format("non-2xx or errors: %d\n", summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
LUA
cat > "$DIR/get.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $TOKEN"
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", string.format("/v1/jobs/j-%08d", (counter % 1000) + 1))
end
done = function(summary, latency, requests)
  io.write(string.format("non-2xx or errors: %d\n", summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
LUA
wal() { stat -c %s "$DIR/awan.db-wal" 2>/dev/null || echo 0; }
for r in $(seq "$ROUNDS"); do
  echo "== durable submits, round $r of $ROUNDS: POST /v1/jobs, $CONNECTIONS connections, ${DURATION}s =="
  wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$DIR/post.lua" "$URL/v1/jobs"
  echo "store after round $r: database $(stat -c %s "$DIR/awan.db") bytes, WAL $(wal) bytes"
  echo
done
echo "== reads: GET /v1/jobs/{id}, $CONNECTIONS connections, ${DURATION}s =="
wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$DIR/get.lua" "$URL"
echo
echo "== reads with $SLOW slow connections open (each sends one byte of a request every 2 s) =="
(
  fds=()
  for _ in $(seq "$SLOW"); do
    exec {fd}<>"/dev/tcp/127.0.0.1/$PORT" && fds+=("$fd")
  done
  for _ in $(seq $((DURATION / 2 + 3))); do
    for fd in "${fds[@]}"; do printf 'G' >&"$fd" 2>/dev/null || true; done
    sleep 2
  done
) &
TRICKLER=$!
sleep 1
wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$DIR/get.lua" "$URL"
kill $TRICKLER 2>/dev/null || true
wait $TRICKLER 2>/dev/null || true
TRICKLER=""
echo
echo "== scheduling cycles during the run (from /metrics) =="
curl -s -H "Authorization: Bearer $ADMIN" "$URL/metrics" | grep -E "^awan_(scheduling_cycle_seconds_(bucket|count|sum)|jobs_submitted_total|decisions_total|jobs_waiting\{tenant=\"my-university\"\}|store_errors_total)"
