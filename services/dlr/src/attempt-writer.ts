import { InsertBatcher, RowRefusedError, type ClickHouse } from '@tern/clickhouse';
import { events, sms } from '@tern/contracts';
import { PoisonMessageError, TransientError } from '@tern/kafka';
import { metricsRegistry } from '@tern/telemetry';
import { Counter } from 'prom-client';

const rowsWritten = new Counter({
  name: 'tern_dlr_attempt_rows_total',
  help: 'Attempt records by what became of them: written to ClickHouse, retried (ClickHouse unavailable), refused (dead-lettered)',
  labelNames: ['outcome'],
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

/**
 * Writes attempt records from `sms.attempts` to ClickHouse, many records to one insert. The Kafka handler
 * awaits its row's insert, so an offset is committed only once the row is stored: while ClickHouse is away
 * the records are retried (never dead-lettered) and arrive when it is back. A row written twice (an insert
 * that succeeded but whose answer was lost) has the same key and version, and the table keeps one.
 */
export class AttemptWriter {
  private readonly batcher;

  constructor(db: ClickHouse, options: { maxRows: number; lingerMs: number }) {
    this.batcher = new InsertBatcher<ReturnType<typeof attemptRow>>(db, 'attempts', options);
  }

  async write(record: events.AttemptRecord): Promise<void> {
    try {
      await this.batcher.add(attemptRow(record));
      rowsWritten.inc({ outcome: 'written' });
    } catch (error) {
      if (error instanceof RowRefusedError) {
        rowsWritten.inc({ outcome: 'refused' });
        throw new PoisonMessageError('CLICKHOUSE_REFUSED', error.message);
      }
      rowsWritten.inc({ outcome: 'retried' });
      throw new TransientError('ClickHouse unavailable', { cause: error });
    }
  }
}
