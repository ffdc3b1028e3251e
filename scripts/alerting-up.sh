#!/usr/bin/env bash
# Starts Prometheus and Alertmanager (Debian's prometheus, prometheus-alertmanager) on 127.0.0.1, wired to awan:
# Prometheus scrapes awan's /metrics (with the token), evaluates RULES (a Prometheus rule file) every second and
# sends what fires to Alertmanager, which posts it to awan's webhook (POST AWAN_URL/v1/alerts, with the token)
# at once (group_wait 0 s; Prometheus resends firing alerts every second, so one fired before it found
# Alertmanager is not lost). State under DIR; pids in DIR/*.pid, logs in DIR/*.log.
# Stop them with scripts/alerting-down.sh DIR.
#   scripts/alerting-up.sh DIR AWAN_URL TOKEN_FILE RULES [PROM_PORT=19090] [AM_PORT=19093]
set -euo pipefail
DIR=${1:?usage: alerting-up.sh DIR AWAN_URL TOKEN_FILE RULES [PROM_PORT] [AM_PORT]}
AWAN_URL=${2:?AWAN_URL}
TOKEN_FILE=${3:?TOKEN_FILE (a file holding an admin token)}
RULES=${4:?RULES (a Prometheus rule file)}
PROM_PORT=${5:-19090}
AM_PORT=${6:-19093}
for b in prometheus prometheus-alertmanager; do
  command -v $b > /dev/null || { echo "alerting-up: $b not found: run scripts/install-deps.sh" >&2; exit 2; }
done
mkdir -p "$DIR/prom-data" "$DIR/am-data"
DIR=$(cd "$DIR" && pwd)
TOKEN_FILE=$(cd "$(dirname "$TOKEN_FILE")" && pwd)/$(basename "$TOKEN_FILE")
RULES=$(cd "$(dirname "$RULES")" && pwd)/$(basename "$RULES")
HOSTPORT=${AWAN_URL#*://}
SCHEME=${AWAN_URL%%://*}
cat > "$DIR/alertmanager.yml" <<CONF
route:
  receiver: awan
  group_by: [alertname, instance]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: awan
    webhook_configs:
      - url: $AWAN_URL/v1/alerts
        send_resolved: false
        http_config:
          authorization: {credentials_file: $TOKEN_FILE}
CONF
cat > "$DIR/prometheus.yml" <<CONF
global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [$RULES]
alerting:
  alertmanagers:
    - static_configs: [{targets: ["127.0.0.1:$AM_PORT"]}]
scrape_configs:
  - job_name: awan
    scheme: $SCHEME
    authorization: {credentials_file: $TOKEN_FILE}
    static_configs: [{targets: ["$HOSTPORT"]}]
CONF
start() {  # NAME PORT READY_PATH COMMAND...
  local name=$1 port=$2 path=$3; shift 3
  if [ -f "$DIR/$name.pid" ] && kill -0 "$(cat "$DIR/$name.pid")" 2> /dev/null; then
    echo "alerting-up: $name already running (pid $(cat "$DIR/$name.pid"))" >&2; return 0
  fi
  "$@" > "$DIR/$name.log" 2>&1 &
  echo $! > "$DIR/$name.pid"
  for _ in $(seq 150); do
    curl -sf "http://127.0.0.1:$port$path" > /dev/null 2>&1 && return 0
    kill -0 "$(cat "$DIR/$name.pid")" 2> /dev/null || break
    sleep 0.1
  done
  echo "alerting-up: $name did not answer on 127.0.0.1:$port; its log: $DIR/$name.log" >&2
  tail -5 "$DIR/$name.log" >&2 || true
  exit 1
}
start alertmanager "$AM_PORT" /-/ready prometheus-alertmanager --config.file="$DIR/alertmanager.yml" \
  --storage.path="$DIR/am-data" --web.listen-address="127.0.0.1:$AM_PORT" --cluster.listen-address=
start prometheus "$PROM_PORT" /-/ready prometheus --config.file="$DIR/prometheus.yml" \
  --storage.tsdb.path="$DIR/prom-data" --web.listen-address="127.0.0.1:$PROM_PORT" --rules.alert.resend-delay=1s
echo "prometheus 127.0.0.1:$PROM_PORT alertmanager 127.0.0.1:$AM_PORT"
