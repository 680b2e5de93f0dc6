// What a run achieved, counted from the simulator's ground truth (what reached the handsets), never from
// Tern's own statuses.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { quantile } from '@tern/carrier-sim';
import type { AttemptRow, PlatformRun, SentOtp } from './platform-run';

export interface Tally {
  label: string;
  otps: number;
  delivered: number;
  /** Delivered / accepted OTPs. */
  deliveryRate: number;
  /** Accepted OTPs that never reached the handset. */
  lost: number;
  /** Of those, OTPs no carrier ever saw. */
  neverSubmitted: number;
  /** OTPs that reached the handset more than once. */
  sentTwice: number;
  /** Scenario ms from the API call to the handset, of each delivered OTP, in order. */
  latenciesMs: number[];
  p50Ms: number;
  p95Ms: number;
  meanMs: number;
  /** What every SMS the carriers accepted cost, over delivered OTPs. */
  costPerDelivered: number;
  /** SMS beyond the first per OTP (failover attempts). */
  retries: number;
}

export function tally(label: string, run: PlatformRun, only: (otp: SentOtp) => boolean = () => true): Tally {
  const price = new Map(run.options.scenario.channels.map((c) => [c.id, c.pricePerSegment]));
  const otps = [...run.otps.values()].filter(only);
  const latencies: number[] = [];
  let cost = 0;
  let retries = 0;
  let sentTwice = 0;
  for (const otp of otps) {
    for (const s of otp.submissions) cost += price.get(s.channel) ?? 0;
    retries += Math.max(0, otp.submissions.length - 1);
    const delivered = otp.submissions.filter((s) => s.stat === 'DELIVRD');
    if (delivered.length > 1) sentTwice++;
    const first = delivered.sort((a, b) => a.arrivedAt + a.latencyMs - (b.arrivedAt + b.latencyMs))[0];
    if (first) latencies.push(first.arrivedAt + first.latencyMs - otp.sentAt);
  }
  return tallyRow(label, {
    otps: otps.length,
    latencies,
    cost,
    retries,
    neverSubmitted: otps.filter((otp) => otp.submissions.length === 0).length,
    sentTwice,
  });
}

