#!/bin/bash
# Where the time of one `awan submit` goes (issue 20: "1,000 serial awan submit calls at least as fast as
# 1,000 sbatch calls"). On loopback, against `awan serve` on SQLite (the ASEAN example fleet), N (100) serial
# calls of each, three runs, each timed with date +%s%N:
#   awan --version        the front handing over to awan-core, which loads its shared libraries and prints
#   awan submit --hold    the whole call (start, read the manifest, one POST, print the answer): the `awan`
#                         front does it itself (apps/awan_front.cc)
#   awan-core submit      the same call by the full binary (every command; what `awan` was before the front)
#   POST, new connection  the request alone (python http.client, one connection per request)
#   POST, keep-alive      the server's share (one connection for all)
#   floor: fmt+yaml-cpp   a C++ program linking only what a client needs to read manifests and print
#   floor: + cpp-httplib  the same plus Debian's libcpp-httplib (it pulls OpenSSL, which reads openssl.cnf at
#                         load, brotli and zlib)
# and, when `sbatch` answers (scripts/slurm-up.sh), `sbatch --hold` for comparison.
set -e
cd "$(dirname "$0")/.."; A=$PWD/build/release/apps/awan
N=${N:-100}
D=${OUT:-/tmp/awan-client-bench}; rm -rf "$D"; mkdir -p "$D"
$A init --store sqlite:$D/awan.db >/dev/null
T=$($A token create --store sqlite:$D/awan.db --tenant my-university --role member 2>/dev/null | tail -1)
$A serve --store sqlite:$D/awan.db --fleet examples/fleets/asean.yaml --listen 127.0.0.1:18182 \
  --state-dir $D/state --submits-per-s 100000 --max-waiting-per-tenant 1000000 > $D/serve.log 2>&1 &
S=$!
trap 'kill $S' EXIT
for _ in $(seq 50); do grep -q "listening on" $D/serve.log && break; sleep 0.1; done
URL=http://127.0.0.1:18182
printf 'apiVersion: awan/v1\nkind: Job\nmetadata: {name: s}\nspec: {gpus: 1, cpu: 1, memory_gib: 1, command: [sh, -c, "true"]}\n' > $D/j.yaml

cat > $D/floor.cc <<'C'
#include <fmt/format.h>
#include <yaml-cpp/yaml.h>
#ifdef WITH_HTTPLIB
#include <httplib.h>
#endif
int main(int argc, char** argv) {
  if (argc > 5) {  // never taken: the libraries are linked and loaded, not used
    fmt::print("{}\n", YAML::Load(argv[1]).size());
#ifdef WITH_HTTPLIB
    httplib::Client c("http://127.0.0.1:1");
    (void)c.Get("/");
#endif
  }
  fmt::print("v\n");
}
C
g++ -O2 -std=c++20 $D/floor.cc -o $D/floor -lfmt -lyaml-cpp
g++ -O2 -std=c++20 -DWITH_HTTPLIB -DCPPHTTPLIB_OPENSSL_SUPPORT $D/floor.cc -o $D/floor-httplib -lcpp-httplib -lssl \
  -lcrypto -lfmt -lyaml-cpp

ms_per_call() {  # runs "$@" N times; prints ms per call
  local s e
  s=$(date +%s%N)
  for _ in $(seq $N); do "$@" > /dev/null; done
  e=$(date +%s%N)
  python3 -c "print('%.2f' % (($e - $s) / 1e6 / $N))"
}
post() {  # N POSTs from one python process; $1 = new (a connection each) or keep
  python3 - "$1" "$N" "$URL" "$T" "$D/j.yaml" <<'P'
import http.client, sys, time
mode, n, url, tok, path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
body = open(path, 'rb').read()
host, port = url[7:].split(':')
h = {'Authorization': 'Bearer ' + tok, 'Content-Type': 'application/yaml'}
c = http.client.HTTPConnection(host, int(port))
t = time.time()
for _ in range(n):
    if mode == 'new':
        c = http.client.HTTPConnection(host, int(port))
    c.request('POST', '/v1/jobs?hold=true', body, h)
    r = c.getresponse(); r.read()
    assert r.status == 201, r.status
    if mode == 'new':
        c.close()
print('%.2f' % ((time.time() - t) * 1000 / n))
P
}
SB=""
if command -v sbatch > /dev/null && sbatch --hold --wrap true > /dev/null 2>&1; then SB=1; fi
for run in 1 2 3; do
  line="run $run (ms per call):"
  line+=" version $(ms_per_call $A --version)"
  line+=" submit $(ms_per_call $A submit --hold $D/j.yaml --server $URL --token $T)"
  line+=" core-submit $(ms_per_call $A-core submit --hold $D/j.yaml --server $URL --token $T)"
  line+=" post-new $(post new) post-keepalive $(post keep)"
  line+=" floor $(ms_per_call $D/floor) floor+httplib $(ms_per_call $D/floor-httplib)"
  line+=" true $(ms_per_call /bin/true)"
  [ -n "$SB" ] && line+=" sbatch $(ms_per_call sbatch --hold --wrap true)"
  echo "$line"
done
