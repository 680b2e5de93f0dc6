import type { events } from '@tern/contracts';
import {
  CONTENT_TYPE_HEADER,
  JSON_CONTENT_TYPE,
  PoisonMessageError,
  TransientError,
  type ConsumedRecord,
} from '@tern/kafka';
import type { Acceptor } from './acceptor';
import {
  EVENT_ID_PATTERN,
  eventSigningInput,
  signatureMatches,
  signedBytesOfProtobuf,
  signedTextOfJson,
} from './domain/event-signature';
import { eventWindow } from './domain/send-request';
import type { SendEventLedger } from './event-ledger';
import type { TenantDirectory } from '@tern/config';

/**
 * Handles one record of the public send-events topic. The tenant is trusted only through the event's
 * signature (HMAC-SHA256 under the tenant's event key over tenant, key, event id, send time and the exact
 * bytes of `message`: see SendEvent in events.proto); an event id seen before from another place in the
 * topic is a replay. A bad, unsigned, replayed or expired event, or one that validation refuses, is
 * dead-lettered with its reason and field, and the partition moves on. A valid event goes the same way as
 * a gRPC send, idempotency included (on its event id when it names no client_reference).
 */
export function sendEventIntake(tenants: TenantDirectory, ledger: SendEventLedger, acceptor: Acceptor) {
  return async (record: ConsumedRecord<events.SendEvent>): Promise<void> => {
    const event = record.value;
    if (!event.tenantId)
      throw new PoisonMessageError('MISSING_TENANT', 'the event names no tenant', 'tenant_id');
    if (!event.message)
      throw new PoisonMessageError('MISSING_MESSAGE', 'the event carries no message', 'message');
    if (!EVENT_ID_PATTERN.test(event.eventId)) {
      throw new PoisonMessageError(
        'BAD_EVENT_ID',
        'event_id must be 1-128 of A-Z a-z 0-9 . _ : -',
        'event_id',
      );
    }
    if (!event.sentAt || Number.isNaN(event.sentAt.getTime()))
      throw new PoisonMessageError('MISSING_SENT_AT', 'the event has no sent_at', 'sent_at');
    const tenant = tenants.get(event.tenantId);
    if (!tenant) throw new PoisonMessageError('UNKNOWN_TENANT', `no tenant "${event.tenantId}"`, 'tenant_id');
    const secret = tenants.eventSecret(tenant.id, event.keyId);
    if (!secret) {
      throw new PoisonMessageError(
        'UNKNOWN_KEY',
        `tenant ${tenant.id} has no event key "${event.keyId}"`,
        'key_id',
      );
    }
    const message = isJson(record)
      ? signedTextOfJson(record.rawValue.toString('utf8'))
      : signedBytesOfProtobuf(record.rawValue);
    const signed =
      message === undefined ? undefined : eventSigningInput({ ...event, sentAt: event.sentAt }, message);
    if (signed === undefined || !signatureMatches(secret, signed, event.signature)) {
      throw new PoisonMessageError(
        'BAD_SIGNATURE',
        'signature does not match tenant_id, key_id, event_id, sent_at and message under this key',
        'signature',
      );
    }
    const window = eventWindow(event.message, event.sentAt, new Date());
    if (window.verdict !== 'open') {
      const sent = event.sentAt.toISOString();
      throw window.verdict === 'expired'
        ? new PoisonMessageError('EXPIRED', `sent ${sent}, validity over`, 'sent_at')
        : new PoisonMessageError('SENT_AT_AHEAD', `sent_at ${sent} is in the future`, 'sent_at');
    }
    // The record's place in the topic (its timestamp too: a recreated topic reuses offsets).
    const place = `${record.topic}/${record.partition}/${record.offset}/${record.timestamp.getTime()}`;
    let sighting;
    try {
      sighting = await ledger.sight(tenant.id, event.eventId, place, window.until);
    } catch (error) {
      throw new TransientError(`event ledger unavailable: ${(error as Error).message}`, { cause: error });
    }
    if (sighting === 'replayed') {
      throw new PoisonMessageError('REPLAYED', `event ${event.eventId} was received before`, 'event_id');
    }
    let outcome;
    try {
      // Without a client_reference, the event id identifies the message: the record redelivered after a
      // crash or rebalance is answered as a repeat instead of becoming a second message.
      [outcome] = await acceptor.accept(tenant, [event.message], 'kafka', {
        fieldPrefix: () => 'message.',
        intakeKeys: [`event:${event.eventId}`],
      });
    } catch (error) {
      // Redis or Kafka unavailable: the event waits (retried with back-off), it is not the event's fault.
      throw new TransientError(`intake unavailable: ${(error as Error).message}`, { cause: error });
    }
    switch (outcome?.kind) {
      case 'accepted':
        return;
      case 'invalid': {
        const [first] = outcome.violations;
        throw new PoisonMessageError(
          first?.code ?? 'INVALID_MESSAGE',
          outcome.violations.map((v) => `${v.field}: ${v.description}`).join('; '),
          outcome.violations.map((v) => v.field).join(','),
        );
      }
      case 'conflict':
        if (outcome.code === 'IDEMPOTENCY_KEY_REUSED') {
          throw new PoisonMessageError(outcome.code, outcome.description, 'message.client_reference');
        }
        // Another path is accepting the same reference right now: the event waits for it to finish.
        throw new TransientError(outcome.description);
      case 'rate-limited':
      case undefined:
        throw new Error(`unexpected intake outcome ${outcome?.kind ?? 'none'}`);
    }
  };
}

function isJson(record: ConsumedRecord<unknown>): boolean {
  const type = record.headers[CONTENT_TYPE_HEADER]?.toString().split(';')[0]?.trim().toLowerCase();
  return type === JSON_CONTENT_TYPE;
}
