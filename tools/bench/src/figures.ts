// The arithmetic of a benchmark run, kept apart from the I/O so it can be tested directly.
import type { Profiler } from 'node:inspector';
import { quantile } from '@tern/carrier-sim';

export interface Percentiles {
  count: number;
  p50?: number | undefined;
  p95?: number | undefined;
  p99?: number | undefined;
  max?: number | undefined;
}

export function percentiles(values: readonly number[]): Percentiles {
  return {
    count: values.length,
    p50: quantile(values, 0.5),
    p95: quantile(values, 0.95),
    p99: quantile(values, 0.99),
    max: quantile(values, 1),
  };
}

/**
 * The rate a stage sustained: events per second between the moments the first and the last of the middle
 * `share` of its events happened, so the ramp at each end (the first calls, the last receipts trickling in)
 * does not flatter or spoil the figure. Undefined with fewer than two events in that span.
 */
export function sustainedRate(times: readonly number[], share = 0.9): number | undefined {
  if (times.length < 2) return undefined;
  const sorted = Float64Array.from(times).sort();
  const cut = Math.floor((sorted.length * (1 - share)) / 2);
  const first = sorted[cut]!;
  const last = sorted[sorted.length - 1 - cut]!;
  const events = sorted.length - 2 * cut;
  return last > first ? ((events - 1) * 1000) / (last - first) : undefined;
}

/**
 * The same for a stage seen only as a running count (rows in a table, polled): the time each of the middle
 * `share` of its events happened is taken from the first poll that counted it.
 */
export function sustainedRateOfCounts(
  polls: readonly { at: number; count: number }[],
  share = 0.9,
): number | undefined {
  const last = polls.at(-1);
  if (!last || last.count < 2) return undefined;
  const cut = Math.floor((last.count * (1 - share)) / 2);
  const from = polls.find((p) => p.count > cut);
  const to = polls.find((p) => p.count >= last.count - cut);
  if (!from || !to || to.at <= from.at) return undefined;
  return ((to.count - from.count) * 1000) / (to.at - from.at);
}

/** How the machine's CPUs were spent between two readings of /proc/stat: busy, and taken by the hypervisor. */
export interface CpuShares {
  /** Running anything (user, nice, system, interrupts): 1 is every CPU all the time. */
  busy: number;
  /** Stolen: a virtual machine's CPUs running other guests, while this one wanted them. */
  steal: number;
}

/**
 * The CPU shares between two readings of /proc/stat's first line (`cpu  user nice system idle iowait irq
 * softirq steal guest guest_nice`, in ticks; guest time is in user already). Undefined when no tick passed.
 */
export function cpuShares(before: string, after: string): CpuShares | undefined {
  const ticks = (line: string) => line.trim().split(/\s+/).slice(1, 9).map(Number);
  const a = ticks(before);
  const delta = ticks(after).map((v, i) => v - (a[i] ?? 0));
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = delta;
  const total = delta.reduce((sum, v) => sum + v, 0);
  if (total <= 0) return undefined;
  return { busy: (user + nice + system + irq + softirq) / total, steal: steal / total };
}

/** One reading of the machine while a run sends, about a second after the one before. */
export interface MachineSample extends CpuShares {
  at: number;
  /** A Redis child ran (rewriting the append-only file or saving a snapshot), competing for the CPUs. */
  redisChild: boolean;
}

/** Accept -> submit of the messages accepted in one stretch of a run, with how the machine was meanwhile. */
export interface LatencyWindow {
  /** Seconds from the first message sent. */
  fromSeconds: number;
  accepted: number;
  p50?: number | undefined;
  p99?: number | undefined;
  /** Mean shares of the samples taken in the stretch. */
  busy?: number | undefined;
  steal?: number | undefined;
  redisChild: boolean;
}

/**
 * A run cut into whole stretches of `widthMs` from `from` to `to` (a shorter one left at the end is not
 * told): whether its tail comes from some moments (a Redis rewrite, a neighbour's steal) or from all of them.
 */
