#!/usr/bin/env bash
# Builds awan's libFuzzer targets with clang (address and undefined-behaviour sanitizers) and runs each for a
# bounded time from a seed corpus: the job manifest parser (every POST /v1/jobs body), the audit-log verifier,
# and the HTTP request path (raw bytes to an in-process HttpServer on 127.0.0.1).
#   scripts/fuzz.sh [SECONDS_PER_TARGET]     (default 30; CI runs it through scripts/test.sh)
# A crash, a sanitizer report or a broken invariant fails the run and leaves the input in out/fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-30}
CXX=${FUZZ_CXX:-clang++-14}
OUT=out/fuzz
mkdir -p "$OUT"
FLAGS=(-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Isrc
       -DAWAN_SOURCE_DIR="\"$PWD\"")
COMMON=(src/common/status.cc src/model/accelerator.cc src/model/topology.cc src/model/fleet.cc src/model/residency.cc
        src/trace/csv.cc src/config/fleet_file.cc src/config/workload_file.cc src/config/job_manifest.cc)
LIBS=(-lyaml-cpp -lfmt)
echo "fuzz: building with $CXX"
$CXX "${FLAGS[@]}" fuzz/manifest_fuzzer.cc "${COMMON[@]}" "${LIBS[@]}" -o "$OUT/manifest_fuzzer"
$CXX "${FLAGS[@]}" fuzz/audit_fuzzer.cc "${COMMON[@]}" src/core/residency.cc src/core/placement.cc src/audit/audit_log.cc \
  "${LIBS[@]}" -lcrypto -o "$OUT/audit_fuzzer"
$CXX "${FLAGS[@]}" fuzz/http_fuzzer.cc src/server/http_server.cc src/common/status.cc \
  -lssl -lcrypto -lpthread -o "$OUT/http_fuzzer"
# Seed corpora: the shipped manifests, a log the simulator writes, and requests of each kind.
mkdir -p "$OUT/corpus/manifest" "$OUT/corpus/audit" "$OUT/corpus/http"
printf 'GET /v1/healthz HTTP/1.1\r\nHost: x\r\n\r\n' > "$OUT/corpus/http/get"
printf 'POST /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer good\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n' > "$OUT/corpus/http/chunked"
printf 'POST /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer good\r\nContent-Length: 4\r\n\r\nabcdGET /v1/jobs/j-1/logs?task=2 HTTP/1.1\r\nHost: x\r\n\r\n' > "$OUT/corpus/http/pipelined"
cp examples/jobs/*.yaml "$OUT/corpus/manifest/"
if [ -x build/release/apps/awan ]; then
  build/release/apps/awan sim jobs --fleet examples/fleets/asean.yaml --workload examples/workloads/asean-week.yaml \
    --policy fifo --quiet --audit "$OUT/audit-full.jsonl" > /dev/null 2>&1 && head -n 20 "$OUT/audit-full.jsonl" > "$OUT/corpus/audit/seed.jsonl"
fi
for t in manifest audit http; do
  echo "fuzz: $t for ${SECONDS_PER_TARGET}s"
  (cd "$OUT" && ./"${t}_fuzzer" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
     -print_final_stats=1 "corpus/$t" 2>&1 | tail -n 12)
done
