#!/usr/bin/env bash
# Runs every test on a fresh Debian 12 machine: installs dependencies, builds the Release preset and runs
# its whole suite (unit, scenario, contract, integration, and the quality gate against the published FGD
# results in ../shared), then builds the Debug preset with AddressSanitizer + UndefinedBehaviorSanitizer
# and runs everything but the slow quality gate under the sanitizers. Between the two, the libFuzzer targets
# (scripts/fuzz.sh) run for a bounded time. The Slurm integration test starts its own cluster on 127.0.0.1 with
# scripts/slurm-up.sh (it needs root; it is skipped, visibly, without).
# First, every C++ file must be formatted as .clang-format says (clang-format --dry-run --Werror), and no
# function in src/core or src/server may be longer than 80 lines (scripts/check-function-length.py).
# Usage: scripts/test.sh [--release-only]
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${AWAN_BUILD_JOBS:-$(nproc)}
bash scripts/install-deps.sh
echo "== format (.clang-format) check"
git ls-files '*.cc' '*.h' | xargs clang-format --dry-run --Werror
echo "== no function over 80 lines in src/core and src/server"
python3 scripts/check-function-length.py --max 80 src/core/*.cc src/core/*.h src/server/*.cc src/server/*.h
echo "== release build"
cmake --preset release >/dev/null
cmake --build --preset release -j "$JOBS"
echo "== release tests"
ctest --preset release -j "$JOBS"
echo "== fuzzing (libFuzzer, ${AWAN_FUZZ_SECONDS:-30} s per target)"
bash scripts/fuzz.sh "${AWAN_FUZZ_SECONDS:-30}"
if [ "${1:-}" != "--release-only" ]; then
  echo "== debug build (ASan + UBSan)"
  cmake --preset debug >/dev/null
  cmake --build --preset debug -j "$JOBS"
  echo "== debug tests (sanitizers; the slow quality gate runs in release only)"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --preset debug -j "$JOBS"
fi
