import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

/** "30s", "5m", "1h", "250ms" -> milliseconds of simulated time. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text.trim());
  if (!m) throw new Error(`"${text}" is not a duration like 250ms, 30s, 5m or 1h`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  return Number(m[1]) * unit;
}

const duration = z.string().transform((s, ctx) => {
  try {
    return parseDuration(s);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
    return z.NEVER;
  }
});
const probability = z.number().min(0).max(1);
const digits = z.string().regex(/^\d{1,15}$/, 'must be digits only (international format without +)');

/** Latency of the receipt after submission, in simulated time: a log-normal fitted to p50 and p95. */
const latency = z
  .object({ p50: duration, p95: duration })
  .refine((l) => l.p95 >= l.p50, { message: 'p95 must not be below p50' });

/** How a channel delivers to a destination: share delivered, latency, and how failures split. */
const deliveryModel = z.object({
  deliveryRate: probability,
  latency,
  /** Weights of the failure states; each gets realistic network error codes. */
  failures: z
    .object({ UNDELIV: z.number().min(0), EXPIRED: z.number().min(0), REJECTD: z.number().min(0) })
    .default({ UNDELIV: 6, EXPIRED: 3, REJECTD: 1 }),
  /** Share of accepted messages whose receipt never comes (indirect routes lose them). */
  receiptLossRate: probability.default(0),
  /**
   * Share of the messages this route fails to deliver that it still reports DELIVRD, after a delivery's usual
   * time (grey routes and SIM farms): the receipt lies, the ground truth does not.
   */
  fakeReceiptRate: probability.default(0),
});
export type DeliveryModel = z.infer<typeof deliveryModel>;

const senderRules = z.object({
  /** allowed: any alphanumeric sender; registered: only `registeredSenders`; none: numeric senders only. */
  alphanumeric: z.enum(['allowed', 'registered', 'none']).default('allowed'),
  registeredSenders: z.array(z.string()).default([]),
  /** What a carrier does with a sender it does not accept: filter (REJECTD) or overwrite it and deliver. */
  onViolation: z.enum(['filter', 'overwrite']).default('filter'),
});

const carrier = z.object({
  id: z.string().min(1),
  name: z.string().min(1),
  mccMnc: z.string().regex(/^\d{5,6}$/, 'must be MCC+MNC, 5 or 6 digits'),
  /** International prefixes (country code included) of this carrier's numbers. */
  prefixes: z.array(digits).min(1),
  /** Case-insensitive regular expressions; a matching text is rejected by the carrier (REJECTD). */
  contentFilters: z.array(z.object({ pattern: z.string(), reason: z.string() })).default([]),
});

const country = z.object({
  code: z.string().regex(/^[A-Z]{2}$/, 'must be ISO 3166-1 alpha-2'),
  dialCode: digits,
  senders: senderRules.default({ alphanumeric: 'allowed', registeredSenders: [], onViolation: 'filter' }),
  carriers: z.array(carrier).min(1),
  /** Number ranges that do not exist: UNDELIV with "unknown subscriber". */
  invalidRanges: z.array(digits).default([]),
  /**
   * Messages per second the country's carriers take from one platform over all its channels (a regulator's
   * or the carriers' cap). The platform's config carries it as the router's country limit; the simulator
   * does not refuse above it, so tests can count from the ground truth whether the platform held it.
   */
  tps: z.number().positive().optional(),
});

const channel = z.object({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'lowercase letters, digits and dashes'),
  tier: z.enum(['direct', 'tier1', 'aggregator', 'indirect']),
  /** TCP port on 127.0.0.1; 0 picks a free one (tests). */
  port: z.number().int().min(0).max(65535),
  systemId: z.string().min(1).max(15),
  password: z.string().min(1).max(8),
  maxBinds: z.number().int().min(1).default(4),
  /** Submissions per second accepted over all binds; above it ESME_RTHROTTLED. */
  tps: z.number().positive(),
  /** Unanswered submit_sm per bind; above it ESME_RMSGQFUL. */
  window: z.number().int().min(1).default(50),
  /** Real (not simulated) time the SMSC takes to answer a submit_sm. */
  submitDelayMs: z.number().min(0).default(2),
  messageIdFormat: z.enum(['decimal', 'hex', 'uuid']).default('decimal'),
  /** Base of the id inside receipts; real SMSCs often answer in decimal and report in hex, or the reverse. */
  receiptIdFormat: z.enum(['same', 'decimal', 'hex']).default('same'),
  pricePerSegment: z.number().min(0),
  countries: z.array(z.string().regex(/^[A-Z]{2}$/)).min(1),
  default: deliveryModel,
  /** Per destination carrier id: a different model (e.g. a direct route only to one operator). */
  carriers: z.record(z.string(), deliveryModel).default({}),
});