export function latencyWindows(
  latencies: readonly { acceptedAt: number; ms: number }[],
  samples: readonly MachineSample[],
  from: number,
  to: number,
  widthMs: number,
): LatencyWindow[] {
  const windows: LatencyWindow[] = [];
  for (let start = from; start + widthMs <= to; start += widthMs) {
    const end = start + widthMs;
    const within = <T>(items: readonly T[], at: (item: T) => number) =>
      items.filter((item) => at(item) >= start && at(item) < end);
    const { count, p50, p99 } = percentiles(within(latencies, (l) => l.acceptedAt).map((l) => l.ms));
    const taken = within(samples, (s) => s.at);
    const mean = (values: number[]) =>
      values.length === 0 ? undefined : values.reduce((sum, v) => sum + v, 0) / values.length;
    windows.push({
      fromSeconds: (start - from) / 1000,
      accepted: count,
      p50,
      p99,
      busy: mean(taken.map((s) => s.busy)),
      steal: mean(taken.map((s) => s.steal)),
      redisChild: taken.some((s) => s.redisChild),
    });
  }
  return windows;
}

/** At least this busy in a stretch, the machine had no CPU to spare. */
export const SATURATED_BUSY = 0.95;

/**
 * Whether the machine was at least `SATURATED_BUSY` busy in every stretch told. Then CPU a message at a fixed
 * rate tells how full the machine was more than what a message costs: the platform spends what a lower rate
 * leaves on more and smaller fetches and calls (operations.md, Benchmark).
 */
export function saturated(windows: readonly Pick<LatencyWindow, 'busy'>[]): boolean {
  return windows.length > 0 && windows.every((w) => w.busy !== undefined && w.busy >= SATURATED_BUSY);
}

/** Seconds of CPU a process used between two samples of /proc/PID/stat (user + system, in clock ticks). */
export function cpuSeconds(before: number, after: number, ticksPerSecond = 100): number {
  return Math.max(0, after - before) / ticksPerSecond;
}

/**
 * utime + stime of a /proc/PID/stat line (fields 14 and 15, counted after the parenthesised name): the
 * process's own CPU, or a thread's in /proc/PID/task/TID/stat.
 */
export function cpuTicksOfStat(stat: string): number {
  return statField(stat, 14) + statField(stat, 15);
}

/**
 * A process's own CPU and that of the children it forked and waited for (cutime + cstime, fields 16 and
 * 17): Redis rewrites its append-only file in a child, a fifth to a third of Redis's CPU at 1,000 messages
 * a second (operations.md, Redis), on the machine's cores as much as the rest.
 */
export function processCpuTicksOfStat(stat: string): number {
  return cpuTicksOfStat(stat) + statField(stat, 16) + statField(stat, 17);
}

/** The nice value of a /proc/PID/stat line (field 19): above 0, the process yields the CPU to others. */
export function niceOfStat(stat: string): number {
  return statField(stat, 19);
}

/**
 * The most memory a process has held resident since it started, in MiB (VmHWM of /proc/PID/status): what a
 * pod's memory limit must leave room for. Undefined when the line is missing (a kernel thread).
 */
export function peakResidentMibOfStatus(status: string): number | undefined {
  const kib = /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1];
  return kib === undefined ? undefined : Number(kib) / 1024;
}

/** A cgroup of `scripts/pod-memory.sh` (`TERN_POD_MEMORY_MIB`): a process limited as a pod would be. */
export const POD_CGROUP_PREFIX = '/tern-pod-';

/**
 * Where the memory cgroup of a process is, from its /proc/PID/cgroup: v1's memory controller line, else v2's
 * one group; undefined unless it is a pod's (POD_CGROUP_PREFIX), as every other process shares its group.
 */
export function podCgroupDir(
  procCgroup: string,
  root = '/sys/fs/cgroup',
): { dir: string; v2: boolean } | undefined {
  const lines = procCgroup.split('\n');
  const v1 = lines.find((line) => /^\d+:([^:]*,)?memory(,[^:]*)?:/.test(line));
  const path = v1
    ? v1.slice(v1.indexOf(':', v1.indexOf(':') + 1) + 1)
    : lines.find((l) => l.startsWith('0::'))?.slice(3);
  if (!path?.startsWith(POD_CGROUP_PREFIX)) return undefined;
  return v1 ? { dir: `${root}/memory${path}`, v2: false } : { dir: `${root}${path}`, v2: true };
}

