import { sql, type ClickHouse } from '@tern/clickhouse';
import { VALIDITY_LIMITS_MS } from '@tern/sms-domain';
import type { PumpingBlock, RouteFigures, TrafficBucket } from './domain/channel-report';
import type { ConversionMinute, RouteLatency, RouteMinute } from './domain/route-weights';

const DAY_MS = 86_400_000;

/**
 * Attempts done since `from`, bounded on the table's partition and sort key too, so that a read of the last
 * hour reads the last days and not the whole month: an attempt ends within its message's validity of its
 * submission (a day more for the time zone of the date column).
 */
const doneSince = (from: Date) =>
  sql`submitted_date >= toDate(${new Date(from.getTime() - VALIDITY_LIMITS_MS.max - DAY_MS)}) AND done_at >= ${from}`;

/** Conversions reported since `from`: on its day or later (a day earlier for the time zone of the date). */
const reportedSince = (from: Date) =>
  sql`reported_date >= toDate(${new Date(from.getTime() - DAY_MS)}) AND reported_at >= ${from}`;

interface MinuteRow {
  minute: string;
  country: string;
  mcc_mnc: string;
  channel_id: string;
  tier: string;
  attempts: string;
  delivered: string;
  failed: string;
  cost: number;
}

interface LatencyRow {
  country: string;
  mcc_mnc: string;
  channel_id: string;
  latency: number[];
}

interface ConversionRow {
  minute: string;
  country: string;
  mcc_mnc: string;
  channel_id: string;
  delivered: string;
  converted: string;
  time_to_use_s: string;
}

interface PumpingRow {
  tenant_id: string;
  number_range: string;
  refused: string;
  would_refuse: string;
}

interface ReportRow {
  country: string;
  mcc_mnc: string;
  channel_id: string;
  tier: string;
  attempts: string;
  delivered: string;
  filtered: string;
  latency: (number | null)[];
  cost: number;
}

/** The report's row without the filtered count, which the per-minute aggregates do not keep. */
type LiveRow = Omit<ReportRow, 'filtered'>;

interface BucketRow {
  at: string;
  country: string;
  channel_id: string;
  attempts: string;
  delivered: string;
}

/**
 * Route figures from ClickHouse: per minute from the `route_minutes` materialized view (migration 002) for
 * the weights loop, and exact ones from `attempts` (FINAL: one row per attempt) for reports.
 */
export class RouteFiguresRepository {
  constructor(private readonly db: ClickHouse) {}

  /** Every route's figures per minute since `since`, over all message types. */
  async minutes(since: Date): Promise<RouteMinute[]> {
    const rows = await this.db.rows<MinuteRow>(sql`
      SELECT toUnixTimestamp(minute) AS minute, country, mcc_mnc, channel_id, any(tier) AS tier,
        countMerge(attempts) AS attempts, sumMerge(delivered) AS delivered, sumMerge(failed) AS failed,
        sumMerge(cost) AS cost
      FROM route_minutes
      WHERE minute >= ${since}
      GROUP BY minute, country, mcc_mnc, channel_id`);
    return rows.map((r) => ({
      minute: Number(r.minute) * 1000,
      country: r.country,
      mccMnc: r.mcc_mnc,
      channelId: r.channel_id,
      tier: r.tier,
      attempts: Number(r.attempts),
      delivered: Number(r.delivered),
      failed: Number(r.failed),
      cost: Number(r.cost),
    }));
  }

