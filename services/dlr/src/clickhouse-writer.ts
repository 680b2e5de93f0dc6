import { InsertBatcher, RowRefusedError, type ClickHouse } from '@tern/clickhouse';
import { events, sms } from '@tern/contracts';
import { PoisonMessageError, TransientError } from '@tern/kafka';
import { metricsRegistry } from '@tern/telemetry';
import { Counter } from 'prom-client';

const rowsWritten = new Counter({
  name: 'tern_dlr_clickhouse_rows_total',
  help: "Rows written to ClickHouse by kind (attempt, status, conversion, callback) and what became of them: written, retried (ClickHouse unavailable), refused (dead-lettered), lost (a callback try's trace row while ClickHouse was away)",
  labelNames: ['kind', 'outcome'],
  registers: [metricsRegistry],
});

/** Enum names without their type prefix: MESSAGE_TYPE_OTP -> OTP. */
const short = (name: string) => name.replace(/^(MESSAGE_TYPE|MESSAGE_STATUS|RECEIPT_STATE)_/, '');
const seconds = (at: Date | undefined) => (at ? Math.floor(at.getTime() / 1000) : 0);

/** The `attempts` row of a record (migrations/001_attempts.sql). */
export function attemptRow(r: events.AttemptRecord) {
  const submittedAt = r.submittedAt ?? r.doneAt ?? new Date();
  return {
    message_id: r.messageId,
    attempt: r.attempt,
    version: r.version,
    tenant_id: r.tenantId,
    country: r.country,
    mcc_mnc: r.mccMnc,
    channel_id: r.channelId,
    tier: r.tier,
    message_type: short(sms.messageTypeToJSON(r.type)),
    segments: r.segments,
    price_per_segment: r.pricePerSegment,
    recipient_hash: r.recipientHash,
    status: short(sms.messageStatusToJSON(r.status)),
    reason_code: r.reasonCode,
    retryable: r.retryable ? 1 : 0,
    receipt_state:
      r.receiptState === sms.ReceiptState.RECEIPT_STATE_UNSPECIFIED
        ? ''
        : short(sms.receiptStateToJSON(r.receiptState)),
    error_code: r.errorCode,
    accepted_at: seconds(r.acceptedAt),
    submitted_at: seconds(submittedAt),
    // Written out, not left to the columns' DEFAULTs: 18.16 fills omitted JSONEachRow fields with zeros.
    submitted_date: submittedAt.toISOString().slice(0, 10),
    written_at: seconds(new Date()),
    done_at: seconds(r.doneAt),
    submit_latency_ms: r.submitLatencyMs,
    delivery_latency_ms: r.deliveryLatencyMs,
    end_to_end_latency_ms: r.endToEndLatencyMs,
  };
}

/** Milliseconds past the second of `at`, which a `DateTime` column drops. */
const millis = (at: Date | undefined) => (at ? at.getTime() % 1000 : 0);

/** The `message_events` row of a status event (migrations/004_message_events.sql): one step of a trace. */
export function statusEventRow(e: sms.StatusEvent) {
  const at = e.occurredAt ?? new Date();
  const detail: Record<string, string | number> = {};
  if (e.receiptState !== sms.ReceiptState.RECEIPT_STATE_UNSPECIFIED) {
    detail['receiptState'] = short(sms.receiptStateToJSON(e.receiptState));
  }
  if (e.errorCode) detail['errorCode'] = e.errorCode;
  if (e.submitStatus) detail['submitStatus'] = e.submitStatus;
  if (e.reason?.description) detail['why'] = e.reason.description;
  if (e.deliveryLatencyMs) detail['deliveryLatencyMs'] = e.deliveryLatencyMs;
  if (e.smscMessageIds.length > 0) detail['smscMessageIds'] = e.smscMessageIds.join(' ');
  // Whether a signed callback was due for it, never where to (a tenant's URL may carry its own secret).
  if (e.callbackUrl) detail['callback'] = 'due';
  return {
    message_id: e.messageId,
    tenant_id: e.tenantId,
    client_reference: e.clientReference,
    kind: 'status',
    status: short(sms.messageStatusToJSON(e.status)),
    attempt: e.attempt,
    channel_id: e.channelId,
    reason_code: e.reason?.code ?? '',
    detail: JSON.stringify(detail),
    at: seconds(at),
    at_ms: millis(at),
    event_date: at.toISOString().slice(0, 10),
  };
}

/** The `message_events` row of an attempt's routing decision: its candidates, their scores and why. */
export function routingRow(r: events.AttemptRecord, decision: events.RoutingDecision) {
  const at = r.submittedAt ?? r.doneAt ?? new Date();
  return {
    message_id: r.messageId,
    tenant_id: r.tenantId,
    client_reference: '',
    kind: 'routing',
    status: '',
    attempt: r.attempt,
    channel_id: r.channelId,
    reason_code: '',
    detail: JSON.stringify(events.RoutingDecision.toJSON(decision)),
    at: seconds(at),
    at_ms: millis(at),
    event_date: at.toISOString().slice(0, 10),
  };
}

