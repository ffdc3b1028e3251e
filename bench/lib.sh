#!/bin/bash
# Shared by the bench scripts that run awan serve (source it after setting A, the awan binary, and cd-ing to
# the repository root).

# serve_up DIR PORT: a fresh SQLite store in DIR, a member token of tenant my-university in T, and awan serve
# on the ASEAN fleet at URL=http://127.0.0.1:PORT with its state in DIR/state and its log in DIR/serve.log,
# killed when the script exits.
serve_up() {
  local dir=$1
  URL=http://127.0.0.1:$2
  $A init --store "sqlite:$dir/awan.db" >/dev/null
  T=$($A token create --store "sqlite:$dir/awan.db" --tenant my-university --role member 2>/dev/null | tail -1)
  $A serve --store "sqlite:$dir/awan.db" --fleet examples/fleets/asean.yaml --listen "127.0.0.1:$2" \
    --state-dir "$dir/state" > "$dir/serve.log" 2>&1 &
  S=$!
  trap "kill $S" EXIT
  sleep 1
}

# wait_service NAME PATTERN SECONDS: waits until service NAME's description (GET /v1/services/NAME) matches the
# grep PATTERN, e.g. '"ready":2'; fails, saying so, after SECONDS.
wait_service() {
  for _ in $(seq $(($3 * 10))); do
    curl -s "$URL/v1/services/$1" -H "Authorization: Bearer $T" | grep -q "$2" && return 0
    sleep 0.1
  done
  echo "service $1 did not match $2 within $3 s (see the server's log)" >&2
  return 1
}