/** A table's row from what became of a run's OTPs: each delivered one's latency (scenario ms), and the rest. */
export function tallyRow(
  label: string,
  counts: Pick<Tally, 'otps' | 'retries' | 'neverSubmitted' | 'sentTwice'> & {
    latencies: number[];
    cost: number;
  },
): Tally {
  const latencies = [...counts.latencies].sort((a, b) => a - b);
  return {
    label,
    otps: counts.otps,
    delivered: latencies.length,
    deliveryRate: latencies.length / Math.max(1, counts.otps),
    lost: counts.otps - latencies.length,
    neverSubmitted: counts.neverSubmitted,
    sentTwice: counts.sentTwice,
    latenciesMs: latencies,
    p50Ms: quantile(latencies, 0.5) ?? Number.NaN,
    p95Ms: quantile(latencies, 0.95) ?? Number.NaN,
    meanMs: latencies.reduce((s, x) => s + x, 0) / Math.max(1, latencies.length),
    costPerDelivered: counts.cost / Math.max(1, latencies.length),
    retries: counts.retries,
  };
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
/** A pause of the test process the latency line names: well above an event loop's usual jitter. */
const PAUSE_REPORTED_MS = 1000;

/** The suite's table, as Markdown: printed, and kept under .local/e2e/ for the notes. */
export function reportTable(
  suite: string,
  heading: string,
  rows: readonly Tally[],
  notes: readonly string[] = [],
): string {
  const lines = [
    `### ${suite}: ${heading}`,
    '',
    '| run | OTPs | delivered | lost (never submitted) | sent twice | p50 | p95 | mean | cost / delivered | retries |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (r) =>
        `| ${r.label} | ${r.otps} | ${(100 * r.deliveryRate).toFixed(1)}% | ${r.lost} (${r.neverSubmitted}) | ${r.sentTwice} | ` +
        `${seconds(r.p50Ms)} | ${seconds(r.p95Ms)} | ${seconds(r.meanMs)} | ${r.costPerDelivered.toFixed(4)} | ${r.retries} |`,
    ),
    '',
    ...notes.map((note) => `- ${note}`),
    '',
  ];
  const text = lines.join('\n');
  const dir = join(__dirname, '..', '..', '.local', 'e2e');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${suite}.md`), text);
  process.stdout.write(`\n${text}\n`);
  return text;
}

/**
 * Each channel's share of the OTPs' first attempts that arrived in each window of scenario time: where the
 * router sent new traffic over the run (failover attempts go wherever is left, so they are not counted).
 */
export function sharesOverTime(
  run: PlatformRun,
  windowMs: number,
  only: (otp: SentOtp) => boolean = () => true,
): { from: number; total: number; shares: Record<string, number> }[] {
  const windows = new Map<number, Map<string, number>>();
  for (const otp of run.otps.values()) {
    if (!only(otp)) continue;
    const first = otp.submissions[0];
    if (!first) continue;
    const from = Math.floor(first.arrivedAt / windowMs) * windowMs;
    const counts = windows.get(from) ?? new Map<string, number>();
    counts.set(first.channel, (counts.get(first.channel) ?? 0) + 1);
    windows.set(from, counts);
  }
  return [...windows.entries()]
    .sort(([a], [b]) => a - b)
    .map(([from, counts]) => {
      const total = [...counts.values()].reduce((s, n) => s + n, 0);
      return {
        from,
        total,
        shares: Object.fromEntries([...counts].map(([channel, n]) => [channel, n / total])),
      };
    });
}

/** The most of `times` (sorted or not) that fall within any one window of `windowMs`. */
export function busiestWindow(times: readonly number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let start = 0, end = 0; end < sorted.length; end++) {
    while (sorted[end]! - sorted[start]! >= windowMs) start++;
    most = Math.max(most, end - start + 1);
  }
  return most;
}

/**
 * Where the delivered OTPs' average went: the platform's own time (API call to the first carrier's
 * acceptance), the handsets' wait on first attempts, and what failover added.
 */
export function latencyBreakdown(run: PlatformRun): string {
  const pipeline: number[] = [];
  const firstTime: number[] = [];
  const failover: number[] = [];
  for (const otp of run.otps.values()) {
    const [first] = otp.submissions;
    if (!first) continue;
    pipeline.push(first.arrivedAt - otp.sentAt);
    const delivered = otp.submissions.findIndex((s) => s.stat === 'DELIVRD');
    if (delivered < 0) continue;
    const s = otp.submissions[delivered]!;
    (delivered === 0 ? firstTime : failover).push(s.arrivedAt + s.latencyMs - otp.sentAt);
  }
  const all = firstTime.length + failover.length;
  const sum = (xs: number[]) => xs.reduce((s, x) => s + x, 0);
  const mean = (xs: number[]) => (xs.length ? seconds(sum(xs) / xs.length) : '-');
  // Its tail too: a stall of the platform (a busy machine) shows as a p95 or max far above the mean's usual.
  const at = (q: number) => (quantile(pipeline, q) ?? Number.NaN).toFixed(0);
  return (
    `${run.options.strategy} at time scale ${run.timeScale}: API to carrier ${(sum(pipeline) / Math.max(1, pipeline.length)).toFixed(0)} ms ` +
    `on average (p95 ${at(0.95)} ms, max ${at(1)} ms; ${(100 * platformShare(run)).toFixed(1)}% of the mean latency); ` +
    `${firstTime.length} delivered at the first attempt (mean ${mean(firstTime)}), ${failover.length} after ` +
    `failover (mean ${mean(failover)}, adding ${seconds((sum(failover) - (failover.length * sum(firstTime)) / Math.max(1, firstTime.length)) / Math.max(1, all))} to the average); ` +
    `real time: ${[...run.phases].map(([phase, s]) => `${phase} ${s.toFixed(1)} s`).join(', ')}` +
    pause(run) +
    stragglers(run)
  );
}

/** A pause of the test process past a second (a VM stood still, an event loop blocked), when it began. */
function pause(run: PlatformRun): string {
  const { ms, at } = run.longestPause;
  if (ms < PAUSE_REPORTED_MS) return '';
  return `; the test process stood still for ${seconds(ms)} from ${new Date(at).toISOString().slice(11, 19)} UTC`;
}

/** The OTPs the settle's deadline cut off, with their attempts so far (channel, fate, scenario s sent). */
function stragglers(run: PlatformRun): string {
  const open = run.openAtSettleEnd;
  if (open.length === 0) return '';
  const attempts = (otp: SentOtp) =>
    otp.submissions.map((s) => `${s.channel} ${s.stat}`).join(' then ') || 'not submitted';
  const shown = open
    .slice(0, 3)
    .map((otp) => `${otp.country} sent at ${seconds(otp.sentAt)}: ${attempts(otp)}`);
  return `; still open at the settle's deadline: ${open.length} (${shown.join('; ')}${open.length > 3 ? '; …' : ''})`;
}

