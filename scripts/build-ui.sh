#!/bin/sh
# Builds the web dashboard (web/) into OUT_DIR: npm ci when web/node_modules doesn't match the lock file,
# a type check, then vite. Called by the build (src/server/CMakeLists.txt); the output is embedded in awan.
set -eu
OUT=$(realpath -m "$1")
cd "$(dirname "$0")/../web"
if ! cmp -s package-lock.json node_modules/.awan-lock 2>/dev/null; then
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.awan-lock
fi
npx --no-install tsc --noEmit
AWAN_UI_OUT="$OUT" npx --no-install vite build --logLevel warn
