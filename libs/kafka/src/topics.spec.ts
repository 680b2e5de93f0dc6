import { events } from '@tern/contracts';
import { dispatchTopic, namespaced, platformTopics, topics } from './topics';

describe('topic registry', () => {
  it('declares every topic once, each with its own DLQ', () => {
    const names = platformTopics(['sea', 'latam']).map((t) => t.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(expect.arrayContaining(['sms.accepted', 'sms.dispatch.sea', 'sms.dispatch.latam']));
    expect(topics.accepted.dlq).toBe('sms.accepted.dlq');
  });

  it('keys records so that one message stays on one partition', () => {
    const message = events.SmsMessage.fromPartial({ messageId: 'm-42' });
    expect(topics.accepted.key({ message })).toBe('m-42');
    expect(
      topics.routingWeights.key(
        events.RoutingWeight.fromPartial({ country: 'SG', mccMnc: '52501', channelId: 'c1' }),
      ),
    ).toBe('SG/52501/c1');
    expect(topics.routingWeights.compacted).toBe(true);
  });

  it('names a topic and its DLQ inside a namespace, and leaves it alone without one', () => {
    const staged = namespaced(topics.accepted, 'staging');
    expect([staged.name, staged.dlq]).toEqual(['staging.sms.accepted', 'staging.sms.accepted.dlq']);
    expect(staged.key).toBe(topics.accepted.key);
    expect(namespaced(topics.accepted, '')).toBe(topics.accepted);
  });

  it('refuses lanes that would make a bad topic name', () => {
    expect(dispatchTopic('mena').name).toBe('sms.dispatch.mena');
    expect(() => dispatchTopic('Middle East')).toThrow(/invalid lane/);
  });
});
