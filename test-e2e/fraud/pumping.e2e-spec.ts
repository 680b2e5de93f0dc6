// SMS pumping caught by conversions (tools/carrier-sim/scenarios/pumping.yaml): while the demo tenant's users
// log in on MTN and Airtel Nigeria and type most of their codes (reported with ReportConversion), a bot
// requests OTPs for numbers of one range, +2349099..., whose codes nobody ever types. Risk's pumping screen
// (fraud.pumping) judges each range by how many of the tenant's OTPs to it, old enough to have been used,
// were used. Two runs in real time: enforce, which must stop the range's OTPs within a bounded number, and
// monitor, which must only record them; legitimate OTPs to the same country flow in both.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadScenario } from '@tern/carrier-sim';
import { stringify as stringifyYaml } from 'yaml';
import { PlatformRun, type SentOtp } from '../support/platform-run';
import { reportTable, tally } from '../support/tally';

const SECOND = 1000;
const PUMPED = 'ng-pumped';
const LEGIT = { 'ng-mtn': 50, 'ng-airtel': 50 };
/** Legitimate logins a second, for the whole run; the bot's requests a second, from BURST_FROM on. */
const LEGIT_PER_SECOND = 6;
const PUMPED_PER_SECOND = 8;
const RUN_MS = 90 * SECOND;
const BURST_FROM = 15 * SECOND;
const BURST_MS = 60 * SECOND;
const PUMPING = {
  digits: 7,
  windowSeconds: 600,
  judgeAfterSeconds: 20,
  minOtps: 20,
  maxConversionRate: 0.05,
};
/**
 * The most of the range's OTPs enforce mode may let through: those sent before the first of them were old
 * enough to judge (judgeAfterSeconds at the bot's rate), plus 10 s of the platform's own time and the
 * minimum to judge on.
 */
const ENFORCE_BOUND = PUMPED_PER_SECOND * (PUMPING.judgeAfterSeconds + 10) + PUMPING.minOtps;
const scenario = loadScenario('pumping');

interface Outcome {
  run: PlatformRun;
  pumped: SentOtp[];
  legit: SentOtp[];
  /** tern_risk_pumping_total by mode, from risk's metrics. */
  judgedPumped: Record<string, number>;
  /** The channel report's refused pumping, as an operator reads it in the console: range -> OTPs refused. */
  reported: Record<string, number>;
}
const outcomes: Partial<Record<'enforce' | 'monitor', Outcome>> = {};

function policyFile(mode: 'enforce' | 'monitor'): string {
  const path = join(mkdtempSync(join(tmpdir(), 'tern-pumping-')), 'risk-policy.yaml');
  writeFileSync(
    path,
    stringifyYaml({
      tenants: { demo: { otpSenders: ['Tern'] } },
      limits: { perRecipient: { otp: { count: 5, windowSeconds: 600 } } },
      fraud: { pumping: { mode, ...PUMPING } },
    }),
  );
  return path;
}

async function pumpingCounts(run: PlatformRun): Promise<Record<string, number>> {
  const risk = run.instances('risk')[0];
  if (!risk) throw new Error('risk is not running');
  const text = await (await fetch(`http://127.0.0.1:${risk.httpPort}/metrics`)).text();
  const counts: Record<string, number> = {};
  for (const [, mode, value] of text.matchAll(/^tern_risk_pumping_total\{mode="(\w+)"[^}]*\} (\d+)/gm)) {
    counts[mode!] = (counts[mode!] ?? 0) + Number(value);
  }
  return counts;
}

async function reportedPumping(run: PlatformRun): Promise<Record<string, number>> {
  const response = await fetch(`${run.consoleUrl()}/report?hours=2`, {
    headers: { cookie: 'tern_operator=tern-local-viewer-token' },
  });
  const html = await response.text();
  if (response.status !== 200) throw new Error(`the channel report answered ${response.status}: ${html}`);
  const table = /<table id="pumping">(.*?)<\/table>/s.exec(html)?.[1] ?? '';
  return Object.fromEntries(
    [...table.matchAll(/<td class="text">demo<\/td><td class="text">\+(\d+)…<\/td><td>(\d+)<\/td>/g)].map(
      ([, range, refused]) => [range!, Number(refused)],
    ),
  );
}