/** The `conversions` row of a reported conversion (migrations/005_conversions.sql). */
export function conversionRow(c: events.ConversionReported) {
  const reportedAt = c.reportedAt ?? new Date();
  return {
    message_id: c.messageId,
    tenant_id: c.tenantId,
    message_type: short(sms.messageTypeToJSON(c.type)),
    country: c.country,
    accepted_at: seconds(c.acceptedAt),
    converted_at: seconds(c.convertedAt ?? reportedAt),
    reported_at: seconds(reportedAt),
    reported_date: reportedAt.toISOString().slice(0, 10),
  };
}

/** What became of one try of a status callback, for the trace. */
export interface CallbackTry {
  result: 'delivered' | 'failed' | 'abandoned';
  /** Tries so far, this one included. */
  tries: number;
  httpStatus?: number | undefined;
  error?: string | undefined;
}

/** The `message_events` row of one try of a status callback: which status, and what the receiver did. */
export function callbackRow(e: sms.StatusEvent, done: CallbackTry, at: Date) {
  const detail: Record<string, string | number> = { result: done.result, tries: done.tries };
  if (done.httpStatus) detail['httpStatus'] = done.httpStatus;
  if (done.error) detail['error'] = done.error;
  return {
    ...statusEventRow(e),
    kind: 'callback',
    reason_code: '',
    detail: JSON.stringify(detail),
    at: seconds(at),
    at_ms: millis(at),
    event_date: at.toISOString().slice(0, 10),
  };
}

/**
 * Writes what analytics and the console read to ClickHouse: attempt records from `sms.attempts`, reported
 * conversions from `sms.conversions`, and each message's trace (its status events from `sms.status`, and each attempt's routing decision with its
 * record), many records to one insert. The Kafka handler awaits its rows' insert, so an offset is
 * committed only once the rows are stored: while ClickHouse is away the records are retried (never
 * dead-lettered) and arrive when it is back. A row written twice (an insert that succeeded but whose answer
 * was lost, or a redelivered record) has the same key, and the tables keep one.
 */
export class ClickHouseWriter {
  private readonly attempts;
  private readonly events;
  private readonly conversions;

  constructor(db: ClickHouse, options: { maxRows: number; lingerMs: number }) {
    this.attempts = new InsertBatcher<ReturnType<typeof attemptRow>>(db, 'attempts', options);
    this.events = new InsertBatcher<ReturnType<typeof statusEventRow>>(db, 'message_events', options);
    this.conversions = new InsertBatcher<ReturnType<typeof conversionRow>>(db, 'conversions', options);
  }

  /** Conversions tenants reported. */
  writeConversions(conversions: events.ConversionReported[]): Promise<void> {
    const rows = conversions.map((c) => this.conversions.add(conversionRow(c)));
    return stored(rows, 'conversion', conversions.length);
  }

  /** Attempts' rows; with an attempt's first report, the routing decision that chose its channel. */
  writeAttempts(records: events.AttemptRecord[]): Promise<void> {
    const rows = records.flatMap((record) => [
      this.attempts.add(attemptRow(record)),
      ...(record.version === 1 && record.decision
        ? [this.events.add(routingRow(record, record.decision))]
        : []),
    ]);
    return stored(rows, 'attempt', records.length);
  }

  /**
   * A status callback's try, in its message's trace. Tries run outside any Kafka handler, so there is no
   * record to retry: a row ClickHouse does not take is counted (outcome `lost`) and the try stays in dlr's
   * callback metrics and log.
   */
  traceCallback(event: sms.StatusEvent, done: CallbackTry): void {
    this.events.add(callbackRow(event, done, new Date())).then(
      () => rowsWritten.inc({ kind: 'callback', outcome: 'written' }),
      () => rowsWritten.inc({ kind: 'callback', outcome: 'lost' }),
    );
  }

  /** Status events, each as one step of its message's trace. */
  writeStatuses(statuses: sms.StatusEvent[]): Promise<void> {
    const rows = statuses.map((e) => this.events.add(statusEventRow(e)));
    return stored(rows, 'status', statuses.length);
  }
}

/**
 * Settles once every row of a handler call's records is stored. A refused row makes the call poison
 * (dead-lettered with ClickHouse's reason; of a call with many records, the consumer hands them over again
 * one at a time, so only the refused one is, and counted there); anything else is retried.
 */
async function stored(
  inserts: Promise<unknown>[],
  kind: 'attempt' | 'status' | 'conversion',
  records: number,
): Promise<void> {
  // Every row settled, not the first failure: a row rejecting after it would be an unhandled rejection.
  const failures: unknown[] = (await Promise.allSettled(inserts)).flatMap((r) =>
    r.status === 'rejected' ? [r.reason as unknown] : [],
  );
  if (failures.length === 0) {
    rowsWritten.inc({ kind, outcome: 'written' }, records);
    return;
  }
  const unavailable = failures.find((e) => !(e instanceof RowRefusedError));
  if (unavailable === undefined) {
    if (records === 1) rowsWritten.inc({ kind, outcome: 'refused' });
    throw new PoisonMessageError('CLICKHOUSE_REFUSED', (failures[0] as Error).message);
  }
  rowsWritten.inc({ kind, outcome: 'retried' }, records);
  throw new TransientError('ClickHouse unavailable', { cause: unavailable });
}
