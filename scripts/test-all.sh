#!/usr/bin/env bash
# Every check and test tier, as CI runs them (`pnpm test`, on built code): lint, type check and unit tests,
# the integration test files five at a time (each in a topic namespace and Redis database of its own; they
# wait on brokers and processes more than they compute: two at a time took 240 s, four 138 s; without the
# image's build steps, alone on the machine, four took 122 s, five 104 s and six 99 s, with 21% still idle),
# and the end-to-end suites in three steps. Each platform run has its own topics, ClickHouse database and
# (per jest worker) Redis database, so suites that share the machine share no state; what decides the step is
# how much a busier machine may move what a suite asserts. Past two platforms at once, the two cores are the
# limit: three scaled suites side by side took the platform's own time from 2-5% of their latencies to 7-12%.
# 1. Alone while it sends, the suite whose header says it "Runs alone": latam-fintech, whose mean sits
#    0.2-0.3 s inside its target at 60 OTPs a second in real time. In step 3 it saved 43 s, and took
#    mideast-peak's platform share to 9.2%, against the 10% asserted; as a third suite in step 2 its platform
#    time went from 30-45 ms an OTP to 9.9 s, and it failed; with the console and lifecycle suites beside it,
#    to 53-126 ms (up to half its margin), for 25 s saved. Once both its runs' traffic is sent it writes a
#    line to TERN_E2E_SENT_FILE (test-e2e/support/compare.ts), and the integration files start beside the
#    rest of it: about 50 s of waiting for the carriers' last receipts, with little left for its platform to
#    do. (Its baseline beside three platforms starting had 0.4-2.8 s of platform time an OTP, 2.4-12.6% of its
#    latency, over the 10% asserted.) Its output follows once it ends.
#    While it sends, lint, the type check and the unit tests take the CPU its platform leaves (nice 19): they
#    share no broker or database with it, and its platform time went from 43 to 51 ms an OTP beside them. The
#    integration files cannot: at nice 19 beside step 2 they starved and failed (the Kafka wrapper's timing
#    cases), and beside step 3 their broker traffic took mideast-peak's platform share to 9.4%. On a broker,
#    ClickHouse and Redis of their own (infra.sh with TERN_DATA_DIR and ports of its own) beside step 3, at
#    nice 19, they still took it to 9.0% (fake-receipts' to 7.2%), took 313 s and failed two timing cases.
# 2. Three at a time, the suites whose header says they "Run side by side": they run in real time, where a
#    busier machine adds milliseconds to latencies of seconds, or assert what must hold however busy it is.
#    Two at a time they took 290-305 s, three at a time 223-232 s (each fault drill a file of its own, so
#    that the four spread over the workers: as one file they took 236-274 s on one worker).
# 3. Two at a time, those that run "beside another time-scaled suite": a scaled world multiplies the
#    platform's own milliseconds by its scale, and these keep that share well under its limit beside another
#    scaled world (each header says by how much), though not beside the heavier suites of step 2.
#    They leave about half the two cores idle (bound by their scenarios' real time), which the integration
#    files whose header says they run "in the time-scaled suites' idle CPU" take at nice 19: those need no
#    broker, only CPU (the image's build steps: 30 s alone, 53 s among the other integration files). Not so
#    the console and lifecycle suites: their platforms at nice 19 still load the broker, and took Egypt's
#    share in mideast-peak from 3.4% to 6.9%, fake-receipts' from 2.7% to 4.8%.
# Files whose header says they "Run only from" a command (./tern drill) are not part of it.
# Within a step, suites start in the order given (libs/testing/given-order-sequencer.cjs), not in jest's
# (largest file first on a fresh machine): the longest first (LONGEST, from CI's timings), so that the
# others fill in beside them, then by path. In step 3, the paths' order alone paired carrier-split with
# mideast-peak: 330 s, where longest first pairs them 292 s and 288 s.
# A suite whose header names no step fails the run.
# Every run goes on when another fails; the last line counts the tests of all (the summary reporter's, in
# libs/testing). Arguments go to every jest run.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
TERN_TEST_TALLY=$(mktemp)
export TERN_TEST_TALLY
sent=$(mktemp)
alone_log=$(mktemp)
checks_log=$(mktemp)
idle_log=$(mktemp)
trap 'rm -f "$TERN_TEST_TALLY" "$sent" "$alone_log" "$checks_log" "$idle_log"' EXIT
status=0
LONGEST=(test-e2e/fraud/pumping.e2e-spec.ts test-e2e/routing/sea-ecommerce.e2e-spec.ts
  test-e2e/drills/kill-smpp-connector.e2e-spec.ts test-e2e/drills/kill-router.e2e-spec.ts
  test-e2e/drills/redis-restart.e2e-spec.ts test-e2e/drills/kill-dlr.e2e-spec.ts
  test-e2e/routing/mideast-peak.e2e-spec.ts test-e2e/routing/fake-receipts.e2e-spec.ts)
