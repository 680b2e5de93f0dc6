// LatAm fintech OTPs: the default regional route averages about 18 s and fails more than one in five in
// Colombia and Argentina. Tern's smart routing against that baseline on the same simulated world and traffic,
// counted from what reached the handsets. Smart routing runs in real time (scale 1): its latency is the
// product here, and a scaled clock would multiply the platform's own milliseconds into it. The baseline's
// OTPs take the default route's 18 s, so its world runs three times faster.
import { loadScenario } from '@tern/carrier-sim';
import { meanMargin, rateMargin, trialsNeeded } from '@tern/testing';
import { compareWithBaseline, type Comparison } from '../support/compare';
import { PLATFORM_SHARE_MAX, platformShare } from '../support/tally';

// Sign-ins by country, in proportion to the four countries' populations.
const COUNTRIES = { BR: 49, MX: 29, CO: 12, AR: 10 };
/** The target is an average, and a third as many OTPs measure it with too much chance in it (see the last assertion). */
const OTPS = 1_800;
/**
 * OTPs a real second. At 60 the platform's own time rose from about 60 ms to 230 ms on this 2-core machine,
 * which the smart run's mean cannot afford; the baseline's world, three times faster, gets them twice as
 * fast (its platform time, tripled, stays about 2% of its 18 s).
 */
const PER_SECOND = { smart: 30, cheapest: 60 };
const BASELINE_TIME_SCALE = 3;
/** Targets, and the delivery rate recorded runs gave (smart 99.3-99.7%). */
const TARGET = { delivered: 0.981, meanMs: 3_200 };
const EXPECTED = { delivered: 0.995 };
const Z = 3;
let result: Comparison;

beforeAll(async () => {
  result = await compareWithBaseline({
    suite: 'latam-fintech',
    heading: `${OTPS} OTPs to BR, MX, CO, AR: smart at ${PER_SECOND.smart} a second in real time, the baseline at time scale ${BASELINE_TIME_SCALE}`,
    scenario: loadScenario('latam-fintech'),
    baselineTimeScale: BASELINE_TIME_SCALE,
    traffic: async (run) => {
      await run.driveCount(OTPS, PER_SECOND[run.options.strategy], COUNTRIES);
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
    expect(baseline.otps).toBeGreaterThanOrEqual(1_710);
    // 1,710 for the mean's precision (see the last assertion); the delivery target needs fewer for 3σ.
    expect(tern.otps).toBeGreaterThanOrEqual(1_710);
    expect(tern.otps).toBeGreaterThanOrEqual(
      trialsNeeded(EXPECTED.delivered, TARGET.delivered, 'atLeast', Z),
    );
    // The world is as the brief describes it.
    expect(baseline.meanMs).toBeGreaterThan(14_000);
    expect(baseline.meanMs).toBeLessThan(22_000);
    expect(tern.deliveryRate).toBeGreaterThanOrEqual(TARGET.delivered);
    // The world's floor is about 2.95 s: first attempts average 2.6 s (Brazil's direct route 2.3 s, Tier-1
    // 2.8 s elsewhere), and the 3% that Tier-1 fails cost about 20 s each on the 18 s default route, +0.35 s.
    // How many fail is chance: over 600 OTPs the average spread by about ±0.17 s and sat at 3.2 s or above in
    // a third of the runs; over 1,800 the spread is about ±0.08 s.
    expect(tern.meanMs).toBeLessThanOrEqual(TARGET.meanMs);
  });

  it('measures the baseline on a faster clock that leaves the platform’s own time a small share', () => {
    expect(result.runs.cheapest.timeScale).toBe(BASELINE_TIME_SCALE);
    expect(platformShare(result.runs.cheapest)).toBeLessThan(PLATFORM_SHARE_MAX);
  });
});
