#!/usr/bin/env bash
# Every test tier, as CI runs them (`pnpm test`): unit and integration test files two at a time, one per core
# (each integration file in a topic namespace and Redis database of its own), then the end-to-end suites one
# at a time with the machine to themselves, as their latencies are what they measure. Both runs go on when
# the other fails; the last line counts the tests of both. Arguments go to both jest runs.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
TERN_TEST_TALLY=$(mktemp)
export TERN_TEST_TALLY
trap 'rm -f "$TERN_TEST_TALLY"' EXIT
status=0
jest --selectProjects unit integration --maxWorkers=2 "$@" || status=$?
jest --selectProjects e2e --maxWorkers=1 "$@" || status=$?
exit "$status"
