// One carrier of a country badly served by a channel that serves the country's other carriers well
// (tools/carrier-sim/scenarios/carrier-split.yaml): from minute 4, Kenya's aggregator delivers under a third
// of Telkom Kenya's OTPs, slowly, and stays fast and reliable towards Safaricom and Airtel. Routing must move
// Telkom's traffic to the direct route and leave the other carriers where they were: the router's breaker
// towards that carrier opens on its receipts, not the channel's, and the carrier's own weights decide for
// it (pooled toward the channel's while it is thin, as much as the channel's carriers agree).
// Runs beside another time-scaled suite (scripts/test-all.sh): there, in CI, the platform's own time was
// 3.8-4.0% of the mean latency (2.0-2.4% alone), against the 10% asserted. At time scale 8 beside the other
// scaled suites it reached 7.5%, so the scale stays 6.
import { loadScenario } from '@tern/carrier-sim';
import { oracleTally, regretLine } from '../support/oracle';
import { PlatformRun, type SentOtp } from '../support/platform-run';
import {
  PLATFORM_SHARE_MAX,
  latencyBreakdown,
  platformShare,
  reportTable,
  sharesOverTime,
  tally,
} from '../support/tally';

const MINUTE = 60_000;
const AGGREGATOR = 'ke-aggregator';
const BAD = 'ke-telkom';
const GOOD = ['ke-safaricom', 'ke-airtel'];
const TIME_SCALE = 6;
/** OTPs a scenario second (12 a real second at scale 6): about 1,200 over the ten minutes, a third each. */
const PER_SCENARIO_SECOND = 2;
const STORY_MS = 10 * MINUTE;
const scenario = loadScenario('carrier-split');
/** When the world degrades the aggregator towards Telkom (minute 4), read from the world itself. */
const DEGRADED_FROM = scenario.timeline.find((e) => e.event === 'degrade' && e.carrier === BAD)!.from;
/**
 * Before: the two minutes up to the fault, once every carrier is learnt (the first two minutes leave room
 * for a slow start, which at time scale 6 costs six times its real length). After: from two minutes past it.
 */
const BEFORE: [number, number] = [DEGRADED_FROM - 2 * MINUTE, DEGRADED_FROM];
const AFTER: [number, number] = [DEGRADED_FROM + 2 * MINUTE, STORY_MS];
let run: PlatformRun;

/** The aggregator's share of the first attempts to these carriers' numbers in [from, until) of scenario time. */
function aggregatorShare(
  carriers: readonly string[],
  from: number,
  until: number,
): { share: number; otps: number } {
  const windows = sharesOverTime(run, 30_000, (otp: SentOtp) => carriers.includes(otp.carrier)).filter(
    (w) => w.from >= from && w.from < until,
  );
  const otps = windows.reduce((n, w) => n + w.total, 0);
  const share = windows.reduce((n, w) => n + w.total * (w.shares[AGGREGATOR] ?? 0), 0) / Math.max(1, otps);
  return { share, otps };
}

beforeAll(async () => {
  run = await PlatformRun.start({ scenario, strategy: 'smart', timeScale: TIME_SCALE });
  try {
    run.begin();
    await run.drive(STORY_MS, () => PER_SCENARIO_SECOND * TIME_SCALE, { KE: 100 });
    await run.settle(3 * MINUTE);
  } finally {
    await run.stop();
  }
  const byCarrier = (carriers: readonly string[]) =>
    sharesOverTime(run, MINUTE, (otp) => carriers.includes(otp.carrier))
      .map((w) => `${(w.from / MINUTE).toFixed(0)}: ${(100 * (w.shares[AGGREGATOR] ?? 0)).toFixed(0)}%`)
      .join(', ');
  const tern = tally('Tern (smart routing)', run);
  const oracle = oracleTally(run);
  reportTable(
    'carrier-split',
    `${AGGREGATOR} serves ${BAD} badly from minute ${DEGRADED_FROM / MINUTE}, ${GOOD.join(' and ')} well; ${PER_SCENARIO_SECOND} OTPs a scenario second to KE; ${STORY_MS / MINUTE} minutes at time scale ${TIME_SCALE}`,
    [tern, oracle],
    [
      `carriers' seed ${run.options.seed} (TERN_E2E_SEED=${run.options.seed} replays their draws)`,
      regretLine(tern, oracle),
      latencyBreakdown(run),
      `${AGGREGATOR}'s share of first attempts per minute, ${GOOD.join(' and ')}: ${byCarrier(GOOD)}`,
      `${AGGREGATOR}'s share of first attempts per minute, ${BAD}: ${byCarrier([BAD])}`,
    ],
  );
}, 900_000);

describe('a channel that fails one carrier of a country', () => {
  // About 160 OTPs per carrier group and period. Recorded runs: see the table's per-minute shares.
  it('loses that carrier’s traffic', () => {
    const before = aggregatorShare([BAD], ...BEFORE);
    const after = aggregatorShare([BAD], ...AFTER);
    // It carried the carrier's traffic before (a third of the country's, so its early share varies more).
    expect(before.share).toBeGreaterThan(0.5);
    expect(after.otps).toBeGreaterThan(100);
    expect(after.share).toBeLessThan(0.2);
  });

  it('keeps the other carriers’ share, within 20%', () => {
    const before = aggregatorShare(GOOD, ...BEFORE);
    const after = aggregatorShare(GOOD, ...AFTER);
    expect(before.share).toBeGreaterThan(0.6);
    expect(after.otps).toBeGreaterThan(200);
    expect(after.share).toBeGreaterThan(0.8 * before.share);
  });

  it('delivers the other carriers’ OTPs as before', () => {
    const good = tally('good', run, (otp) => GOOD.includes(otp.carrier));
    expect(good.deliveryRate).toBeGreaterThan(0.97);
  });

  it('runs on a clock that leaves the platform’s own time a small share of the latencies', () => {
    expect(platformShare(run)).toBeLessThan(PLATFORM_SHARE_MAX);
  });
});
