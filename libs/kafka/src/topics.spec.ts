import { events, sms } from '@tern/contracts';
import {
  bulkTakeover,
  dispatchTopic,
  MESSAGE_TYPE_HEADER,
  namespaced,
  ofTrafficClass,
  platformTopics,
  STATUS_HEADERS,
  topics,
} from './topics';

describe('topic registry', () => {
  it('declares every topic once, each with its own DLQ', () => {
    const names = platformTopics(['sea', 'latam']).map((t) => t.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(expect.arrayContaining(['sms.accepted', 'sms.dispatch.sea', 'sms.dispatch.latam']));
    expect(topics.accepted.dlq).toBe('sms.accepted.dlq');
  });

  it('says in headers what a status event is, for consumers that want only some', () => {
    const delivered = sms.StatusEvent.fromPartial({
      status: sms.MessageStatus.MESSAGE_STATUS_DELIVERED,
      callbackUrl: 'https://example.com/hook',
    });
    expect(topics.status.headers?.(delivered)).toEqual({
      [STATUS_HEADERS.status]: 'MESSAGE_STATUS_DELIVERED',
      [STATUS_HEADERS.callback]: 'yes',
    });
    const routed = sms.StatusEvent.fromPartial({ status: sms.MessageStatus.MESSAGE_STATUS_ROUTED });
    expect(topics.status.headers?.(routed)?.[STATUS_HEADERS.callback]).toBe('no');
    // A namespaced topic writes the same headers.
    expect(namespaced(topics.status, 'staging').headers?.(routed)).toEqual(topics.status.headers?.(routed));
  });

  it("says in headers an approved or retried message's type, and nothing for a record without one", () => {
    const message = events.SmsMessage.fromPartial({ type: sms.MessageType.MESSAGE_TYPE_MARKETING });
    expect(topics.approved.headers?.(events.MessageApproved.fromPartial({ message }))).toEqual({
      [MESSAGE_TYPE_HEADER]: 'MESSAGE_TYPE_MARKETING',
    });
    expect(topics.retry.headers?.(events.RetryRequest.fromPartial({ message }))).toEqual({
      [MESSAGE_TYPE_HEADER]: 'MESSAGE_TYPE_MARKETING',
    });
    expect(topics.approved.headers?.(events.MessageApproved.fromPartial({}))).toEqual({});
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

  it("spreads a channel's receipts over the partitions, one part's receipts on one", () => {
    const receipt = (smscMessageId: string) =>
      topics.dlr.key(events.DeliveryReceipt.fromPartial({ channelId: 'c1', smscMessageId }));
    expect(receipt('a1')).toBe(receipt('a1'));
    expect(receipt('a1')).not.toBe(receipt('a2'));
    const other = topics.dlr.key(
      events.DeliveryReceipt.fromPartial({ channelId: 'c2', smscMessageId: 'a1' }),
    );
    expect(other).not.toBe(receipt('a1'));
  });

  it('names a topic and its DLQ inside a namespace, and leaves it alone without one', () => {
    const staged = namespaced(topics.accepted, 'staging');
    expect([staged.name, staged.dlq]).toEqual(['staging.sms.accepted', 'staging.sms.accepted.dlq']);
    expect(staged.key).toBe(topics.accepted.key);
    expect(namespaced(topics.accepted, '')).toBe(topics.accepted);
  });

  it('refuses lanes that would make a bad topic name or consumer group', () => {
    expect(dispatchTopic('mena').name).toBe('sms.dispatch.mena');
    expect(() => dispatchTopic('Middle East')).toThrow(/invalid lane/);
    // Lane mena's connectors read in groups …-mena and …-mena-bulk: a lane mena-bulk would share one.
    expect(() => dispatchTopic('mena-bulk')).toThrow(/invalid lane "mena-bulk".*not ending in -bulk/);
    expect(dispatchTopic('bulky').name).toBe('sms.dispatch.bulky');
  });
});

describe('bulkTakeover', () => {
  it("starts a new bulk group at the one intake's commits only where an instance takes both classes", () => {
    expect(bulkTakeover('bulk', ['priority', 'bulk'], 'g')).toEqual({ startsWhere: 'g' });
    // The priority group of a priority-only instance passed over marketing: its commits never covered it.
    expect(bulkTakeover('bulk', ['bulk'], 'g')).toEqual({});
    expect(bulkTakeover('priority', ['priority', 'bulk'], 'g')).toEqual({});
  });
});

describe('ofTrafficClass', () => {
  const header = (type: string | undefined) => (name: string) =>
    name === MESSAGE_TYPE_HEADER ? type : undefined;

  it("passes over the other class's records by their header, and takes a record without one", () => {
    const pacer = { priorityWork: jest.fn() };
    const bulk = ofTrafficClass('bulk', pacer);
    const priority = ofTrafficClass('priority', pacer);
    expect(bulk.only!(header('MESSAGE_TYPE_MARKETING'))).toBe(true);
    expect(bulk.only!(header('MESSAGE_TYPE_OTP'))).toBe(false);
    expect(priority.only!(header('MESSAGE_TYPE_OTP'))).toBe(true);
    expect(priority.only!(header('MESSAGE_TYPE_MARKETING'))).toBe(false);
    expect(bulk.only!(header(undefined))).toBe(true);
    expect(priority.only!(header(undefined))).toBe(true);
  });

  it('tells the pacer of priority work when a bulk intake passes over its records, and only then', () => {
    const pacer = { priorityWork: jest.fn() };
    expect(ofTrafficClass('priority', pacer).passedOver).toBeUndefined();
    ofTrafficClass('bulk', pacer).passedOver!();
    expect(pacer.priorityWork).toHaveBeenCalledTimes(1);
  });
});