# The e2e files whose header carries a step's marker: LONGEST's first, then the others by path.
marked() {
  local all
  all=$(grep -rl --include='*.e2e-spec.ts' "^// $1" test-e2e | sort)
  { printf '%s\n' "${LONGEST[@]}" | grep -xF -f <(echo "$all"); echo "$all" | grep -vxF -f <(printf '%s\n' "${LONGEST[@]}"); } | grep -v '^$'
}
mapfile -t beside < <(marked 'Runs side by side')
mapfile -t scaled < <(marked 'Runs beside another time-scaled suite')
mapfile -t alone < <(marked 'Runs alone')
mapfile -t on_demand < <(marked 'Runs only from')
mapfile -t in_idle_cpu < <(grep -rl --include='*.spec.ts' "^// Runs in the time-scaled suites' idle CPU" \
  libs services tools | sort)
mapfile -t unplaced < <(find test-e2e -name '*.e2e-spec.ts' | sort |
  grep -vxF -f <(printf '%s\n' "${beside[@]}" "${scaled[@]}" "${alone[@]}" "${on_demand[@]}"))
if ((${#unplaced[@]} > 0)); then
  echo "test-all: every e2e suite's header says where it runs; these say nothing: ${unplaced[*]}" >&2
  exit 1
fi
# Its worker takes the Redis databases of the fourth e2e worker: the next step's three number theirs from 1.
TERN_E2E_SENT_FILE=$sent TERN_TEST_WORKERS_BEFORE=3 jest --selectProjects e2e --maxWorkers=1 "$@" \
  --runTestsByPath "${alone[@]}" >"$alone_log" 2>&1 &
alone_run=$!
(
  renice -n 19 -p "$BASHPID" >/dev/null
  started=$SECONDS
  failed=0
  pnpm lint &
  lint=$!
  pnpm typecheck || failed=1
  wait "$lint" || failed=1
  echo "[test-all] lint and type check took $((SECONDS - started)) s"
  jest --selectProjects unit "$@" || failed=1
  exit "$failed"
) >"$checks_log" 2>&1 &
checks=$!
while (($(wc -l <"$sent") < ${#alone[@]})) && kill -0 "$alone_run" 2>/dev/null; do sleep 1; done
jest --selectProjects integration --maxWorkers=5 "$@" "${in_idle_cpu[@]/#/--testPathIgnorePatterns=}" ||
  status=$?
wait "$checks" || status=$?
cat "$checks_log"
jest --selectProjects e2e --maxWorkers=3 "$@" --runTestsByPath "${beside[@]}" || status=$?
wait "$alone_run" || status=$?
cat "$alone_log"
(
  renice -n 19 -p "$BASHPID" >/dev/null
  if ((${#in_idle_cpu[@]} > 0)); then
    jest --selectProjects integration --maxWorkers=1 "$@" --runTestsByPath "${in_idle_cpu[@]}"
  fi
) >"$idle_log" 2>&1 &
idle_run=$!
jest --selectProjects e2e --maxWorkers=2 "$@" --runTestsByPath "${scaled[@]}" || status=$?
wait "$idle_run" || status=$?
# Its own last line counts only the runs ended before it: whichever ended last, the line after it counts all.
grep -v '^tests: ' "$idle_log"
node libs/testing/summary-reporter.cjs "$TERN_TEST_TALLY"
exit "$status"
