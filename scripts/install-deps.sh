#!/usr/bin/env bash
# Installs everything awan needs to build, test and report, from Debian 12's package archive only.
# Idempotent: safe to run again. Needs root (or sudo).
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
PKGS=(
  build-essential cmake ninja-build pkg-config git
  libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev libfmt-dev nlohmann-json3-dev
  gnuplot-nox libglpk-dev libyaml-cpp-dev
  libssl-dev librapidcheck-dev libboost1.81-dev
  libcpp-httplib-dev libsqlitecpp-dev libsqlite3-dev libjemalloc-dev wrk
  clang-14 libclang-rt-14-dev clang-format python3
  slurm-wlm munge etcd-server etcd-client
  podman runc docker-registry curl
  prometheus prometheus-alertmanager
  chromium fonts-dejavu-core
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js and npm build the web dashboard (web/); the machine's own are used when present (Debian's 18 also
# builds it), its npm packages come from the npm registry at build time (scripts/build-ui.sh).
command -v npm > /dev/null || missing+=(nodejs npm)
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages already installed"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
