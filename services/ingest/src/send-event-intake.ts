import type { events } from '@tern/contracts';
import {
  CONTENT_TYPE_HEADER,
  JSON_CONTENT_TYPE,
  PoisonMessageError,
  TransientError,
  type ConsumedRecord,
} from '@tern/kafka';
import type { Acceptor } from './acceptor';
import { signatureMatches, signedBytesOfProtobuf, signedTextOfJson } from './domain/event-signature';
import { eventExpired } from './domain/send-request';
import type { TenantDirectory } from '@tern/config';

/**
 * Handles one record of the public send-events topic. The tenant is trusted only through the event's
 * signature (HMAC-SHA256 under the tenant's event key over the exact bytes of `message`); a bad or unsigned
 * event, or one that validation refuses, is dead-lettered with its reason and field, and the partition
 * moves on. A valid event goes the same way as a gRPC send, idempotency included.
 */
export function sendEventIntake(tenants: TenantDirectory, acceptor: Acceptor) {
  return async (record: ConsumedRecord<events.SendEvent>): Promise<void> => {
    const event = record.value;
    if (!event.tenantId)
      throw new PoisonMessageError('MISSING_TENANT', 'the event names no tenant', 'tenant_id');
    if (!event.message)
      throw new PoisonMessageError('MISSING_MESSAGE', 'the event carries no message', 'message');
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
    const signed = isJson(record)
      ? signedTextOfJson(record.rawValue.toString('utf8'))
      : signedBytesOfProtobuf(record.rawValue);
    if (signed === undefined || !signatureMatches(secret, signed, event.signature)) {
      throw new PoisonMessageError(
        'BAD_SIGNATURE',
        'signature does not match the message under this key',
        'signature',
      );
    }
    const sentAt = event.sentAt ?? record.timestamp;
    if (eventExpired(event.message, sentAt, new Date())) {
      throw new PoisonMessageError('EXPIRED', `sent ${sentAt.toISOString()}, validity over`, 'sent_at');
    }
    let outcome;
    try {
      // Without a client_reference, the record's place in the topic identifies the event: redelivered after a
      // crash or rebalance, it is answered as a repeat instead of becoming a second message.
      const place = `event:${record.topic}/${record.partition}/${record.offset}/${record.timestamp.getTime()}`;
      [outcome] = await acceptor.accept(tenant, [event.message], 'kafka', () => 'message.', [place]);
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