  /**
   * Per route (country, carrier, channel) and minute since `since`: OTPs whose delivery receipt came before
   * `matureBefore` (time enough for their code to be used), of tenants that report conversions, how many of
   * them were converted, and their summed times from acceptance to use (whole seconds: both are DateTime).
   * Without FINAL (it cost four times the rest at 2 million OTPs a day): DELIVERED is an attempt's last
   * status, so a row that says it is its last version, and grouping by message folds repeated rows.
   */
  async conversionMinutes(since: Date, matureBefore: Date): Promise<ConversionMinute[]> {
    const rows = await this.db.rows<ConversionRow>(sql`
      SELECT toUnixTimestamp(toStartOfMinute(delivered_at)) AS minute, route_country AS country,
        route_carrier AS mcc_mnc, route_channel AS channel_id, count() AS delivered, sum(used) AS converted,
        sumIf(greatest(toInt64(toUnixTimestamp(used_at)) - toInt64(toUnixTimestamp(accepted)), 0), used = 1)
          AS time_to_use_s
      FROM (
        SELECT message_id, any(country) AS route_country, any(mcc_mnc) AS route_carrier,
          any(channel_id) AS route_channel, min(accepted_at) AS accepted, max(done_at) AS delivered_at
        FROM attempts
        WHERE ${doneSince(since)} AND done_at < ${matureBefore} AND message_type = 'OTP' AND status = 'DELIVERED'
          AND tenant_id IN (SELECT tenant_id FROM conversions WHERE ${reportedSince(since)})
        GROUP BY message_id
      )
      ANY LEFT JOIN (
        SELECT message_id, toUInt8(1) AS used, min(converted_at) AS used_at FROM conversions
        WHERE ${reportedSince(since)} GROUP BY message_id
      ) USING message_id
      GROUP BY minute, country, mcc_mnc, channel_id`);
    return rows.map((r) => ({
      minute: Number(r.minute) * 1000,
      country: r.country,
      mccMnc: r.mcc_mnc,
      channelId: r.channel_id,
      delivered: Number(r.delivered),
      converted: Number(r.converted),
      timeToUseMs: Number(r.time_to_use_s) * 1000,
    }));
  }

  /** Delivery latency p50/p95 per route with deliveries (per carrier, and per country: mcc_mnc empty) since `since`. */
  async latencies(since: Date): Promise<RouteLatency[]> {
    const rows = await this.db.rows<LatencyRow>(sql`
      SELECT country, mcc_mnc, channel_id, quantilesTDigestIfMerge(0.5, 0.95)(latency) AS latency
      FROM route_minutes WHERE minute >= ${since}
      GROUP BY country, mcc_mnc, channel_id
      HAVING sumMerge(delivered) > 0
      UNION ALL
      SELECT country, '' AS mcc_mnc, channel_id, quantilesTDigestIfMerge(0.5, 0.95)(latency) AS latency
      FROM route_minutes WHERE minute >= ${since}
      GROUP BY country, channel_id
      HAVING sumMerge(delivered) > 0`);
    // Only routes with deliveries: quantiles of nothing are NaN.
    return rows.map((r) => ({
      country: r.country,
      mccMnc: r.mcc_mnc,
      channelId: r.channel_id,
      p50Ms: Number(r.latency[0] ?? 0),
      p95Ms: Number(r.latency[1] ?? 0),
    }));
  }

  /**
   * Every route's figures per carrier since `since`, from the per-minute aggregates: cheap enough to read
   * every few seconds on a busy day (the console's live traffic). Filtered failures are not counted there.
   */
  async liveRoutes(since: Date): Promise<RouteFigures[]> {
    const rows = await this.db.rows<LiveRow>(sql`
      SELECT country, mcc_mnc, channel_id, any(tier) AS tier, countMerge(attempts) AS attempts,
        sumMerge(delivered) AS delivered, sumMerge(cost) AS cost,
        quantilesTDigestIfMerge(0.5, 0.95)(latency) AS latency
      FROM route_minutes
      WHERE minute >= ${since}
      GROUP BY country, mcc_mnc, channel_id`);
    return rows.map((r) => {
      const delivered = Number(r.delivered);
      return {
        country: r.country,
        mccMnc: r.mcc_mnc,
        channelId: r.channel_id,
        tier: r.tier,
        attempts: Number(r.attempts),
        delivered,
        filtered: 0,
        // Quantiles of no delivery are NaN.
        latencyP50Ms: delivered > 0 ? Number(r.latency[0] ?? 0) : 0,
        latencyP95Ms: delivered > 0 ? Number(r.latency[1] ?? 0) : 0,
        cost: Number(r.cost),
      };
    });
  }