/** The `oom_kill` count of a memory cgroup's memory.oom_control (v1) or memory.events (v2). */
export const oomKillsOf = (text: string): number => Number(/^oom_kill (\d+)$/m.exec(text)?.[1] ?? 0);

/** Field N (numbered from 1, as in proc(5)) of a /proc/PID/stat line. */
function statField(stat: string, n: number): number {
  // The name may hold spaces and parentheses: the fields after it start at field 3 (state).
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[n - 3]);
}

/**
 * A JVM's JIT compiler thread ("C2 CompilerThread0", cut to 15 characters in /proc/PID/task/TID/comm): a
 * broker just started spends minutes of CPU compiling, which a broker that has run for a while does not.
 */
export const isJitCompilerThread = (comm: string): boolean => /^C[12] CompilerThre/.test(comm);

/**
 * Ticks some threads used between two samples (thread id -> ticks), a thread first seen in the second
 * counted from zero. A thread gone by the second is left out (its ticks stay in its process's total), so
 * this is never more than those threads used.
 */
export function threadTicksBetween(
  before: ReadonlyMap<number, number>,
  after: ReadonlyMap<number, number>,
): number {
  let ticks = 0;
  for (const [tid, now] of after) ticks += Math.max(0, now - (before.get(tid) ?? 0));
  return ticks;
}

export type MessageKind = 'otp' | 'transactional' | 'marketing';

function messageKind(option: string, name: string | undefined): MessageKind {
  if (name !== 'otp' && name !== 'transactional' && name !== 'marketing')
    throw new Error(`${option}: unknown kind "${name ?? ''}" (otp, transactional, marketing)`);
  return name;
}

