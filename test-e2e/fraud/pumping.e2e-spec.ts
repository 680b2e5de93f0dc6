// SMS pumping caught by conversions (tools/carrier-sim/scenarios/pumping.yaml): while two tenants' users log
// in on MTN and Airtel Nigeria and type most of their codes (each tenant's backend reports them with
// ReportConversion), a bot requests OTPs of both tenants for numbers of one range, +2349099..., whose codes
// nobody ever types. Risk's pumping screen (fraud.pumping) judges each tenant's ranges by how many of its
// OTPs to them, old enough to have been used, were used. One platform in real time: the demo tenant's policy
// enforces, and must stop the range's OTPs within a bounded number; the shop tenant's only monitors, and
// must only record them; legitimate OTPs to the same country flow for both.
// Runs side by side with other suites: in real time, where a busier machine judges the range a few OTPs later
// (recorded: 180 of the bound's 260 alone, 180-184 beside another suite).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadScenario } from '@tern/carrier-sim';
import { rateMargin, trialsNeeded } from '@tern/testing';
import { stringify as stringifyYaml } from 'yaml';
import { PlatformRun, type SentOtp, type Tenant } from '../support/platform-run';
import { reportTable, tally } from '../support/tally';

const SECOND = 1000;
const PUMPED = 'ng-pumped';
const LEGIT = { 'ng-mtn': 50, 'ng-airtel': 50 };
/** Each tenant's: legitimate logins a second, for the whole run; the bot's requests a second, from BURST_FROM on. */
const LEGIT_PER_SECOND = 15;
const PUMPED_PER_SECOND = 8;
const RUN_MS = 80 * SECOND;
/**
 * The legitimate OTPs' delivery: the only channel delivers 97% (pumping.yaml), and at least 95% must arrive.
 * Each tenant sends enough for 97% to sit Z standard deviations inside that (1,069 OTPs): at 538 a run
 * failed it by chance, 27 undelivered where 16 were expected. 1,200 come in 80 s, the bot's burst inside
 * them (the run took 190 s at 6 a second).
 */
const LEGIT_DELIVERY = { expected: 0.97, target: 0.95 };
const Z = 3;
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
/** Each tenant's pumping mode (its override of fraud.pumping.mode, which is off). */
const MODES = { demo: 'enforce', shop: 'monitor' } as const satisfies Record<Tenant, string>;
type Mode = (typeof MODES)[Tenant];

interface Reported {
  refused: number;
  wouldRefuse: number;
}

interface Outcome {
  pumped: SentOtp[];
  legit: SentOtp[];
  /**
   * The channel report's pumping table, as an operator reads it in the console: range -> OTPs refused, and
   * OTPs the screen would have refused (monitor mode).
   */
  reported: Record<string, Reported>;
}
let run: PlatformRun;
const outcomes: Partial<Record<Mode, Outcome>> = {};
/** tern_risk_pumping_total by mode, from risk's metrics. */
let judgedPumped: Record<string, number> = {};

