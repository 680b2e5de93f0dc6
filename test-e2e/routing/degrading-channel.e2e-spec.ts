// A channel that degrades in the middle of a run: LatAm's Tier-1 network, the best route to Mexico, Colombia
// and Argentina, delivers under a third of what it did from minute 2 to minute 5, then recovers. Tern must
// move most of that traffic away within a minute of scenario time and give it back after the recovery.
// Ten minutes of scenario at time scale 8, smart routing only (the baseline never uses the Tier-1 channel).
// Runs beside another time-scaled suite (scripts/test-all.sh): there, in CI, the platform's own time was
// 2.0-2.6% of the mean latency, against the 10% asserted. At time scale 10 beside the other scaled suites it
// reached 8.1%, at 12 10.7%, so the scale stays 8.
import { loadScenario } from '@tern/carrier-sim';
import { oracleTally, regretLine } from '../support/oracle';
import { PlatformRun } from '../support/platform-run';
import {
  PLATFORM_SHARE_MAX,
  latencyBreakdown,
  platformShare,
  reportTable,
  sharesOverTime,
  tally,
} from '../support/tally';

const MINUTE = 60_000;
const CHANNEL = 'latam-tier1';
const TIME_SCALE = 8;
/** OTPs a scenario second (12 a real second at scale 8): about 900 over the ten minutes. */
const PER_SCENARIO_SECOND = 1.5;
const base = loadScenario('latam-fintech');
const scenario = {
  ...base,
  timeline: [
    {
      event: 'degrade' as const,
      channel: CHANNEL,
      from: 2 * MINUTE,
      until: 5 * MINUTE,
      deliveryFactor: 0.3,
      latencyFactor: 1,
    },
  ],
};
let run: PlatformRun;
let windows: ReturnType<typeof sharesOverTime>;

/** The channel's share of the first attempts that reached the carriers in [from, until) of scenario time. */
function shareBetween(from: number, until: number): number {
  const inside = windows.filter((w) => w.from >= from && w.from < until);
  const total = inside.reduce((n, w) => n + w.total, 0);
  return inside.reduce((n, w) => n + w.total * (w.shares[CHANNEL] ?? 0), 0) / Math.max(1, total);
}

beforeAll(async () => {
  run = await PlatformRun.start({ scenario, strategy: 'smart', timeScale: TIME_SCALE });
  try {
    run.begin();
    await run.drive(10 * MINUTE, () => PER_SCENARIO_SECOND * TIME_SCALE, { MX: 50, CO: 25, AR: 25 });
    await run.settle(3 * MINUTE);
  } finally {
    await run.stop();
  }
  windows = sharesOverTime(run, 30_000);
  const tern = tally('Tern (smart routing)', run);
  const oracle = oracleTally(run);
  reportTable(
    'degrading-channel',
    `${CHANNEL} delivers 30% of its usual from minute 2 to 5; ${PER_SCENARIO_SECOND} OTPs a scenario second to MX, CO, AR; 10 minutes at time scale ${TIME_SCALE}`,
    [tern, oracle],
    [
      `carriers' seed ${run.options.seed} (TERN_E2E_SEED=${run.options.seed} replays their draws)`,
      regretLine(tern, oracle),
      latencyBreakdown(run),
      ...windows.map(
        (w) =>
          `${(w.from / MINUTE).toFixed(1)} min: ${w.total} OTPs, ${CHANNEL} took ${(100 * (w.shares[CHANNEL] ?? 0)).toFixed(0)}% first`,
      ),
    ],
  );
}, 900_000);

describe('a channel that degrades mid-run', () => {
  it('loses most of its traffic within a minute of scenario time', () => {
    const before = shareBetween(0.5 * MINUTE, 2 * MINUTE);
    expect(before).toBeGreaterThan(0.6);
    expect(shareBetween(3 * MINUTE, 5 * MINUTE)).toBeLessThan(before / 2);
  });

  it('wins its traffic back after it recovers', () => {
    const before = shareBetween(0.5 * MINUTE, 2 * MINUTE);
    // Its failures fade with analytics' 3-minute half-life while the breaker's probes and Thompson
    // sampling's draws earn fresh deliveries: most of its traffic is back within four minutes.
    expect(shareBetween(8.5 * MINUTE, 10 * MINUTE)).toBeGreaterThan(0.7 * before);
  });

  it('delivers the OTPs sent while no channel was failing', () => {
    // Between minutes 2 and 5 neither route delivers well (the default one fails a quarter in CO and AR);
    // outside them, and a minute after, every OTP has a good route and failover.
    const calm = tally('smart', run, (otp) => otp.sentAt < 2 * MINUTE || otp.sentAt >= 6 * MINUTE);
    expect(calm.otps).toBeGreaterThan(400);
    expect(calm.deliveryRate).toBeGreaterThan(0.98);
  });

  it('runs on a clock that leaves the platform’s own time a small share of the latencies', () => {
    expect(platformShare(run)).toBeLessThan(PLATFORM_SHARE_MAX);
  });
});