/** "otp=1,marketing=3" -> the kind of each message in turn, in those proportions. */
export function parseMix(mix: string): MessageKind[] {
  const kinds: MessageKind[] = [];
  for (const part of mix.split(',')) {
    const [given, weight] = part.split('=');
    const name = messageKind('--mix', given);
    const n = weight === undefined ? 1 : Number(weight);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--mix: weight of ${name} must be a whole number`);
    for (let i = 0; i < n; i++) kinds.push(name);
  }
  if (kinds.length === 0) throw new Error('--mix: give at least one kind a weight above 0');
  return kinds;
}

/** "marketing=100000" -> a backlog of that many messages of that kind, sent as fast as they are taken. */
export function parseBackground(background: string): { kind: MessageKind; count: number } {
  const [given, count] = background.split('=');
  const kind = messageKind('--background', given);
  const n = Number(count);
  if (!Number.isInteger(n) || n < 1)
    throw new Error('--background: give a count of messages, e.g. marketing=100000');
  return { kind, count: n };
}

/**
 * Distinct subscriber numbers for message 0, 1, 2...: `digits` digits after `prefix`, the first `space` of
 * them (a numbering plan may leave the top of a range unassigned), starting at `offset` and stepping by a
 * prime that divides no such space, so a run of up to `space` messages never repeats a number and runs
 * with different offsets rarely meet (the risk service limits messages per recipient).
 */
export function subscriberNumber(
  prefix: string,
  digits: number,
  offset: number,
  i: number,
  space = 10 ** digits,
): string {
  return prefix + String((offset + i * 7_919) % space).padStart(digits, '0');
}

/**
 * The least message id minted at or after `ms`. Ingest mints UUIDv7 ids, whose first 48 bits are the time,
 * and `attempts` is ordered by (submitted_date, message_id): with this bound ClickHouse reads this run's rows,
 * not every earlier run's, each time the bench polls (on a dev database of 1.5 million rows, 183,000 read
 * instead of all, the poll's CPU otherwise counted as the platform's).
 */
export function firstIdMintedAt(ms: number): string {
  const hex = Math.max(0, ms).toString(16).padStart(12, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8)}`;
}

/** What a metric's figures are told apart by: a consumer group and its topic, a process or an API. */
type RouteOf = (labels: Map<string, string>) => string;
const byGroup: RouteOf = (labels) => `${labels.get('group')} ${labels.get('topic')}`;
export const byService: RouteOf = (labels) => labels.get('service') ?? '';
export const byApi: RouteOf = (labels) => labels.get('api') ?? '';

/** Each sample of a series in Prometheus text, with its labels and its route (by default group and topic). */
function* groupSamples(
  text: string,
  series: string,
  routeOf: RouteOf = byGroup,
): Generator<{ route: string; labels: Map<string, string>; value: number }> {
  const sampleLine = new RegExp(`^${series}\\{([^}]*)\\} (\\S+)$`);
  for (const line of text.split('\n')) {
    const sample = sampleLine.exec(line);
    if (!sample) continue;
    const labels = new Map([...sample[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
    yield { route: routeOf(labels), labels, value: Number(sample[2]) };
  }
}

/**
 * What a counter of the services' /metrics (Prometheus text) counted between two scrapes, per message and
 * route, largest first; series summed over the processes. `tern_kafka_batch_size_count` by group and topic
 * (`batchesPerMessage`): at low rates a batch is a fetch round trip, for the group and for the broker,
 * whether its records were handled or passed over. `tern_kafka_requests_total` by API (`byApi`): every
 * request the consumers and producers sent.
 */
export function countedPerMessage(
  series: string,
  before: string,
  after: string,
  messages: number,
  routeOf: RouteOf = byGroup,
): Record<string, number> {
  const counts = (text: string) => {
    const byRoute = new Map<string, number>();
    for (const { route, value } of groupSamples(text, series, routeOf))
      byRoute.set(route, (byRoute.get(route) ?? 0) + value);
    return byRoute;
  };
  const was = counts(before);
  return Object.fromEntries(
    [...counts(after)]
      .map(([route, n]) => [route, (n - (was.get(route) ?? 0)) / Math.max(1, messages)] as const)
      .filter(([, perMessage]) => perMessage > 0)
      .sort((a, b) => b[1] - a[1]),
  );
}

/**
 * Each service's garbage collection a message between two scrapes, ms by kind (`minor`: the young generation;
 * `major`, `incremental`: the old), from prom-client's `nodejs_gc_duration_seconds`: the pauses of its
 * main thread, which grow as its heap is sized smaller (a pod's memory limit sizes it).
 */
export const gcMsPerMessage = (before: string, after: string, messages: number): Record<string, number> =>
  Object.fromEntries(
    Object.entries(
      countedPerMessage(
        'nodejs_gc_duration_seconds_sum',
        before,
        after,
        messages,
        (labels) => `${labels.get('service')} ${labels.get('kind')}`,
      ),
    ).map(([route, seconds]) => [route, seconds * 1000]),
  );

export const batchesPerMessage = (before: string, after: string, messages: number) =>
  countedPerMessage('tern_kafka_batch_size_count', before, after, messages);

/** Redis calls that run a script: its own commands are counted again under their names. */
const SCRIPT_COMMANDS = new Set(['evalsha', 'eval', 'evalsha_ro', 'eval_ro', 'fcall', 'fcall_ro']);

/**
 * Redis's work a message between two readings of its `INFO commandstats`: every command it ran (those its
 * scripts ran included, as Redis counts them), how many of them were script calls, and each command's
 * share, most run first. Server-wide: benchmarks never run side by side.
 */
export function redisCommandsPerMessage(
  before: string,
  after: string,
  messages: number,
): { commands: number; scriptCalls: number; byCommand: Record<string, number> } {
  const calls = (info: string) =>
    new Map([...info.matchAll(/^cmdstat_(\S+):calls=(\d+)/gm)].map((m) => [m[1]!, Number(m[2])]));
  const was = calls(before);
  const perMessage = [...calls(after)]
    .map(([command, n]) => [command, (n - (was.get(command) ?? 0)) / Math.max(1, messages)] as const)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1]);
  const sum = (entries: readonly (readonly [string, number])[]) => entries.reduce((t, [, n]) => t + n, 0);
  return {
    commands: sum(perMessage),
    scriptCalls: sum(perMessage.filter(([command]) => SCRIPT_COMMANDS.has(command))),
    byCommand: Object.fromEntries(perMessage),
  };
}

/**
 * Redis memory a message between two readings of its `INFO memory` and `INFO stats` (concatenated): how much
 * `used_memory` grew for each message, what the keys each one leaves cost while they live. Keys that expired
 * meanwhile (short-lived ones: rate windows) are not in it; `expiredKeys` counts them.
 */
export function redisMemoryPerMessage(
  before: string,
  after: string,
  messages: number,
): { bytes: number; expiredKeys: number } | undefined {
  const field = (info: string, name: string) => {
    const found = new RegExp(`^${name}:(\\d+)`, 'm').exec(info);
    return found ? Number(found[1]) : undefined;
  };
  const [usedBefore, usedAfter] = [field(before, 'used_memory'), field(after, 'used_memory')];
  const [expiredBefore, expiredAfter] = [field(before, 'expired_keys'), field(after, 'expired_keys')];
  if (usedBefore === undefined || usedAfter === undefined || messages === 0) return undefined;
  return {
    bytes: (usedAfter - usedBefore) / messages,
    expiredKeys: (expiredAfter ?? 0) - (expiredBefore ?? 0),
  };
}

/** Percentiles of a consumer group's histogram, as the bounds of the buckets they fall in (ms). */
export interface BucketBounds {
  count: number;
  p50: number;
  p95: number;
  p99: number;
}

/**
 * Per consumer group and topic (or per process, `byService`): what a histogram of seconds in the services'
 * metrics counted between two scrapes (`tern_kafka_record_age_seconds`: how long records waited from their
 * write to the start of their handling; `tern_kafka_handle_seconds`: how long each call took;
 * `tern_kafka_produce_request_seconds`: each produce request, by process). A histogram tells a percentile
 * only as the upper bound of its bucket: "p99 50" reads "99% within 50 ms".
 */
export function groupHistogram(
  metric: string,
  before: string,
  after: string,
  routeOf: RouteOf = byGroup,
): Record<string, BucketBounds> {
  const buckets = (text: string) => {
    const byRoute = new Map<string, Map<number, number>>();
    for (const { route, labels, value } of groupSamples(text, `${metric}_bucket`, routeOf)) {
      const counts = byRoute.get(route) ?? new Map<number, number>();
      const le = labels.get('le') === '+Inf' ? Infinity : Number(labels.get('le'));
      counts.set(le, (counts.get(le) ?? 0) + value);
      byRoute.set(route, counts);
    }
    return byRoute;
  };
  const was = buckets(before);
  const bounds: Record<string, BucketBounds> = {};
  for (const [route, counts] of buckets(after)) {
    const cumulative = [...counts]
      .map(([le, n]) => [le, n - (was.get(route)?.get(le) ?? 0)] as const)
      .sort((a, b) => a[0] - b[0]);
    const count = cumulative.at(-1)?.[1] ?? 0;
    if (count <= 0) continue;
    const bound = (q: number) => cumulative.find(([, n]) => n >= q * count)![0] * 1000;
    bounds[route] = { count, p50: bound(0.5), p95: bound(0.95), p99: bound(0.99) };
  }
  return bounds;
}

/** What `comparisonTable` reads of a run's JSON (older runs lack some of it). */
export interface RunFigures {
  at: string;
  options: { rate: number; batch: number; inFlight: number; mix: string; intake?: string };
  perSecond: Record<string, number | undefined>;
  latencyMs: Record<string, Percentiles | undefined>;
  cpu: {
    perMessageMs: Record<string, number | undefined>;
    platformPerMessageMs?: number | undefined;
    /** Each process's CPU counts its children's (processCpuTicksOfStat); absent in runs made before. */
    withChildren?: boolean;
  };
  /** The processes run at a lower CPU priority than the others (name -> nice), when any. */
  machine?: { niced?: Record<string, number> };
  /** Absent in runs made before it was measured. */
  redisMemoryPerMessage?: { bytes: number; expiredKeys: number };
}

/** `dlr 10, analytics 10`: the processes at a nice value above 0, or '' when none. */
export const nicedList = (niced: Record<string, number> = {}): string =>
  Object.entries(niced)
    .map(([name, nice]) => `${name} ${nice}`)
    .join(', ');

const described = (r: RunFigures) =>
  `rate ${r.options.rate || 'as fast as it goes'}, batch ${r.options.batch}, ` +
  `${r.options.inFlight} in flight, mix ${r.options.mix}, intake ${r.options.intake ?? 'grpc'}` +
  (nicedList(r.machine?.niced) ? `, at nice: ${nicedList(r.machine?.niced)}` : '') +
  (r.cpu.withChildren ? '' : ', CPU without forked children');

/**
 * Two runs side by side as a Markdown table: rates, latencies, and CPU a message of the platform and of each
 * process (the platform's first, then the processes by their CPU in `after`), with the change in percent. It
 * says so when the runs were not sent or run alike: CPU a message depends on the rate, latencies on which
 * processes yield the CPU (docs/operations.md).
 */
export function comparisonTable(before: RunFigures, after: RunFigures): string {
  const rows: [string, number | undefined, number | undefined][] = [
    ['accepted a second', before.perSecond['accepted'], after.perSecond['accepted']],
    ['submit_sm a second', before.perSecond['submitSm'], after.perSecond['submitSm']],
  ];
  for (const leg of ['acceptToSubmit', 'callToSubmit'])
    for (const p of ['p50', 'p99'] as const)
      rows.push([`${leg} ${p} ms`, before.latencyMs[leg]?.[p], after.latencyMs[leg]?.[p]]);
  rows.push(['CPU ms a message, platform', before.cpu.platformPerMessageMs, after.cpu.platformPerMessageMs]);
  const processes = [
    ...new Set([...Object.keys(after.cpu.perMessageMs), ...Object.keys(before.cpu.perMessageMs)]),
  ];
  const cpuOf = (r: RunFigures, name: string) => r.cpu.perMessageMs[name] ?? -1;
  processes.sort((a, b) => cpuOf(after, b) - cpuOf(after, a));
  for (const name of processes)
    rows.push([`CPU ms a message, ${name}`, before.cpu.perMessageMs[name], after.cpu.perMessageMs[name]]);
  const redisBytes = (r: RunFigures) => {
    const bytes = r.redisMemoryPerMessage?.bytes;
    return bytes === undefined ? undefined : Math.round(bytes);
  };
  rows.push(['Redis memory a message, bytes', redisBytes(before), redisBytes(after)]);
  const text = (n: number | undefined) => (n === undefined ? '-' : String(n));
  const change = (b: number | undefined, a: number | undefined) =>
    b === undefined || a === undefined || b === 0
      ? ''
      : `${a >= b ? '+' : ''}${(((a - b) / b) * 100).toFixed(1)}%`;
  const lines = [
    `before: ${before.at}, ${described(before)}`,
    `after:  ${after.at}, ${described(after)}`,
    ...(described(before) === described(after) ? [] : ['(not sent or run alike: compare with care)']),
    '',
    '| figure | before | after | change |',
    '| --- | ---: | ---: | ---: |',
    ...rows.map(([name, b, a]) => `| ${name} | ${text(b)} | ${text(a)} | ${change(b, a)} |`),
  ];
  return `${lines.join('\n')}\n`;
}

/**
 * The broker's CPU a produce request and a record (µs), fitted by least squares to phases of writes: each
 * phase's CPU over the idle broker's (the same length of time) as a·requests + b·records.
 */
export function brokerCostFit(
  idleCpuMs: number,
  phases: readonly { requests: number; records: number; cpuMs: number }[],
): { perRequestUs: number; perRecordUs: number } {
  let rr = 0;
  let rn = 0;
  let nn = 0;
  let ry = 0;
  let ny = 0;
  for (const { requests: r, records: n, cpuMs } of phases) {
    const y = cpuMs - idleCpuMs;
    rr += r * r;
    rn += r * n;
    nn += n * n;
    ry += r * y;
    ny += n * y;
  }
  const determinant = rr * nn - rn * rn;
  if (determinant === 0) throw new Error('the phases must differ in records per request');
  return {
    perRequestUs: ((ry * nn - ny * rn) / determinant) * 1000,
    perRecordUs: ((ny * rr - ry * rn) / determinant) * 1000,
  };
}

/** What a frame is counted under: its npm package, the repository's service or library, or Node's module. */
export function codeOf(url: string, functionName: string): string {
  const pkg =
    /node_modules\/\.pnpm\/((?:@[^+/]+\+)?[^@/]+)@/.exec(url) ??
    /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!.replace('+', '/');
  const own = /\/((?:services|libs|tools)\/[^/]+|proto)\/(?:dist|src)\//.exec(url);
  if (own) return own[1]!;
  if (url.startsWith('node:')) return url.split('/')[0]!;
  // V8's own: (garbage collector), (program), and native frames such as writeBuffer.
  return functionName || '(anonymous)';
}

/** A frame of a CPU or allocation profile: what it ran, and where. */
export interface ProfileFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

/**
 * What a profile's frames weigh (self only), summed by what `keyOf` says of each frame, largest first; with
 * the process's name, from the first service or tool of the repository its frames run.
 */
function weighFrames(
  frames: Iterable<{ callFrame: ProfileFrame; weight: number }>,
  keyOf: (frame: ProfileFrame) => string,
): { process: string; total: number; by: [string, number][] } {
  const by = new Map<string, number>();
  let total = 0;
  let processName = '';
  for (const { callFrame, weight } of frames) {
    processName ||= /\/(?:services|tools)\/([^/]+)\//.exec(callFrame.url)?.[1] ?? '';
    if (weight <= 0) continue;
    const key = keyOf(callFrame);
    by.set(key, (by.get(key) ?? 0) + weight);
    total += weight;
  }
  return { process: processName || '?', total, by: [...by].sort((a, b) => b[1] - a[1]) };
}

/**
 * A profile's busy time (ms) by what `keyOf` says of each frame, self time only, idle left out, largest
 * first; with the process's name. V8 samples by the clock: on a machine short of CPU a sample also counts the
 * time the thread waited for one, so the busy time is more than the CPU the process used (operations.md,
 * Benchmark).
 */
export function profileTime(
  profile: Profiler.Profile,
  keyOf: (frame: ProfileFrame) => string,
): { process: string; total: number; by: [string, number][] } {
  const msPerSample =
    (profile.endTime - profile.startTime) / 1000 / Math.max(1, profile.samples?.length ?? 0);
  return weighFrames(
    profile.nodes.map(({ callFrame, hitCount = 0 }) => ({
      callFrame,
      weight: callFrame.functionName === '(idle)' ? 0 : hitCount * msPerSample,
    })),
    keyOf,
  );
}

/** A node of a sampling heap profile (`HeapProfiler.stopSampling`, a `.heapprofile` file). */
export interface AllocationNode {
  callFrame: ProfileFrame;
  selfSize: number;
  children: AllocationNode[];
}

/**
 * What a process allocated (bytes, as V8's sampling estimates it: every sample stands for the allocations
 * between it and the last) by what `keyOf` says of each frame, self only, largest first; with the process's
 * name. With garbage sampled too (tools/bench/allocation-profile.cjs), it is what the young generation
 * collects: the more a message allocates, the more often a service stops for it.
 */
export function profileAllocation(
  head: AllocationNode,
  keyOf: (frame: ProfileFrame) => string,
): { process: string; total: number; by: [string, number][] } {
  const frames: { callFrame: ProfileFrame; weight: number }[] = [];
  const nodes = [head];
  for (let node = nodes.pop(); node; node = nodes.pop()) {
    frames.push({ callFrame: node.callFrame, weight: node.selfSize });
    nodes.push(...node.children);
  }
  return weighFrames(frames, keyOf);
}