function policyFile(): string {
  const path = join(mkdtempSync(join(tmpdir(), 'tern-pumping-')), 'risk-policy.yaml');
  const tenant = (mode: Mode) => ({ otpSenders: ['Tern'], pumping: mode });
  writeFileSync(
    path,
    stringifyYaml({
      tenants: { demo: tenant(MODES.demo), shop: tenant(MODES.shop) },
      limits: { perRecipient: { otp: { count: 5, windowSeconds: 600 } } },
      fraud: { pumping: { mode: 'off', ...PUMPING } },
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

/** Per tenant: range -> OTPs refused, and would-be refused. */
async function reportedPumping(run: PlatformRun): Promise<Record<string, Record<string, Reported>>> {
  const response = await fetch(`${run.consoleUrl()}/report?hours=2`, {
    headers: { cookie: 'tern_operator=tern-local-viewer-token' },
  });
  const html = await response.text();
  if (response.status !== 200) throw new Error(`the channel report answered ${response.status}: ${html}`);
  const table = /<table id="pumping">(.*?)<\/table>/s.exec(html)?.[1] ?? '';
  const reported: Record<string, Record<string, Reported>> = {};
  for (const [, tenant, range, refused, wouldRefuse] of table.matchAll(
    /<td class="text">(\w+)<\/td><td class="text">\+(\d+)…<\/td><td>(\d+)<\/td><td>(\d+)<\/td>/g,
  )) {
    (reported[tenant!] ??= {})[range!] = { refused: Number(refused), wouldRefuse: Number(wouldRefuse) };
  }
  return reported;
}

const reached = (otps: readonly SentOtp[]) => otps.filter((o) => o.submissions.length > 0).length;
const tenants = Object.keys(MODES) as Tenant[];

beforeAll(async () => {
  run = await PlatformRun.start({
    scenario,
    strategy: 'smart',
    riskPolicyFile: policyFile(),
    reportConversions: tenants,
  });
  let reported: Record<string, Record<string, Reported>> = {};
  try {
    run.begin();
    await Promise.all(
      tenants.flatMap((tenant) => [
        run.drive(RUN_MS, () => LEGIT_PER_SECOND, LEGIT, tenant),
        (async () => {
          await new Promise((resolve) => setTimeout(resolve, BURST_FROM));
          await run.drive(BURST_MS, () => PUMPED_PER_SECOND, { [PUMPED]: 1 }, tenant);
        })(),
      ]),
    );
    await run.settle(30 * SECOND);
    judgedPumped = await pumpingCounts(run);
    reported = await reportedPumping(run);
  } finally {
    await run.stop();
  }
  for (const tenant of tenants) {
    const otps = [...run.otps.values()].filter((o) => o.tenant === tenant);
    outcomes[MODES[tenant]] = {
      pumped: otps.filter((o) => o.carrier === PUMPED),
      legit: otps.filter((o) => o.carrier !== PUMPED),
      reported: reported[tenant] ?? {},
    };
  }
  reportTable(
    'pumping',
    `Two tenants (demo: enforce, shop: monitor), each ${LEGIT_PER_SECOND} legitimate OTPs a second to NG, and from ${BURST_FROM / SECOND} s ${PUMPED_PER_SECOND} a second for ${BURST_MS / SECOND} s to +2349099… (never used); real time`,
    tenants.flatMap((tenant) => [
      tally(
        `${MODES[tenant]}: legitimate OTPs`,
        run,
        (otp) => otp.tenant === tenant && otp.carrier !== PUMPED,
      ),
      tally(`${MODES[tenant]}: pumped range`, run, (otp) => otp.tenant === tenant && otp.carrier === PUMPED),
    ]),
    [
      ...tenants.map((tenant) => {
        const o = outcomes[MODES[tenant]]!;
        return `${MODES[tenant]} (${tenant}): channel report ${JSON.stringify(o.reported)}; ${reached(o.pumped)} of ${o.pumped.length} pumped OTPs reached the carrier (bound in enforce mode ${ENFORCE_BOUND}); ${o.legit.length - reached(o.legit)} of ${o.legit.length} legitimate OTPs did not`;
      }),
      ...tenants.map((tenant) => {
        const legit = tally('legit', run, (otp) => otp.tenant === tenant && otp.carrier !== PUMPED);
        const label = `${MODES[tenant]}: legitimate OTPs delivered`;
        return rateMargin(label, legit.delivered, legit.otps, LEGIT_DELIVERY.target, 'atLeast').line;
      }),
      `judged pumping ${JSON.stringify(judgedPumped)}; carriers' seed ${run.options.seed}`,
    ],
  );
}, 900_000);

describe('SMS pumping caught by conversions', () => {
  it('stops the pumped range within a bounded number of OTPs in enforce mode', () => {
    const { pumped } = outcomes.enforce!;
    expect(pumped.length).toBeGreaterThan(400);
    expect(reached(pumped)).toBeLessThanOrEqual(ENFORCE_BOUND);
    expect(judgedPumped['enforce']).toBeGreaterThanOrEqual(pumped.length - ENFORCE_BOUND);
    // Once judged, none gets through: nothing sent after the bound's time reached the carrier.
    const judgedBy = BURST_FROM + (PUMPING.judgeAfterSeconds + 10) * SECOND;
    expect(pumped.filter((o) => o.sentAt > judgedBy && o.submissions.length > 0)).toEqual([]);
  });

  it('shows the refused range in the channel report, and the range monitor mode would have refused', () => {
    const { enforce, monitor } = outcomes as Record<Mode, Outcome>;
    expect(Object.keys(enforce.reported)).toEqual(['2349099']);
    expect(enforce.reported['2349099']!.refused).toBeGreaterThanOrEqual(
      enforce.pumped.length - ENFORCE_BOUND,
    );
    expect(enforce.reported['2349099']!.wouldRefuse).toBe(0);
    // Read from each OTP's trace: the range's OTPs the screen judged in monitor mode (all but those sent
    // before it could judge, at most what risk counted), and no other range.
    expect(Object.keys(monitor.reported)).toEqual(['2349099']);
    expect(monitor.reported['2349099']!.refused).toBe(0);
    expect(monitor.reported['2349099']!.wouldRefuse).toBeGreaterThanOrEqual(
      monitor.pumped.length - ENFORCE_BOUND,
    );
    expect(monitor.reported['2349099']!.wouldRefuse).toBeLessThanOrEqual(judgedPumped['monitor']!);
  });

  it('only records the pumped range in monitor mode', () => {
    const { pumped } = outcomes.monitor!;
    expect(pumped.length).toBeGreaterThan(400);
    expect(reached(pumped)).toBe(pumped.length);
    // The monitor tenant's judged OTPs: every one of its pumped range's, but those sent before it could be judged.
    expect(judgedPumped['monitor']).toBeGreaterThan(pumped.length - ENFORCE_BOUND);
  });

  it('lets every legitimate OTP to the same country through, in both modes', () => {
    for (const mode of ['enforce', 'monitor'] as const) {
      const { legit } = outcomes[mode]!;
      expect(legit.length).toBeGreaterThanOrEqual(
        trialsNeeded(LEGIT_DELIVERY.expected, LEGIT_DELIVERY.target, 'atLeast', Z),
      );
      expect(legit.length - reached(legit)).toBe(0);
      const tenant = tenants.find((t) => MODES[t] === mode)!;
      expect(
        tally('legit', run, (otp) => otp.tenant === tenant && otp.carrier !== PUMPED).deliveryRate,
      ).toBeGreaterThan(LEGIT_DELIVERY.target);
    }
  });
});
