import { LANE_NAME } from '@tern/contracts';
import { RECEIPT_WINDOWS, TIERS } from '@tern/sms-domain';
import { z } from 'zod';

const country = z.string().regex(/^[A-Z]{2}$/, 'ISO 3166-1 alpha-2');
const laneName = z.string().regex(LANE_NAME, 'lowercase letters, digits and dashes, not ending in -bulk');
const price = z.number().nonnegative();

const channelSchema = z.object({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'lowercase letters, digits and dashes'),
  tier: z.enum(TIERS),
  /** Submissions per second the channel takes (the connector's binds enforce it per bind; this is the total). */
  tps: z.number().positive(),
  senderTypes: z.array(z.enum(['alphanumeric', 'shortcode', 'international'])).min(1),
  /**
   * How long after submission this channel's receipts are expected, for OTPs and for other messages; past it
   * dlr counts the attempt as failed and asks for a retry. Unset: the tier's default (RECEIPT_WINDOWS).
   */
  receiptWindowSeconds: z.object({ otp: z.number().positive(), other: z.number().positive() }).optional(),
  /** Countries it reaches and the price per segment, optionally per destination carrier (MCC+MNC). */
  countries: z.record(
    country,
    z.object({ price, carriers: z.record(z.string().regex(/^\d{5,6}$/), price).default({}) }),
  ),
});

export const routingTableSchema = z
  .object({
    channels: z.array(channelSchema).min(1),
    /**
     * Messages per second the platform sends to a country across every channel and router instance
     * (carriers' and regulators' caps); traffic above it waits. Unlisted countries: channel limits only.
     */
    countryLimits: z
      .record(
        country,
        z.object({ perSecond: z.number().positive(), burst: z.number().int().min(1).optional() }),
      )
      .default({}),
    /** Country → lane (its dispatch topic and connector deployment); unlisted countries go to defaultLane. */
    lanes: z.record(country, laneName).default({}),
    defaultLane: laneName.default('default'),
  })
  .superRefine((table, ctx) => {
    const seen = new Set<string>();
    table.channels.forEach((c, i) => {
      if (seen.has(c.id))
        ctx.addIssue({ code: 'custom', path: ['channels', i, 'id'], message: `duplicate channel ${c.id}` });
      seen.add(c.id);
    });
  });

export type RoutingTable = z.output<typeof routingTableSchema>;
export type Channel = RoutingTable['channels'][number];

/** Every lane the table names: each has a dispatch topic. */
export function lanesOf(table: RoutingTable): string[] {
  return [...new Set([table.defaultLane, ...Object.values(table.lanes)])];
}

export function laneOf(table: RoutingTable, countryCode: string): string {
  return table.lanes[countryCode] ?? table.defaultLane;
}

const routesByCountry = new WeakMap<RoutingTable, Map<string, readonly Channel[]>>();

/**
 * The channels with a route to a country, in the table's order: the candidates of its messages. Indexed once
 * per table (a reload is a new table), since a global table holds hundreds of channels and a message's
 * country is reached by a few.
 */
export function channelsTo(table: RoutingTable, countryCode: string): readonly Channel[] {
  let index = routesByCountry.get(table);
  if (!index) {
    const built = new Map<string, Channel[]>();
    for (const channel of table.channels) {
      for (const country of Object.keys(channel.countries)) {
        const reaching = built.get(country);
        if (reaching) reaching.push(channel);
        else built.set(country, [channel]);
      }
    }
    index = built;
    routesByCountry.set(table, index);
  }
  return index.get(countryCode) ?? [];
}

/**
 * A receipt window lasts at least this many times its route's measured delivery latency (p95). A window set
 * for a channel's usual speed is too short once the channel slows (congestion triples latencies): messages
 * still on their way would be retried on another channel and delivered twice.
 */
export const RECEIPT_WINDOW_LATENCY_MULTIPLE = 5;
/** The measured latency stretches a window to at most this many times its configured length. */
export const RECEIPT_WINDOW_MAX_STRETCH = 3;

/**
 * How long after submission a receipt from this channel is expected for an OTP, or another message: the
 * configured window, stretched when the route's measured p95 delivery latency (ms; 0: none measured) says
 * its receipts now take longer.
 */
export function receiptWindowMs(channel: Channel, otp: boolean, latencyP95Ms = 0): number {
  const windows = channel.receiptWindowSeconds ?? RECEIPT_WINDOWS[channel.tier];
  const configured = (otp ? windows.otp : windows.other) * 1000;
  const stretched = Math.min(
    RECEIPT_WINDOW_LATENCY_MULTIPLE * latencyP95Ms,
    RECEIPT_WINDOW_MAX_STRETCH * configured,
  );
  return Math.round(Math.max(configured, stretched));
}

/** Price per segment of a channel towards a country (and carrier, where priced apart); undefined: no route. */
export function priceOf(channel: Channel, countryCode: string, mccMnc: string): number | undefined {
  const route = channel.countries[countryCode];
  if (!route) return undefined;
  return (mccMnc ? route.carriers[mccMnc] : undefined) ?? route.price;
}
