import { createHmac, timingSafeEqual } from 'node:crypto';
import { encodeMessage } from './encode';
import type { ConversionEvent, SendEvent } from './gen/tern/events/v1/events';
import { ReportConversionRequest, SendMessageRequest } from './gen/tern/sms/v1/sms';

// How a tenant's producer signs an event on the public intake topics, and how ingest checks it: both sides
// of the contract, so a producer in this repository (tests, benchmarks) signs as a customer's would.

/** The signed member of each kind of event, and the version line its signed text starts with. */
export const SIGNED_EVENTS = {
  send: { member: 'message', version: 'tern-send-event-v2' },
  conversion: { member: 'conversion', version: 'tern-conversion-event-v1' },
} as const;
export type SignedEventKind = keyof typeof SIGNED_EVENTS;

/** What identifies an event besides its message, all of it signed (see SendEvent in events.proto). */
export interface SignedEventFields {
  tenantId: string;
  keyId: string;
  eventId: string;
  sentAt: Date;
}

/** An event id a producer may choose: short, and free of the separator of the signed text. */
export const EVENT_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The bytes an event's signature covers: its kind's version line, the tenant, key, event id and send time
 * (whole milliseconds), each ended by a newline, then the signed member's exact bytes. Tenant ids and event
 * ids cannot hold a newline, so no two events share a signed text, and a send event's signature never
 * passes for a conversion event's.
 */
export function eventSigningInput(
  fields: SignedEventFields,
  message: Uint8Array | string,
  kind: SignedEventKind = 'send',
): Buffer {
  const head = `${SIGNED_EVENTS[kind].version}\n${fields.tenantId}\n${fields.keyId}\n${fields.eventId}\n${fields.sentAt.getTime()}\n`;
  return Buffer.concat([
    Buffer.from(head, 'utf8'),
    typeof message === 'string' ? Buffer.from(message, 'utf8') : message,
  ]);
}

/** HMAC-SHA256 of the signed bytes, hex: what a producer puts in `signature`. */
export function signEvent(secret: string | Buffer, signed: Uint8Array | string): string {
  return createHmac('sha256', secret).update(signed).digest('hex');
}

/** Constant-time comparison of a claimed signature with the expected one. */
export function signatureMatches(
  secret: string | Buffer,
  signed: Uint8Array | string,
  claimed: string,
): boolean {
  const expected = Buffer.from(signEvent(secret, signed), 'hex');
  const given = /^[0-9a-fA-F]{64}$/.test(claimed) ? Buffer.from(claimed, 'hex') : Buffer.alloc(0);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * A protobuf SendEvent as a tenant's producer writes it: signed over `message`'s protobuf bytes, which are
 * the bytes of field 4 once the event is encoded (encoding is deterministic).
 */
export function signedSendEvent(
  fields: SignedEventFields,
  message: SendMessageRequest,
  secret: string | Buffer,
): SendEvent {
  const signed = eventSigningInput(fields, encodeMessage(SendMessageRequest, message));
  return { ...fields, signature: signEvent(secret, signed), message };
}

/** A protobuf ConversionEvent as a tenant's producer writes it: signed over `conversion`'s protobuf bytes. */
export function signedConversionEvent(
  fields: SignedEventFields,
  conversion: ReportConversionRequest,
  secret: string | Buffer,
): ConversionEvent {
  const signed = eventSigningInput(fields, encodeMessage(ReportConversionRequest, conversion), 'conversion');
  return { ...fields, signature: signEvent(secret, signed), conversion };
}
