#!/usr/bin/env bash
# Every test tier, as CI runs them (`pnpm test`): unit and integration test files two at a time, one per core
# (each integration file in a topic namespace and Redis database of its own), then the end-to-end suites. An
# e2e suite whose header says it "Runs side by side" shares the machine with one other: each platform run has
# its own topics, ClickHouse database and (per jest worker) Redis database, and those suites either run in
# real time, where a busier machine adds milliseconds to latencies of seconds, or assert what must hold however
# busy the machine is. The rest run one at a time with the machine to themselves: a time-scaled world
# multiplies the platform's own milliseconds by its scale, and latam-fintech's mean latency sits about 0.2 s
# inside its target. Every run goes on when another fails; the last line counts the tests of all. Arguments
# go to every jest run.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
TERN_TEST_TALLY=$(mktemp)
export TERN_TEST_TALLY
trap 'rm -f "$TERN_TEST_TALLY"' EXIT
status=0
jest --selectProjects unit integration --maxWorkers=2 "$@" || status=$?
mapfile -t beside < <(grep -rl --include='*.e2e-spec.ts' '^// Runs side by side' test-e2e | sort)
jest --selectProjects e2e --maxWorkers=2 "$@" --runTestsByPath "${beside[@]}" || status=$?
jest --selectProjects e2e --maxWorkers=1 "$@" --testPathIgnorePatterns "${beside[@]}" || status=$?
exit "$status"
