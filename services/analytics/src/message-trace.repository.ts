import { sql, type ClickHouse } from '@tern/clickhouse';
import type { AttemptStep, MessageSummary, TraceEvent } from './domain/message-trace';

/** At most this many messages answer one search. */
const MAX_FOUND = 50;

interface SummaryRow {
  message_id: string;
  tenant_id: string;
  client_reference: string;
  first_at: string;
  last_status: string;
}

interface EventRow {
  kind: string;
  status: string;
  attempt: number;
  channel_id: string;
  reason_code: string;
  detail: string;
  at: string;
  at_ms: number;
}

interface AttemptRow {
  attempt: number;
  channel_id: string;
  tier: string;
  status: string;
  reason_code: string;
  receipt_state: string;
  error_code: string;
  cost: number;
  submit_latency_ms: string;
  delivery_latency_ms: string;
  submitted_at: string;
  done_at: string;
}

/**
 * Each message's trace from ClickHouse: its status events and routing decisions (`message_events`, written
 * by dlr) and its attempts (`attempts`). Messages are found by id, by client reference, or by the keyed hash
 * of their recipient (the only form in which a recipient is stored).
 */
export class MessageTraceRepository {
  constructor(private readonly db: ClickHouse) {}

  /** The messages matching one of: a message id, a client reference, a recipient's hash; newest first. */
  async find(by: { messageId: string } | { clientReference: string } | { recipientHash: string }) {
    const ids =
      'messageId' in by
        ? sql`${[by.messageId]}`
        : 'clientReference' in by
          ? sql`(SELECT DISTINCT message_id FROM message_events
                 WHERE kind = 'status' AND client_reference = ${by.clientReference})`
          : sql`(SELECT DISTINCT message_id FROM attempts WHERE recipient_hash = ${by.recipientHash})`;
    const rows = await this.db.rows<SummaryRow>(sql`
      SELECT message_id, any(tenant_id) AS tenant_id, anyIf(client_reference, client_reference != '') AS client_reference,
        toUnixTimestamp(min(at)) AS first_at, argMax(status, (at, at_ms)) AS last_status
      FROM message_events
      WHERE kind = 'status' AND message_id IN ${ids}
      GROUP BY message_id
      ORDER BY first_at DESC
      LIMIT ${MAX_FOUND}`);
    return rows.map((r): MessageSummary => ({
      messageId: r.message_id,
      tenantId: r.tenant_id,
      clientReference: r.client_reference,
      firstAt: Number(r.first_at) * 1000,
      lastStatus: r.last_status,
    }));
  }

  /** One message's status events and routing decisions in order, and its attempts as they ended. */
  async trace(messageId: string): Promise<{ events: TraceEvent[]; attempts: AttemptStep[] }> {
    const events = (
      await this.db.rows<EventRow>(sql`
        SELECT DISTINCT kind, status, attempt, channel_id, reason_code, detail, toUnixTimestamp(at) AS at, at_ms
        FROM message_events
        WHERE message_id = ${messageId}
        ORDER BY at, at_ms`)
    ).map((r): TraceEvent => ({
      kind: r.kind === 'routing' ? 'routing' : 'status',
      status: r.status,
      attempt: Number(r.attempt),
      channelId: r.channel_id,
      reasonCode: r.reason_code,
      detail: JSON.parse(r.detail) as Record<string, unknown>,
      at: Number(r.at) * 1000 + Number(r.at_ms),
    }));
    const first = events[0];
    if (!first) return { events, attempts: [] };
    // The attempts table is ordered by submission date first: bounding it keeps the lookup to a few granules.
    const since = new Date(first.at - 24 * 3_600_000);
    const attempts = (
      await this.db.rows<AttemptRow>(sql`
        SELECT attempt, channel_id, tier, status, reason_code, receipt_state, error_code,
          price_per_segment * segments AS cost, submit_latency_ms, delivery_latency_ms,
          toUnixTimestamp(submitted_at) AS submitted_at, toUnixTimestamp(done_at) AS done_at
        FROM attempts FINAL
        WHERE submitted_date >= toDate(${since}) AND message_id = ${messageId}
        ORDER BY attempt`)
    ).map((r): AttemptStep => ({
      attempt: Number(r.attempt),
      channelId: r.channel_id,
      tier: r.tier,
      status: r.status,
      reasonCode: r.reason_code,
      receiptState: r.receipt_state,
      errorCode: r.error_code,
      cost: Number(r.cost),
      submitLatencyMs: Number(r.submit_latency_ms),
      deliveryLatencyMs: Number(r.delivery_latency_ms),
      submittedAt: Number(r.submitted_at) * 1000,
      doneAt: Number(r.done_at) * 1000,
    }));
    return { events, attempts };
  }

  /** Messages accepted and finished over the last `seconds` (all tenants), for the live traffic headline. */
  async recentFlow(seconds: number): Promise<{ status: string; count: number }[]> {
    const since = new Date(Date.now() - seconds * 1000);
    const rows = await this.db.rows<{ status: string; count: string }>(sql`
      SELECT status, uniqExact(message_id) AS count
      FROM message_events
      WHERE kind = 'status' AND event_date >= toDate(${since}) AND at >= ${since}
      GROUP BY status`);
    return rows.map((r) => ({ status: r.status, count: Number(r.count) }));
  }
}
