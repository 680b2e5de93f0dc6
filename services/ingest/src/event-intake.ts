import {
  EVENT_ID_PATTERN,
  eventSigningInput,
  signatureMatches,
  SIGNED_EVENTS,
  type events,
  type SignedEventKind,
  type sms,
} from '@tern/contracts';
import {
  CONTENT_TYPE_HEADER,
  JSON_CONTENT_TYPE,
  PoisonMessageError,
  TransientError,
  type ConsumedRecord,
} from '@tern/kafka';
import type { Acceptor } from './acceptor';
import { signedBytesOfProtobuf, signedTextOfJson } from './domain/event-signature';
import { CLOCK_SKEW_MS, eventWindow } from './domain/send-request';
import type { SendEventLedger } from './event-ledger';
import type { ConversionIntake } from './conversion-intake';
import type { Tenant, TenantDirectory } from '@tern/config';

/** What every signed event carries besides its payload. */
interface SignedEvent {
  tenantId: string;
  keyId: string;
  signature: string;
  eventId: string;
  sentAt: Date | undefined;
}

/**
 * The tenant of a signed event, trusted only through its signature (HMAC-SHA256 under the tenant's event key
 * over its kind's version line, tenant, key, event id, send time and the exact bytes of its payload: see
 * events.proto). A malformed or unsigned event, or one whose tenant, key or signature does not match, is a
 * poison record with its reason and field.
 */