async function runWith(mode: 'enforce' | 'monitor'): Promise<Outcome> {
  const run = await PlatformRun.start({
    scenario,
    strategy: 'smart',
    riskPolicyFile: policyFile(mode),
    reportConversions: true,
  });
  let judgedPumped: Record<string, number> = {};
  let reported: Record<string, number> = {};
  try {
    run.begin();
    await Promise.all([
      run.drive(RUN_MS, () => LEGIT_PER_SECOND, LEGIT),
      (async () => {
        await new Promise((resolve) => setTimeout(resolve, BURST_FROM));
        await run.drive(BURST_MS, () => PUMPED_PER_SECOND, { [PUMPED]: 1 });
      })(),
    ]);
    await run.settle(30 * SECOND);
    judgedPumped = await pumpingCounts(run);
    reported = await reportedPumping(run);
  } finally {
    await run.stop();
  }
  const otps = [...run.otps.values()];
  return {
    run,
    pumped: otps.filter((o) => o.carrier === PUMPED),
    legit: otps.filter((o) => o.carrier !== PUMPED),
    judgedPumped,
    reported,
  };
}

const reached = (otps: readonly SentOtp[]) => otps.filter((o) => o.submissions.length > 0).length;

beforeAll(async () => {
  const both = [await runWith('enforce'), await runWith('monitor')] as const;
  [outcomes.enforce, outcomes.monitor] = both;
  reportTable(
    'pumping',
    `${LEGIT_PER_SECOND} legitimate OTPs a second to NG, and from ${BURST_FROM / SECOND} s ${PUMPED_PER_SECOND} a second for ${BURST_MS / SECOND} s to +2349099… (never used); real time`,
    both.flatMap((o, i) => {
      const mode = i === 0 ? 'enforce' : 'monitor';
      return [
        tally(`${mode}: legitimate OTPs`, o.run, (otp) => otp.carrier !== PUMPED),
        tally(`${mode}: pumped range`, o.run, (otp) => otp.carrier === PUMPED),
      ];
    }),
    both.map((o, i) => {
      const mode = i === 0 ? 'enforce' : 'monitor';
      return `${mode}: channel report ${JSON.stringify(o.reported)}; ${reached(o.pumped)} of ${o.pumped.length} pumped OTPs reached the carrier (bound in enforce mode ${ENFORCE_BOUND}); ${o.legit.length - reached(o.legit)} of ${o.legit.length} legitimate OTPs did not; judged pumping ${JSON.stringify(o.judgedPumped)}; carriers' seed ${o.run.options.seed}`;
    }),
  );
}, 900_000);

describe('SMS pumping caught by conversions', () => {
  it('stops the pumped range within a bounded number of OTPs in enforce mode', () => {
    const { pumped, judgedPumped } = outcomes.enforce!;
    expect(pumped.length).toBeGreaterThan(400);
    expect(reached(pumped)).toBeLessThanOrEqual(ENFORCE_BOUND);
    expect(judgedPumped['enforce']).toBeGreaterThanOrEqual(pumped.length - ENFORCE_BOUND);
    // Once judged, none gets through: nothing sent after the bound's time reached the carrier.
    const judgedBy = BURST_FROM + (PUMPING.judgeAfterSeconds + 10) * SECOND;
    expect(pumped.filter((o) => o.sentAt > judgedBy && o.submissions.length > 0)).toEqual([]);
  });

  it('shows the refused range in the channel report', () => {
    const { pumped } = outcomes.enforce!;
    expect(Object.keys(outcomes.enforce!.reported)).toEqual(['2349099']);
    expect(outcomes.enforce!.reported['2349099']).toBeGreaterThanOrEqual(pumped.length - ENFORCE_BOUND);
    expect(outcomes.monitor!.reported).toEqual({});
  });

  it('only records the pumped range in monitor mode', () => {
    const { pumped, judgedPumped } = outcomes.monitor!;
    expect(reached(pumped)).toBe(pumped.length);
    expect(judgedPumped['monitor']).toBeGreaterThan(pumped.length - ENFORCE_BOUND);
    expect(judgedPumped['enforce']).toBeUndefined();
  });

  it('lets every legitimate OTP to the same country through, in both modes', () => {
    for (const { legit, run } of Object.values(outcomes)) {
      expect(legit.length).toBeGreaterThan(450);
      expect(legit.length - reached(legit)).toBe(0);
      expect(tally('legit', run, (otp) => otp.carrier !== PUMPED).deliveryRate).toBeGreaterThan(0.95);
    }
  });
});
