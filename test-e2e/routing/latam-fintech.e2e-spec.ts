// LatAm fintech OTPs: the default regional route averages about 18 s and fails more than one in five in
// Colombia and Argentina. Tern's smart routing against that baseline on the same simulated world and traffic,
// counted from what reached the handsets. Both run in real time (scale 1): smart routing's latency is the
// product here, and a scaled clock would multiply the platform's own milliseconds into it; the baseline's
// run ends when its last OTP reaches the carrier, so a faster clock would save it no time.
// The baseline starts once the smart run's last OTP is sent, while that run waits for its stragglers
// (compare.ts).
// Runs alone while it sends (scripts/test-all.sh): its mean sits 0.2-0.3 s inside its target, about 3
// standard errors. Even beside the light console and lifecycle suites, its platform's own time (API to
// carrier) went from 30-45 ms an OTP to 53-126 ms in CI, eating up to half of that margin. Once both runs'
// traffic is sent, the other suites start beside its wait for the last receipts: its latencies are the
// carriers' from there on, but for its stragglers' retries.
import { loadScenario } from '@tern/carrier-sim';
import { meanMargin, rateMargin, samplesNeeded, trialsNeeded } from '@tern/testing';
import { compareWithBaseline, type Comparison } from '../support/compare';
import { PLATFORM_SHARE_MAX, platformShare } from '../support/tally';

// Sign-ins by country, in proportion to the four countries' populations.
const COUNTRIES = { BR: 49, MX: 29, CO: 12, AR: 10 };
/** Targets, and what recorded runs gave (smart delivered 99.3-99.8%; see EXPECTED_LATENCY). */
const TARGET = { delivered: 0.981, meanMs: 3_200 };
const EXPECTED = { delivered: 0.995 };
/**
 * The smart run's latency in recorded runs: means of 2.92-3.22 s over 1,800 OTPs at 30 a second, 2.98 s over
 * 3,700 at 40; one OTP's spread (the sample standard deviation) 3.5-4.5 s, most of it the few that fail over
 * to the 18 s default route.
 */
const EXPECTED_LATENCY = { mean: 3_000, sd: 4_000 };
const Z = 3;
/** Delivered OTPs the smart run needs so that its expected mean sits Z standard errors inside the target. */
const SAMPLES_NEEDED = samplesNeeded(EXPECTED_LATENCY, TARGET.meanMs, 'atMost', Z);
/** The brief's world: the default route takes about 18 s, asserted of the baseline's mean. */
const BASELINE_MEAN_MS = { above: 14_000, below: 22_000 };
/**
 * The baseline's latency in recorded runs: means of 17.6-18.5 s, one OTP's spread about 12 s (p50 15 s, p95
 * 41-42 s), 82-85% delivered.
 */
const EXPECTED_BASELINE = { mean: 18_000, sd: 12_000, delivered: 0.82 };
/** Delivered OTPs the baseline needs so that its expected mean sits Z standard errors inside both bounds. */
const BASELINE_SAMPLES_NEEDED = Math.max(
  samplesNeeded(EXPECTED_BASELINE, BASELINE_MEAN_MS.below, 'atMost', Z),
  samplesNeeded(EXPECTED_BASELINE, BASELINE_MEAN_MS.above, 'atLeast', Z),
);
/**
 * OTPs per run. The smart run's: enough for SAMPLES_NEEDED (3,600) even at the delivery target (over 1,800
 * the mean spread by ±0.09-0.11 s, and one CI run in ten failed by chance). The baseline's: four times what
 * BASELINE_SAMPLES_NEEDED (81) asks at its delivery rate, 400, as its latencies have a long tail (p95 over
 * twice the mean), which a mean of few samples follows slowly: about 6σ inside both bounds. The 1,800 it had
 * measured its mean to ±0.3 s, where the bounds are 4 s away, and cost the suite 45 s more.
 */
const OTPS = {
  smart: Math.ceil(SAMPLES_NEEDED / TARGET.delivered / 100) * 100,
  cheapest: Math.ceil((4 * BASELINE_SAMPLES_NEEDED) / EXPECTED_BASELINE.delivered / 100) * 100,
};
/**
 * OTPs a second. The platform's own time (API to carrier) is part of the smart run's mean, which
 * EXPECTED_LATENCY allows 90 ms of. On this 2-core machine it was 31-35 ms at 40 a second, 33-45 ms at 60 and
 * 53 ms at 80: 60 keeps it at half the allowance, and sends the smart run's OTPs in 62 s, not 93 s. The
 * baseline gets them at 60 too (its platform time is well under 1% of its 18 s).
 */
const PER_SECOND = { smart: 60, cheapest: 60 };
let result: Comparison;

beforeAll(async () => {
  result = await compareWithBaseline({
    suite: 'latam-fintech',
    heading: `OTPs to BR, MX, CO, AR: smart ${OTPS.smart}, the baseline ${OTPS.cheapest}, at ${PER_SECOND.smart} a second in real time`,
    scenario: loadScenario('latam-fintech'),
    drive: (run) => run.driveCount(OTPS[run.options.strategy], PER_SECOND[run.options.strategy], COUNTRIES),
    settle: (run) => run.settle(60_000),
    margins: (tern, baseline) => [
      rateMargin('smart delivered', tern.delivered, tern.otps, TARGET.delivered, 'atLeast'),
      meanMargin('smart mean latency', tern.latenciesMs, TARGET.meanMs, 'atMost', ' ms'),
      meanMargin('baseline mean latency', baseline.latenciesMs, BASELINE_MEAN_MS.above, 'atLeast', ' ms'),
      meanMargin('baseline mean latency', baseline.latenciesMs, BASELINE_MEAN_MS.below, 'atMost', ' ms'),
    ],
  });
}, 900_000);

describe('latam-fintech', () => {
  it('delivers at least 98.1% of OTPs, on average within 3.2 s, where the default route takes about 18 s', () => {
    const { baseline, tern } = result;
    // The API may refuse a few OTPs (listed in the report); the rest were counted.
    expect(baseline.otps).toBeGreaterThanOrEqual(0.95 * OTPS.cheapest);
    expect(baseline.latenciesMs.length).toBeGreaterThanOrEqual(BASELINE_SAMPLES_NEEDED);
    expect(tern.latenciesMs.length).toBeGreaterThanOrEqual(SAMPLES_NEEDED);
    expect(tern.otps).toBeGreaterThanOrEqual(
      trialsNeeded(EXPECTED.delivered, TARGET.delivered, 'atLeast', Z),
    );
    // The world is as the brief describes it.
    expect(baseline.meanMs).toBeGreaterThan(BASELINE_MEAN_MS.above);
    expect(baseline.meanMs).toBeLessThan(BASELINE_MEAN_MS.below);
    expect(tern.deliveryRate).toBeGreaterThanOrEqual(TARGET.delivered);
    // The world's floor is about 2.95 s: first attempts average 2.6 s (Brazil's direct route 2.3 s, Tier-1
    // 2.8 s elsewhere), and the 3% that Tier-1 fails cost about 20 s each on the 18 s default route, +0.35 s.
    // How many fail is chance, hence the smart run's size (see OTPS).
    expect(tern.meanMs).toBeLessThanOrEqual(TARGET.meanMs);
  });

  it('measures the baseline with the platform’s own time a small share of its latency', () => {
    expect(platformShare(result.runs.cheapest)).toBeLessThan(PLATFORM_SHARE_MAX);
  });
});
