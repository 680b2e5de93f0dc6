// LatAm fintech OTPs: the default regional route averages about 18 s and fails more than one in five in
// Colombia and Argentina. Tern's smart routing against that baseline on the same simulated world and traffic,
// counted from what reached the handsets. Smart routing runs in real time (scale 1): its latency is the
// product here, and a scaled clock would multiply the platform's own milliseconds into it. The baseline's
// OTPs take the default route's 18 s, so its world runs three times faster.
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
/**
 * OTPs per run. The smart run's: enough for SAMPLES_NEEDED (3,600) even at the delivery target (over 1,800
 * the mean spread by ±0.09-0.11 s, and one CI run in ten failed by chance). The baseline asserts only that
 * its mean lies between 14 s and 22 s, which 1,800 measure to about ±0.3 s.
 */
const OTPS = { smart: Math.ceil(SAMPLES_NEEDED / TARGET.delivered / 100) * 100, cheapest: 1_800 };
/**
 * OTPs a real second. The platform's own time (API to carrier) is part of the smart run's mean: about 55 ms
 * at 30 a second on this 2-core machine, 90 ms at 40 (3% of the mean, included in EXPECTED_LATENCY), 230 ms
 * at 60, which the mean cannot afford. The baseline's world, three times faster, gets them at 60 (its
 * platform time, tripled, stays about 2% of its 18 s).
 */
const PER_SECOND = { smart: 40, cheapest: 60 };
const BASELINE_TIME_SCALE = 3;
let result: Comparison;

beforeAll(async () => {
  result = await compareWithBaseline({
    suite: 'latam-fintech',
    heading: `OTPs to BR, MX, CO, AR: smart ${OTPS.smart} at ${PER_SECOND.smart} a second in real time, the baseline ${OTPS.cheapest} at time scale ${BASELINE_TIME_SCALE}`,
    scenario: loadScenario('latam-fintech'),
    baselineTimeScale: BASELINE_TIME_SCALE,
    traffic: async (run) => {
      await run.driveCount(OTPS[run.options.strategy], PER_SECOND[run.options.strategy], COUNTRIES);
      await run.settle(60_000);
    },
    margins: (tern) => [
      rateMargin('smart delivered', tern.delivered, tern.otps, TARGET.delivered, 'atLeast'),
      meanMargin('smart mean latency', tern.latenciesMs, TARGET.meanMs, 'atMost', ' ms'),
    ],
  });
}, 900_000);

describe('latam-fintech', () => {
  it('delivers at least 98.1% of OTPs, on average within 3.2 s, where the default route takes about 18 s', () => {
    const { baseline, tern } = result;
    // The API may refuse a few OTPs (listed in the report); the rest were counted.
    expect(baseline.otps).toBeGreaterThanOrEqual(0.95 * OTPS.cheapest);
    expect(tern.latenciesMs.length).toBeGreaterThanOrEqual(SAMPLES_NEEDED);
    expect(tern.otps).toBeGreaterThanOrEqual(
      trialsNeeded(EXPECTED.delivered, TARGET.delivered, 'atLeast', Z),
    );
    // The world is as the brief describes it.
    expect(baseline.meanMs).toBeGreaterThan(14_000);
    expect(baseline.meanMs).toBeLessThan(22_000);
    expect(tern.deliveryRate).toBeGreaterThanOrEqual(TARGET.delivered);
    // The world's floor is about 2.95 s: first attempts average 2.6 s (Brazil's direct route 2.3 s, Tier-1
    // 2.8 s elsewhere), and the 3% that Tier-1 fails cost about 20 s each on the 18 s default route, +0.35 s.
    // How many fail is chance, hence the smart run's size (see OTPS).
    expect(tern.meanMs).toBeLessThanOrEqual(TARGET.meanMs);
  });

  it('measures the baseline on a faster clock that leaves the platform’s own time a small share', () => {
    expect(result.runs.cheapest.timeScale).toBe(BASELINE_TIME_SCALE);
    expect(platformShare(result.runs.cheapest)).toBeLessThan(PLATFORM_SHARE_MAX);
  });
});
