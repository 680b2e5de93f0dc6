import { ENCODES_INTO_POOL, encodeMessage } from './encode';
import { DispatchRequest, SmsMessage } from './gen/tern/events/v1/events';

/** What a writer of its own makes of a message: the bytes encodeMessage must give. */
const alone = (m: SmsMessage) => Buffer.from(SmsMessage.encode(m).finish());

const message = (id: string, body: string) =>
  SmsMessage.fromPartial({ messageId: id, tenantId: 't-1', to: '+6591234567', body, segments: 1 });

describe('encodeMessage', () => {
  it("gives each message bytes of its own, equal to a fresh writer's, whatever was encoded before", () => {
    const long = message('m-long', 'x'.repeat(5_000));
    const short = message('m-short', 'hi');
    const longBytes = encodeMessage(SmsMessage, long);
    const shortBytes = encodeMessage(SmsMessage, short);
    expect(shortBytes).toEqual(alone(short));
    // The shared writer's buffer is reused: the first result must not have been overwritten by the second.
    expect(longBytes).toEqual(alone(long));
    expect(SmsMessage.decode(shortBytes)).toEqual(short);
  });

  it('encodes nested messages (forks of the shared writer) as a fresh writer does', () => {
    const dispatch = DispatchRequest.fromPartial({
      message: message('m-1', 'nested'),
      attempt: 2,
      channelId: 'c',
    });
    expect(DispatchRequest.decode(encodeMessage(DispatchRequest, dispatch))).toEqual(dispatch);
  });

  it('leaves nothing of a message the codec refused half-way in the next one', () => {
    // The body is written before segments, which the codec refuses as an int32.
    const refused = { ...message('m-bad', 'y'.repeat(300)), segments: 1.5 };
    expect(() => encodeMessage(SmsMessage, refused)).toThrow(/int32/);
    const next = message('m-next', 'after');
    // Decoding alone would not tell: the next message's fields would override the refused one's.
    expect(encodeMessage(SmsMessage, next)).toEqual(alone(next));
  });

  it('encodes a message larger than the writer it keeps, and the next as before', () => {
    const large = message('m-large', 'z'.repeat(100_000));
    expect(encodeMessage(SmsMessage, large)).toEqual(alone(large));
    const next = message('m-next', 'small');
    expect(encodeMessage(SmsMessage, next)).toEqual(alone(next));
  });

  it("copies from the installed @bufbuild/protobuf writer's buffer, not through finish()", () => {
    // An upgrade that keeps the writer's state otherwise still encodes (through finish()), at twice the cost
    // for a small message: this says so, so that encode.ts follows it.
    expect(ENCODES_INTO_POOL).toBe(true);
  });
});
