import { events } from '@tern/contracts';
import { decodeValue, DecodeError, encodeValue } from './codec';

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
    const bytes = encodeValue(events.MessageAccepted, accepted);
    expect(decodeValue(events.MessageAccepted, bytes, undefined, false)).toEqual(accepted);
    expect(decodeValue(events.MessageAccepted, bytes, 'application/x-protobuf', false)).toEqual(accepted);
  });

  it('reads proto3 JSON only where the topic accepts it', () => {
    const json = Buffer.from(
      JSON.stringify({
        tenantId: 't-9',
        keyId: 'k1',
        message: { to: '+14155550100', type: 'MESSAGE_TYPE_OTP' },
      }),
    );
    const event = decodeValue(events.SendEvent, json, 'application/json; charset=utf-8', true);
    expect(event.tenantId).toBe('t-9');
    expect(event.message?.to).toBe('+14155550100');
    expect(event.message?.type).toBe(1);
    expect(() => decodeValue(events.SendEvent, json, 'application/json', false)).toThrow(
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
    expect(() => decodeValue(events.SendEvent, value, contentType, true)).toThrow(reason);
  });
});
