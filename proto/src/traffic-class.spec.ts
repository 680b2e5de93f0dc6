import { MessageType, messageTypeToJSON } from './gen/tern/sms/v1/sms';
import { isOfClass, mayBeOfClass, trafficClassesNamed } from './traffic-class';

describe('traffic classes from a record header', () => {
  it("passes over the other class's records, and judges by the value where the header says nothing known", () => {
    expect(mayBeOfClass('MESSAGE_TYPE_OTP', 'priority')).toBe(true);
    expect(mayBeOfClass('MESSAGE_TYPE_TRANSACTIONAL', 'priority')).toBe(true);
    expect(mayBeOfClass('MESSAGE_TYPE_MARKETING', 'priority')).toBe(false);
    expect(mayBeOfClass('MESSAGE_TYPE_MARKETING', 'bulk')).toBe(true);
    expect(mayBeOfClass('MESSAGE_TYPE_OTP', 'bulk')).toBe(false);
    // No header (an older producer, a record without a message) or a type this reader does not know yet.
    for (const unknown of [undefined, 'MESSAGE_TYPE_FROM_THE_FUTURE'])
      expect([mayBeOfClass(unknown, 'priority'), mayBeOfClass(unknown, 'bulk')]).toEqual([true, true]);
    expect(messageTypeToJSON(MessageType.MESSAGE_TYPE_MARKETING)).toBe('MESSAGE_TYPE_MARKETING');
  });

  it('gives each record to exactly one intake: by its message, one without a message to the priority intake', () => {
    const otp = { type: MessageType.MESSAGE_TYPE_OTP };
    const marketing = { type: MessageType.MESSAGE_TYPE_MARKETING };
    expect([isOfClass(otp, 'priority'), isOfClass(otp, 'bulk')]).toEqual([true, false]);
    expect([isOfClass(marketing, 'priority'), isOfClass(marketing, 'bulk')]).toEqual([false, true]);
    expect([isOfClass(undefined, 'priority'), isOfClass(undefined, 'bulk')]).toEqual([true, false]);
  });

  it('takes the classes an instance is told to, each once, priority first', () => {
    expect(trafficClassesNamed(['bulk', 'priority', 'bulk'])).toEqual(['priority', 'bulk']);
    expect(trafficClassesNamed(['bulk'])).toEqual(['bulk']);
  });
});