const timelineEvent = z.discriminatedUnion('event', [
  z.object({ event: z.literal('outage'), channel: z.string(), from: duration, until: duration }),
  z.object({
    event: z.literal('degrade'),
    channel: z.string(),
    from: duration,
    until: duration,
    /** Multiplies the delivery rate (0.5 = half as many delivered). */
    deliveryFactor: z.number().min(0).max(1).default(1),
    latencyFactor: z.number().min(1).default(1),
    carrier: z.string().optional(),
  }),
  z.object({
    event: z.literal('congestion'),
    channel: z.string(),
    from: duration,
    until: duration,
    tps: z.number().positive(),
  }),
]);

/**
 * What the users who get an OTP do: each whose code really arrived uses it with probability `rate` if it came
 * at once, halved for every `halfLife` it took to arrive, after `delay` (arrival to typing the code), except
 * on `unusedRanges`. A
 * simulator given a tenant's API reports each use as that tenant's backend would (ReportConversion).
 */
const conversion = z.object({
  rate: probability,
  halfLife: duration,
  delay: latency,
  /** Number ranges whose codes nobody uses: SMS pumping, the numbers are the fraudster's. */
  unusedRanges: z.array(digits).default([]),
});
export type ConversionModel = z.infer<typeof conversion>;

export const scenarioSchema = z
  .object({
    name: z.string().min(1),
    description: z.string().default(''),
    countries: z.array(country).min(1),
    channels: z.array(channel).min(1),
    timeline: z.array(timelineEvent).default([]),
    conversion: conversion.optional(),
  })
  .superRefine((s, ctx) => {
    const countries = new Set(s.countries.map((c) => c.code));
    const carriers = new Set(s.countries.flatMap((c) => c.carriers.map((k) => k.id)));
    const channels = new Set<string>();
    s.channels.forEach((ch, i) => {
      if (channels.has(ch.id))
        ctx.addIssue({
          code: 'custom',
          path: ['channels', i, 'id'],
          message: `duplicate channel "${ch.id}"`,
        });
      channels.add(ch.id);
      ch.countries.forEach((c, j) => {
        if (!countries.has(c))
          ctx.addIssue({
            code: 'custom',
            path: ['channels', i, 'countries', j],
            message: `unknown country "${c}"`,
          });
      });
      Object.keys(ch.carriers).forEach((k) => {
        if (!carriers.has(k))
          ctx.addIssue({
            code: 'custom',
            path: ['channels', i, 'carriers', k],
            message: `unknown carrier "${k}"`,
          });
      });
    });
    s.timeline.forEach((e, i) => {
      if (!channels.has(e.channel))
        ctx.addIssue({
          code: 'custom',
          path: ['timeline', i, 'channel'],
          message: `unknown channel "${e.channel}"`,
        });
      if (e.until <= e.from)
        ctx.addIssue({ code: 'custom', path: ['timeline', i, 'until'], message: 'must be after from' });
    });
  });

export type Scenario = z.infer<typeof scenarioSchema>;
export type ChannelSpec = Scenario['channels'][number];
export type CountrySpec = Scenario['countries'][number];
export type CarrierSpec = CountrySpec['carriers'][number];
export type TimelineEvent = Scenario['timeline'][number];

export class ScenarioError extends Error {
  constructor(source: string, problems: string[]) {
    super(`invalid scenario ${source}:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'ScenarioError';
  }
}

export function parseScenario(text: string, source = 'scenario'): Scenario {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    throw new ScenarioError(source, [(e as Error).message]);
  }
  const result = scenarioSchema.safeParse(raw);
  if (!result.success) {
    throw new ScenarioError(
      source,
      result.error.issues.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`),
    );
  }
  return result.data;
}

export const SCENARIO_DIR = join(__dirname, '..', 'scenarios');

/** A shipped scenario by name (`tiers`) or a file path. */
export function loadScenario(nameOrPath: string): Scenario {
  const shipped = join(SCENARIO_DIR, `${nameOrPath}.yaml`);
  const file = existsSync(shipped) ? shipped : nameOrPath;
  if (!existsSync(file)) throw new Error(`no scenario "${nameOrPath}" (shipped ones are in ${SCENARIO_DIR})`);
  return parseScenario(readFileSync(file, 'utf8'), file);
}