function verifiedTenant<Payload>(
  record: ConsumedRecord<SignedEvent>,
  tenants: TenantDirectory,
  kind: SignedEventKind,
  payload: Payload | undefined,
): { tenant: Tenant; sentAt: Date; payload: Payload } {
  const event = record.value;
  const { member } = SIGNED_EVENTS[kind];
  if (!event.tenantId)
    throw new PoisonMessageError('MISSING_TENANT', 'the event names no tenant', 'tenant_id');
  if (payload === undefined) {
    throw new PoisonMessageError(`MISSING_${member.toUpperCase()}`, `the event carries no ${member}`, member);
  }
  if (!EVENT_ID_PATTERN.test(event.eventId)) {
    throw new PoisonMessageError('BAD_EVENT_ID', 'event_id must be 1-128 of A-Z a-z 0-9 . _ : -', 'event_id');
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
  const signedPayload = isJson(record)
    ? signedTextOfJson(record.rawValue.toString('utf8'), member)
    : signedBytesOfProtobuf(record.rawValue);
  const signed =
    signedPayload === undefined
      ? undefined
      : eventSigningInput({ ...event, sentAt: event.sentAt }, signedPayload, kind);
  if (signed === undefined || !signatureMatches(secret, signed, event.signature)) {
    throw new PoisonMessageError(
      'BAD_SIGNATURE',
      `signature does not match tenant_id, key_id, event_id, sent_at and ${member} under this key`,
      'signature',
    );
  }
  return { tenant, sentAt: event.sentAt, payload };
}

/**
 * Handles one record of the public send-events topic. The tenant is trusted only through the event's
 * signature (see verifiedTenant); an event id seen before from another place in the topic is a replay. A
 * bad, unsigned, replayed or expired event, or one that validation refuses, is dead-lettered with its
 * reason and field, and the partition moves on. A valid event goes the same way as a gRPC send, idempotency
 * included (on its event id when it names no client_reference).
 */
export function sendEventIntake(tenants: TenantDirectory, ledger: SendEventLedger, acceptor: Acceptor) {
  return async (record: ConsumedRecord<events.SendEvent>): Promise<void> => {
    const event = record.value;
    const { tenant, message } = await sightedSend(record, tenants, ledger);
    let outcome;
    try {
      // Without a client_reference, the event id identifies the message: the record redelivered after a
      // crash or rebalance is answered as a repeat instead of becoming a second message.
      [outcome] = await acceptor.accept(tenant, [message], 'kafka', {
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

/**
 * A fetch's send events at a time (the consumer's batch route): each checked as it is alone, then the
 * messages of each tenant accepted in one acceptor call, as SendBatch's are (one rate take, one idempotency
 * script call, one produce request), instead of a call each. Unless every event of the call is accepted, the
 * call fails and the consumer hands its records to this handler one at a time, where `sendEventIntake`
 * gives each the outcome and DLQ reason it gets alone; those accepted by then are repeats, never second
 * messages (idempotent on their reference or event id, and seen again at the same place).
 */
export function sendEventBatchIntake(tenants: TenantDirectory, ledger: SendEventLedger, acceptor: Acceptor) {
  const alone = sendEventIntake(tenants, ledger, acceptor);
  return async (records: ConsumedRecord<events.SendEvent>[]): Promise<void> => {
    if (records.length === 1) return alone(records[0]!);
    const sighted = await Promise.all(records.map((record) => sightedSend(record, tenants, ledger)));
    const byTenant = new Map<Tenant, typeof sighted>();
    for (const send of sighted) {
      const sends = byTenant.get(send.tenant);
      if (sends) sends.push(send);
      else byTenant.set(send.tenant, [send]);
    }
    let outcomes;
    try {
      outcomes = await Promise.all(
        [...byTenant].map(([tenant, sends]) =>
          acceptor.accept(
            tenant,
            sends.map((s) => s.message),
            'kafka',
            { fieldPrefix: () => 'message.', intakeKeys: sends.map((s) => `event:${s.eventId}`) },
          ),
        ),
      );
    } catch (error) {
      throw new TransientError(`intake unavailable: ${(error as Error).message}`, { cause: error });
    }
    const refused = outcomes.flat().filter((o) => o.kind !== 'accepted').length;
    if (refused > 0) throw new Error(`${refused} of ${records.length} send events not accepted together`);
  };
}

/**
 * A send event's tenant and message, once its signature, send time and validity hold and its id was not
 * seen elsewhere in the topic before (a replay); otherwise a poison record with the reason.
 */
async function sightedSend(
  record: ConsumedRecord<events.SendEvent>,
  tenants: TenantDirectory,
  ledger: SendEventLedger,
): Promise<{ tenant: Tenant; message: sms.SendMessageRequest; eventId: string }> {
  const event = record.value;
  const { tenant, sentAt, payload: message } = verifiedTenant(record, tenants, 'send', event.message);
  const window = eventWindow(message, sentAt, new Date());
  if (window.verdict !== 'open') {
    const sent = sentAt.toISOString();
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
  return { tenant, message, eventId: event.eventId };
}

/**
 * Handles one record of the public conversion-events topic: a signed event (see verifiedTenant) whose
 * conversion is taken as ReportConversion takes it. A conversion is recorded once per message, so a
 * redelivered or replayed event changes nothing. What cannot be taken (a bad event, an unknown or another
 * tenant's message, a time outside the message's validity) is dead-lettered with its reason.
 */
export function conversionEventIntake(tenants: TenantDirectory, conversions: ConversionIntake) {
  return async (record: ConsumedRecord<events.ConversionEvent>): Promise<void> => {
    const { tenant, conversion } = checkedConversion(record, tenants);
    let outcome;
    try {
      outcome = await conversions.report(tenant.id, conversion);
    } catch (error) {
      throw new TransientError(`intake unavailable: ${(error as Error).message}`, { cause: error });
    }
    switch (outcome.kind) {
      case 'recorded':
        return;
      case 'invalid': {
        const [first] = outcome.violations;
        throw new PoisonMessageError(
          first?.code ?? 'INVALID_CONVERSION',
          outcome.violations.map((v) => `${v.field}: ${v.description}`).join('; '),
          outcome.violations.map((v) => `conversion.${v.field}`).join(','),
        );
      }
      case 'not-found':
        throw new PoisonMessageError('MESSAGE_NOT_FOUND', outcome.description, 'conversion');
      case 'in-progress':
        // The same conversion reported at this moment by another event or call: this one waits for it.
        throw new TransientError('another report of the same conversion is being recorded');
      case 'late':
        throw new PoisonMessageError(
          'CONVERSION_AFTER_VALIDITY',
          outcome.description,
          'conversion.converted_at',
        );
    }
  };
}

/**
 * A fetch's conversion events at a time (the consumer's batch route), as `sendEventBatchIntake` takes send
 * events: each checked as it is alone, then each tenant's conversions reported in one call. Unless every one
 * is recorded, the call fails and the consumer hands its records to `conversionEventIntake` one at a time,
 * where each gets the outcome and DLQ reason it gets alone; those recorded by then are repeats (a conversion
 * is recorded once per message).
 */
export function conversionEventBatchIntake(tenants: TenantDirectory, conversions: ConversionIntake) {
  const alone = conversionEventIntake(tenants, conversions);
  return async (records: ConsumedRecord<events.ConversionEvent>[]): Promise<void> => {
    if (records.length === 1) return alone(records[0]!);
    const byTenant = new Map<Tenant, sms.ReportConversionRequest[]>();
    for (const record of records) {
      const { tenant, conversion } = checkedConversion(record, tenants);
      const reports = byTenant.get(tenant);
      if (reports) reports.push(conversion);
      else byTenant.set(tenant, [conversion]);
    }
    let outcomes;
    try {
      outcomes = await Promise.all(
        [...byTenant].map(([tenant, reports]) => conversions.reportAll(tenant.id, reports)),
      );
    } catch (error) {
      throw new TransientError(`intake unavailable: ${(error as Error).message}`, { cause: error });
    }
    const refused = outcomes.flat().filter((o) => o.kind !== 'recorded').length;
    if (refused > 0)
      throw new Error(`${refused} of ${records.length} conversion events not recorded together`);
  };
}

/** A conversion event's tenant and conversion, once its signature and send time hold; else a poison record. */
function checkedConversion(
  record: ConsumedRecord<events.ConversionEvent>,
  tenants: TenantDirectory,
): { tenant: Tenant; conversion: sms.ReportConversionRequest } {
  const { tenant, sentAt, payload } = verifiedTenant(record, tenants, 'conversion', record.value.conversion);
  if (sentAt.getTime() > Date.now() + CLOCK_SKEW_MS) {
    throw new PoisonMessageError(
      'SENT_AT_AHEAD',
      `sent_at ${sentAt.toISOString()} is in the future`,
      'sent_at',
    );
  }
  return { tenant, conversion: payload };
}

function isJson(record: ConsumedRecord<unknown>): boolean {
  const type = record.headers[CONTENT_TYPE_HEADER]?.toString().split(';')[0]?.trim().toLowerCase();
  return type === JSON_CONTENT_TYPE;
}
