// South-East Asian e-commerce OTPs: the cheapest route, taken blindly, delivers about 82%. Tern's smart
// routing against that baseline on the same simulated world and the same traffic, counted from what reached
// the handsets. Both run in real time (scale 1): smart routing's latency is the product here, and a scaled
// clock would multiply the platform's own milliseconds into the baseline's too, for no time saved (its run
// ends when its last OTP reaches the carrier, while the smart run waits for its stragglers).
// The baseline starts once the smart run's last OTP is sent, while that run waits for its stragglers
// (compare.ts).
// Runs side by side with other suites: a busier machine adds milliseconds to routes of seconds, and its targets
// are delivery rates and a median four times apart.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadScenario } from '@tern/carrier-sim';
import { infraFromEnv, launchChromium, rateMargin, renderedWidths, trialsNeeded } from '@tern/testing';
import { compareWithBaseline, type Comparison } from '../support/compare';
import { PLATFORM_SHARE_MAX, platformShare, type Tally } from '../support/tally';

const root = join(__dirname, '..', '..');

// Shoppers by country (Vietnam's carriers take only the shop's own registered sender, not Tern's OTP sender).
const COUNTRIES = { ID: 45, PH: 25, TH: 15, MY: 15 };
/** Enough that the expected rates sit Z standard deviations inside their targets (checked below). */
const OTPS = 600;
/**
 * OTPs a second, for both runs. The baseline's 40 s of sending mostly fit in the time the smart run waits
 * for its stragglers (up to a minute). At 30 a second, beside the fault drills, its platform time reached
 * 750 ms an OTP (6.3% of its mean latency, against the 10% asserted): 15 halves both its load and what one
 * stall of the machine adds to its mean (the stall is spread over twice the seconds of sending).
 */
const PER_SECOND = 15;
/** Delivery targets and the rates recorded runs gave (smart 99.3-100%, baseline 80-86%). */
const TARGET = { tern: 0.976, baselineAbove: 0.75, baselineBelow: 0.9 };
const EXPECTED = { tern: 0.995, baseline: 0.83 };
/** Standard deviations the expected results must sit inside their targets. */
const Z = 3;
let result: Comparison;

const margins = (tern: Tally, baseline: Tally) => [
  rateMargin('smart delivered', tern.delivered, tern.otps, TARGET.tern, 'atLeast'),
  rateMargin('baseline delivered', baseline.delivered, baseline.otps, TARGET.baselineAbove, 'atLeast'),
  rateMargin('baseline delivered', baseline.delivered, baseline.otps, TARGET.baselineBelow, 'atMost'),
];

beforeAll(async () => {
  result = await compareWithBaseline({
    suite: 'sea-ecommerce',
    heading: `${OTPS} OTPs to ID, PH, TH, MY at ${PER_SECOND} a second, smart and baseline in real time`,
    scenario: loadScenario('sea-ecommerce'),
    drive: (run) => run.driveCount(OTPS, PER_SECOND, COUNTRIES),
    settle: (run) => run.settle(60_000),
    margins,
  });
}, 900_000);

describe('sea-ecommerce', () => {
  it('delivers at least 97.6% of OTPs where the cheapest route delivers about 82%', () => {
    const { baseline, tern } = result;
    // Enough OTPs that the expected rates sit Z standard deviations inside their targets (about 600).
    expect(tern.otps).toBeGreaterThanOrEqual(trialsNeeded(EXPECTED.tern, TARGET.tern, 'atLeast', Z));
    for (const [target, direction] of [
      [TARGET.baselineAbove, 'atLeast'],
      [TARGET.baselineBelow, 'atMost'],
    ] as const)
      expect(baseline.otps).toBeGreaterThanOrEqual(trialsNeeded(EXPECTED.baseline, target, direction, Z));
    // The world is as the brief describes it: the blind choice loses about one OTP in five.
    expect(baseline.deliveryRate).toBeGreaterThan(TARGET.baselineAbove);
    expect(baseline.deliveryRate).toBeLessThan(TARGET.baselineBelow);
    expect(tern.deliveryRate).toBeGreaterThanOrEqual(TARGET.tern);
  });

  it('cuts the median time to the handset by at least 60%', () => {
    expect(result.tern.p50Ms).toBeLessThanOrEqual(0.4 * result.baseline.p50Ms);
  });

  it('measures the baseline with the platform’s own time a small share of its latency', () => {
    expect(platformShare(result.runs.cheapest)).toBeLessThan(PLATFORM_SHARE_MAX);
  });
});

describe('the channel report of the smart run', () => {
  it('counts what the carriers saw, and renders its charts in Chromium', async () => {
    const run = result.runs.smart;
    const out = mkdtempSync(join(tmpdir(), 'tern-e2e-report-'));
    // As an operator makes it: the report command against the run's ClickHouse database.
    await promisify(execFile)(
      process.execPath,
      [join(root, 'services/analytics/dist/report-cli.js'), '--since', '1h', '--out', out],
      {
        env: {
          PATH: process.env.PATH ?? '',
          TERN_CLICKHOUSE_URL: infraFromEnv().clickhouseUrl,
          TERN_CLICKHOUSE_DATABASE: run.database,
        },
      },
    );
    const report = JSON.parse(readFileSync(join(out, 'channel-report.json'), 'utf8')) as {
      channels: { channelId: string; delivered: number }[];
    };
    // Channels that lose no receipts: every delivery the carriers reported before the run's end is in
    // ClickHouse, once (OTPs of one part: a receipt per message). A straggler cut off by the settle's
    // deadline is delivered later; its receipt was never sent, and the report cannot know it yet.
    for (const channelId of ['sea-direct-id', 'sea-aggregator']) {
      const truth = run.simulator.truth.channel(channelId);
      const reported = report.channels
        .filter((line) => line.channelId === channelId)
        .reduce((n, line) => n + line.delivered, 0);
      expect(reported).toBe(truth.receiptsSentByStat.DELIVRD);
      // And they were sent: all but a straggler's few (a platform that took no receipts would report none).
      expect(truth.receiptsSentByStat.DELIVRD).toBeGreaterThan(0.9 * truth.messages.DELIVRD);
    }

    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
      await page.goto(`file://${join(out, 'channel-report.html')}`);
      const widths = await renderedWidths(page, '#chart-delivery rect.bar');
      expect(widths).toHaveLength(report.channels.length);
      expect(widths.every((w) => w > 0)).toBe(true);
      expect(await page.locator('svg.routing rect.share').count()).toBeGreaterThan(0);
      const shot = join(root, '.local', 'e2e', 'sea-ecommerce-report.png');
      await page.screenshot({ path: shot, fullPage: true });
      expect(statSync(shot).size).toBeGreaterThan(20_000);
    } finally {
      await browser.close();
    }
  });
});
