#!/usr/bin/env bash
# The long exactly-once fault runs of docs/exactly-once.md, in one go: the fault test without lock-step
# over 20 seeds (collector SIGKILLs, throttling, reordering, correlator crashes), then issue 14's kill -9 +
# restart of local mode (real time). Each prints its outcome; the exit status is non-zero if any failed.
# Usage: scripts/exactly-once-faults.sh [seeds]
set -euo pipefail
cd "$(dirname "$0")/.."
seeds="${1:-20}"
FLOWLINE_FAULT_SEEDS="$seeds" npx vitest run test/integration/e2e-unordered-faults.test.ts
FLOWLINE_SLOW_FAULTS=1 npx vitest run test/integration/kill-restart.test.ts