  /**
   * OTPs risk refused as SMS pumping over [from, to), per tenant and number range, and those it would have
   * refused under a monitor-mode policy, from the traces: the REJECTED status events, and the first
   * attempts' routing decisions whose risk notes say "would be refused as pumping". The range is read from
   * the reason's "N of M OTPs to +<range>…" (services/risk, pumping.ts).
   */
  async pumpingBlocks(from: Date, to: Date): Promise<PumpingBlock[]> {
    const inPeriod = sql`event_date >= toDate(${new Date(from.getTime() - DAY_MS)}) AND at >= ${from} AND at < ${to}`;
    const rows = await this.db.rows<PumpingRow>(sql`
      SELECT tenant_id, number_range, sum(refused) AS refused, sum(would_refuse) AS would_refuse
      FROM (
        SELECT tenant_id, extract(detail, 'OTPs to [+]([0-9]+)') AS number_range,
          count(DISTINCT message_id) AS refused, toUInt64(0) AS would_refuse
        FROM message_events
        WHERE kind = 'status' AND status = 'REJECTED' AND reason_code = 'PUMPING_NO_CONVERSIONS' AND ${inPeriod}
        GROUP BY tenant_id, number_range
        UNION ALL
        SELECT tenant_id, extract(detail, 'would be refused as pumping [(][0-9]+ of [0-9]+ OTPs to [+]([0-9]+)')
            AS number_range, toUInt64(0) AS refused, count(DISTINCT message_id) AS would_refuse
        FROM message_events
        WHERE kind = 'routing' AND attempt = 1 AND position(detail, 'would be refused as pumping') > 0
          AND ${inPeriod}
        GROUP BY tenant_id, number_range
      )
      GROUP BY tenant_id, number_range`);
    return rows.map((r) => ({
      tenantId: r.tenant_id,
      range: r.number_range,
      refused: Number(r.refused),
      wouldRefuse: Number(r.would_refuse),
    }));
  }

  /** Every route's figures over [from, to), per carrier. */
  async reportRoutes(from: Date, to: Date): Promise<RouteFigures[]> {
    const rows = await this.db.rows<ReportRow>(sql`
      SELECT country, mcc_mnc, channel_id, any(tier) AS tier, count() AS attempts,
        countIf(status = 'DELIVERED') AS delivered, countIf(reason_code = 'FILTERED') AS filtered,
        quantilesIf(0.5, 0.95)(delivery_latency_ms, status = 'DELIVERED') AS latency,
        sum(price_per_segment * segments) AS cost
      FROM attempts FINAL
      WHERE ${doneSince(from)} AND done_at < ${to}
      GROUP BY country, mcc_mnc, channel_id`);
    return rows.map((r) => ({
      country: r.country,
      mccMnc: r.mcc_mnc,
      channelId: r.channel_id,
      tier: r.tier,
      attempts: Number(r.attempts),
      delivered: Number(r.delivered),
      filtered: Number(r.filtered),
      // Quantiles of no delivery come back null.
      latencyP50Ms: Number(r.latency[0] ?? 0),
      latencyP95Ms: Number(r.latency[1] ?? 0),
      cost: Number(r.cost),
    }));
  }

  /** Attempts per country and channel in buckets of `bucketSeconds` over [from, to). */
  async reportRouting(from: Date, to: Date, bucketSeconds: number): Promise<TrafficBucket[]> {
    const rows = await this.db.rows<BucketRow>(sql`
      SELECT intDiv(toUInt32(done_at), ${bucketSeconds}) * ${bucketSeconds} AS at, country, channel_id,
        count() AS attempts, countIf(status = 'DELIVERED') AS delivered
      FROM attempts FINAL
      WHERE ${doneSince(from)} AND done_at < ${to}
      GROUP BY at, country, channel_id`);
    return rows.map((r) => ({
      at: Number(r.at) * 1000,
      country: r.country,
      channelId: r.channel_id,
      attempts: Number(r.attempts),
      delivered: Number(r.delivered),
    }));
  }
}
