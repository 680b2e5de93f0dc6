// A channel whose SMSC throttles in the middle of a run: LatAm's Tier-1 network, the best route to Mexico,
// Colombia and Argentina, takes only 2 submissions a second from minute 1 to minute 4, against the 10-12 a
// second of OTPs it carries. Its binds stay up and nothing it takes fails: only the connector's queue tells.
// Tern must send the OTPs it cannot take now elsewhere, and give it its traffic back once it takes it again.
// Six minutes of scenario at time scale 8, smart routing only (the baseline never uses the Tier-1 channel).
// Runs beside another time-scaled suite (scripts/test-all.sh), as degrading-channel does on the same world.
import { loadScenario } from '@tern/carrier-sim';
import { PlatformRun, type SentOtp } from '../support/platform-run';
import { deliveredTwice, latencyBreakdown, reportTable, tally } from '../support/tally';

const MINUTE = 60_000;
const CHANNEL = 'latam-tier1';
const TIME_SCALE = 8;
/** OTPs a scenario second (12 a real second at scale 8). */
const PER_SCENARIO_SECOND = 1.5;
/** What the SMSC takes while it throttles, a real second (an SMSC's rate is not scaled). */
const THROTTLED_TPS = 2;
const THROTTLED = { from: 1 * MINUTE, until: 4 * MINUTE };
/**
 * OTPs sent from here to the throttle's end are the ones judged. The SMSC's token bucket holds a second of
 * its usual 100 a second: at 12 OTPs a real second and 2 of refill it lasts 10 real seconds (80 s of
 * scenario), so the queue forms at about 2.3 minutes; then the connector's report and the routers' reading
 * take a second or two of real time each.
 */
const JUDGED_FROM = 2.5 * MINUTE;
/**
 * The median OTP sent while the channel throttles reaches a carrier within this, scenario time: most go to
 * the other route at once; the router keeps sending to Tier-1 only while its queue costs less than the
 * other route's 15 s median and lower delivery rate (about 16 s of queue). Without the queue in the route's
 * latency, every OTP routed to it waits in the queue, which grows by 10 OTPs a real second.
 */
const THROTTLED_TO_CARRIER_P50_MS = 10_000;
const base = loadScenario('latam-fintech');
const scenario = {
  ...base,
  timeline: [{ event: 'congestion' as const, channel: CHANNEL, ...THROTTLED, tps: THROTTLED_TPS }],
};
let run: PlatformRun;
/** The OTPs that reached their handsets twice, each with how (what the carriers took, Tern's attempts). */
let twice: string[];

/** Scenario ms from the API to the first carrier that took the OTP. */
const toCarrier = (otp: SentOtp) => (otp.submissions[0]?.arrivedAt ?? Number.POSITIVE_INFINITY) - otp.sentAt;

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

/** The OTPs sent in [from, until) of scenario time. */
const sentBetween = (from: number, until: number) =>
  [...run.otps.values()].filter((otp) => otp.sentAt >= from && otp.sentAt < until);

/** The channel's share of the first attempts of the OTPs sent in [from, until). */
function shareOfSent(from: number, until: number): number {
  const sent = sentBetween(from, until).filter((otp) => otp.submissions.length > 0);
  return sent.filter((otp) => otp.submissions[0]!.channel === CHANNEL).length / Math.max(1, sent.length);
}

beforeAll(async () => {
  run = await PlatformRun.start({ scenario, strategy: 'smart', timeScale: TIME_SCALE });
  try {
    run.begin();
    await run.drive(6 * MINUTE, () => PER_SCENARIO_SECOND * TIME_SCALE, { MX: 50, CO: 25, AR: 25 });
    await run.settle(3 * MINUTE);
  } finally {
    await run.stop();
  }
  twice = await deliveredTwice(run);
  const judged = sentBetween(JUDGED_FROM, THROTTLED.until).map(toCarrier);
  const minutes = Array.from({ length: 12 }, (_, i) => (i * MINUTE) / 2);
  reportTable(
    'throttling-channel',
    `${CHANNEL} takes ${THROTTLED_TPS} submissions a real second from minute 1 to 4; ${PER_SCENARIO_SECOND} OTPs a scenario second to MX, CO, AR; 6 minutes at time scale ${TIME_SCALE}`,
    [tally('Tern (smart routing)', run)],
    [
      `carriers' seed ${run.options.seed} (TERN_E2E_SEED=${run.options.seed} replays their draws)`,
      latencyBreakdown(run),
      `sent from minute 2.5 to 4: ${judged.length} OTPs, to a carrier p50 ${(quantile(judged, 0.5) / 1000).toFixed(1)} s (at most ${THROTTLED_TO_CARRIER_P50_MS / 1000} s), p95 ${(quantile(judged, 0.95) / 1000).toFixed(1)} s`,
      ...minutes.map((from) => {
        const sent = sentBetween(from, from + MINUTE / 2);
        const p50 = quantile(sent.map(toCarrier), 0.5) / 1000;
        return `sent at ${(from / MINUTE).toFixed(1)} min: ${sent.length} OTPs, ${CHANNEL} first for ${(100 * shareOfSent(from, from + MINUTE / 2)).toFixed(0)}%, to a carrier p50 ${p50.toFixed(1)} s`;
      }),
      ...twice,
    ],
  );
}, 900_000);

describe('a channel whose SMSC throttles mid-run', () => {
  it('sends most OTPs elsewhere while its queue lasts, and gets its traffic back after', () => {
    const before = shareOfSent(0.5 * MINUTE, THROTTLED.from);
    expect(before).toBeGreaterThan(0.6);
    // It takes 2 a real second of the 12 sent: a sixth, and a little more while the routers hear of it.
    expect(shareOfSent(JUDGED_FROM, THROTTLED.until)).toBeLessThan(0.35);
    expect(shareOfSent(4.5 * MINUTE, 6 * MINUTE)).toBeGreaterThan(0.7 * before);
  });

  it('gets the OTPs sent while it throttles to a carrier without waiting in its queue', () => {
    const judged = sentBetween(JUDGED_FROM, THROTTLED.until);
    expect(judged.length).toBeGreaterThan(100);
    expect(quantile(judged.map(toCarrier), 0.5)).toBeLessThan(THROTTLED_TO_CARRIER_P50_MS);
  });

  it('delivers the OTPs and sends none twice', () => {
    const tern = tally('smart', run);
    expect(tern.deliveryRate).toBeGreaterThan(0.98);
    // The examples say which OTPs and how, when any was.
    expect({ sentTwice: tern.sentTwice, examples: twice }).toEqual({ sentTwice: 0, examples: [] });
  });
});