/**
 * The most of a time-scaled run's mean latency the platform's own time may take: beyond it, the scale
 * would measure the platform's milliseconds more than the world's seconds.
 */
export const PLATFORM_SHARE_MAX = 0.1;

/**
 * The platform's own time (API call to the first carrier's acceptance, in scenario ms) as a share of the
 * delivered OTPs' mean latency. A time-scaled world multiplies the platform's real milliseconds by the scale;
 * a suite that runs faster than real time shows with this that the world's latencies still dominate.
 */
export function platformShare(run: PlatformRun, only: (otp: SentOtp) => boolean = () => true): number {
  const otps = [...run.otps.values()].filter(only);
  const pipeline = otps.flatMap((otp) =>
    otp.submissions[0] ? [otp.submissions[0].arrivedAt - otp.sentAt] : [],
  );
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length);
  return mean(pipeline) / tally('share', run, only).meanMs;
}

/**
 * Each country's delivered OTPs and their mean latency (a capped country's queue shows in its own line only),
 * and where its first attempts went: what routing chose, before any failover.
 */
export function perCountry(run: PlatformRun): string {
  const countries = [...new Set([...run.otps.values()].map((otp) => otp.country))].sort();
  const lines = countries.map((country) => {
    const inCountry = (otp: SentOtp) => otp.country === country;
    const t = tally(country, run, inCountry);
    const firstChannels = new Map<string, number>();
    for (const otp of run.otps.values()) {
      const channel = inCountry(otp) ? otp.submissions[0]?.channel : undefined;
      if (channel) firstChannels.set(channel, (firstChannels.get(channel) ?? 0) + 1);
    }
    const mix = [...firstChannels].sort(([, a], [, b]) => b - a).map(([channel, n]) => `${channel} ${n}`);
    return `${country} ${t.delivered}/${t.otps} at ${seconds(t.meanMs)} (first: ${mix.join(', ')})`;
  });
  return `${run.options.strategy} per country (delivered, mean, first attempts): ${lines.join('; ')}`;
}

/**
 * The OTPs that reached their handsets twice, each with every SMS the carriers took (channel, fate, scenario
 * s at the carrier, its latency there) and Tern's attempts as dlr recorded them (channel, status, reason):
 * which path sent the second copy. Empty when none did.
 */
export async function deliveredTwice(run: PlatformRun): Promise<string[]> {
  const twice = [...run.otps.values()].filter(
    (otp) => otp.submissions.filter((s) => s.stat === 'DELIVRD').length > 1,
  );
  if (twice.length === 0) return [];
  const shown = twice.slice(0, 5);
  // What the carriers saw is the finding; Tern's side only explains it, and never fails the suite.
  let rows: AttemptRow[] = [];
  let unread = '';
  try {
    rows = await run.attemptRows(shown.flatMap((otp) => (otp.messageId ? [otp.messageId] : [])));
  } catch (error) {
    unread = `not read (${(error as Error).message})`;
  }
  const carriers = (otp: SentOtp) =>
    otp.submissions
      .map((s) => `${s.channel} ${s.stat} at ${seconds(s.arrivedAt)} after ${seconds(s.latencyMs)}`)
      .join(', ');
  const tern = (otp: SentOtp) =>
    rows
      .filter((r) => r.message_id === otp.messageId)
      .map(
        (r) =>
          `${r.attempt} ${r.channel_id} ${r.status} ${r.reason_code || '-'}${r.error_code ? ` (${r.error_code})` : ''} ` +
          `submitted ${r.submitted_at.slice(11)} done ${r.done_at.slice(11)}`,
      )
      .join(', ') ||
    unread ||
    'none recorded';
  return shown.map(
    (otp, i) =>
      `${run.options.strategy}, delivered twice (${i + 1} of ${twice.length}): ${otp.messageId ?? otp.ref} ` +
      `(${otp.country}, sent at ${seconds(otp.sentAt)}); carriers took ${carriers(otp)}; Tern's attempts: ${tern(otp)}`,
  );
}
