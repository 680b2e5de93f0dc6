import { encodeMessage, events } from '@tern/contracts';
import { decodeValue, DecodeError } from './codec';

const SEND_EVENT = 'tern.events.v1.SendEvent';

const accepted: events.MessageAccepted = {
  message: events.SmsMessage.fromPartial({
    messageId: 'm-1',
    tenantId: 't-1',
    to: '+6591234567',
    segments: 1,
  }),
};

describe('decodeValue', () => {
  it('round-trips protobuf, with or without a content-type header', () => {
    const bytes = encodeMessage(events.MessageAccepted, accepted);
    expect(decodeValue(events.MessageAccepted, bytes, undefined, undefined)).toEqual(accepted);
    expect(decodeValue(events.MessageAccepted, bytes, 'application/x-protobuf', undefined)).toEqual(accepted);
  });

  it('reads proto3 JSON only where the topic accepts it', () => {
    const json = Buffer.from(
      JSON.stringify({
        tenantId: 't-9',
        keyId: 'k1',
        message: { to: '+14155550100', type: 'MESSAGE_TYPE_OTP' },
      }),
    );
    const event = decodeValue(events.SendEvent, json, 'application/json; charset=utf-8', SEND_EVENT);
    expect(event.tenantId).toBe('t-9');
    expect(event.message?.to).toBe('+14155550100');
    expect(event.message?.type).toBe(1);
    expect(() => decodeValue(events.SendEvent, json, 'application/json', undefined)).toThrow(
      new DecodeError('JSON values are not accepted on this topic'),
    );
  });

  it.each([
    ['garbage bytes', Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]), undefined, /^invalid protobuf/],
    ['a tombstone', null, undefined, /tombstone/],
    ['broken JSON', Buffer.from('{"tenantId":'), 'application/json', /^invalid JSON/],
    ['a JSON array', Buffer.from('[1]'), 'application/json', /must be an object/],
    ['an unknown content type', Buffer.from('x'), 'text/plain', /unsupported content-type "text\/plain"/],
  ])('refuses %s with a reason', (_name, value, contentType, reason) => {
    expect(() => decodeValue(events.SendEvent, value, contentType, SEND_EVENT)).toThrow(reason);
  });

  it('reads a Duration and a Timestamp in their canonical JSON forms', () => {
    const json = Buffer.from(
      '{"tenantId":"t","sentAt":"2026-11-30T03:00:00.250Z","message":{"to":"+14155550100","validity":"600s"}}',
    );
    const event = decodeValue(events.SendEvent, json, 'application/json', SEND_EVENT);
    expect(event.message?.validity).toEqual({ seconds: 600, nanos: 0 });
    expect(event.sentAt).toEqual(new Date('2026-11-30T03:00:00.250Z'));
  });

  it.each([
    ['a number where a string belongs', '{"message":{"to":4155550100}}', 'message.to'],
    ['an array where a map belongs', '{"message":{"labels":["a"]}}', 'message.labels'],
    ['an unreadable timestamp', '{"sentAt":"yesterday"}', 'sent_at'],
    ['a Duration as a bare number', '{"message":{"validity":600}}', 'message.validity'],
    ['a Duration without its unit', '{"message":{"validity":"600"}}', 'message.validity'],
    ['an unknown key', '{"tenantId":"t","sendAt":"2026-01-01T00:00:00Z"}', 'sendAt'],
  ])('refuses %s, naming the field', (_name, text, field) => {
    const decode = () => decodeValue(events.SendEvent, Buffer.from(text), 'application/json', SEND_EVENT);
    expect(decode).toThrow(/^invalid JSON tern\.events\.v1\.SendEvent/);
    expect(() => decode()).toThrow(expect.objectContaining({ field }) as Error);
  });
});
