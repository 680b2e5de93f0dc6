import * as sms from './gen/tern/sms/v1/sms';
import { JsonReadError, readStrictJson } from './proto-json';

describe('readStrictJson', () => {
  const read = (json: Record<string, unknown>) =>
    readStrictJson(sms.SendBatchRequest, 'tern.sms.v1.SendBatchRequest', json as never);

  it('reads a Duration written whole', () => {
    expect(
      read({ messages: [{ validity: '600s' }, { validity: '1.5s' }] }).messages.map((m) => m.validity),
    ).toEqual([
      { seconds: 600, nanos: 0 },
      { seconds: 1, nanos: 500_000_000 },
    ]);
  });

  it.each(['600s*', '600', '600 s', '1.5sx', '-1.1234567891s'])(
    'refuses the Duration %p, naming its field',
    (text) => {
      const attempt = () => read({ messages: [{ to: '+6591234567' }, { validity: text }] });
      expect(attempt).toThrow(JsonReadError);
      try {
        attempt();
      } catch (error) {
        expect((error as JsonReadError).field).toBe('messages[1].validity');
      }
    },
  );

  it('names an unknown key, and a wrong type, in the item where it is', () => {
    expect(() => read({ messages: [{ to: '+6591234567' }, { colour: 'red' }] })).toThrow(
      expect.objectContaining({ field: 'messages[1].colour' }) as Error,
    );
    expect(() => read({ messages: [{ body: 42 }] })).toThrow(
      expect.objectContaining({ field: 'messages[0].body' }) as Error,
    );
  });
});
