import { encodeMessage, sms } from '@tern/contracts';
import { TransientError } from '@tern/kafka';
import { ITEMS_PER_CALL, sharedRedis } from '@tern/redis';
import { infraFromEnv, uniqueName } from '@tern/testing';
import { foldStatusEvents } from '../src/domain/message-view';
import { MessageStore, type StatusRecord } from '../src/message-store';

// The status view as ingest's consumer feeds it, a fetch of a partition at a time, over the real Redis: the
// events of one call fold into the view as if applied one by one, and a record read again (a redelivery
// after a crash or rebalance) changes nothing and streams nothing.
const infra = infraFromEnv();
const runBase = uniqueName('msgstore');

const eventOf =
  (tenantId: string) =>
  (messageId: string, status: sms.MessageStatus, extra: Partial<sms.StatusEvent> = {}) => ({
    ...sms.StatusEvent.fromPartial({
      messageId,
      tenantId,
      clientReference: `ref-${messageId}`,
      attempt: 1,
      channelId: 'direct-1',
      mccMnc: '52501',
      deliveryLatencyMs: 1200,
    }),
    status,
    occurredAt: new Date(),
    ...extra,
  });
const at = (offset: number, e: sms.StatusEvent): StatusRecord => ({
  event: e,
  raw: encodeMessage(sms.StatusEvent, e),
  partition: 0,
  offset: `${offset}`,
});
const { MESSAGE_STATUS_ACCEPTED: ACCEPTED, MESSAGE_STATUS_SUBMITTED: SUBMITTED } = sms.MessageStatus;
const { MESSAGE_STATUS_DELIVERED: DELIVERED, MESSAGE_STATUS_ROUTED: ROUTED } = sms.MessageStatus;

describe.each(['events', 'folded'] as const)('MessageStore.apply, views kept %s', (format) => {
  const run = `${runBase}-${format}`;
  const tenantId = `t-${format}-${runBase.slice(-8)}`;
  const event = eventOf(tenantId);
  const redis = sharedRedis({ redisUrl: infra.redisUrl });
  const store = new MessageStore(redis, 3_600_000, 1000, format);
  const streamed = async () =>
    ((await redis.xrangeBuffer(store.streamKey(tenantId), '-', '+')) as [Buffer, Buffer[]][]).map(
      ([, fields]) => sms.StatusEvent.decode(fields[1]!),
    );
  afterAll(() => redis.quit());

  it('folds a message’s events of one call like one by one, and a redelivered call changes nothing', async () => {
    const [a, b] = [`${run}-a`, `${run}-b`];
    const submitted = event(a, SUBMITTED, { smscMessageIds: ['s-1'] });
    const delivered = event(a, DELIVERED, { receiptState: sms.ReceiptState.RECEIPT_STATE_DELIVRD });
    // Interleaved with another message, and a SUBMITTED of b that arrives after its receipt.
    const fetch = [
      at(10, event(a, ACCEPTED)),
      at(11, event(b, ACCEPTED)),
      at(12, submitted),
      at(13, event(b, DELIVERED)),
      at(14, delivered),
      at(15, event(b, SUBMITTED, { smscMessageIds: ['s-2'] })),
    ];
    await store.apply(fetch);

    const viewA = (await store.get(a))!.view;
    // What a view keeps of each event is all it takes from it: the same view as the events as published.
    const published = fetch.filter((r) => r.event.messageId === a).map((r) => r.event);
    expect(viewA).toEqual(foldStatusEvents(undefined, undefined, published).view);
    expect(viewA.status).toBe(DELIVERED);
    expect(viewA.attempts).toEqual([
      expect.objectContaining({ number: 1, smscMessageIds: ['s-1'], receiptState: delivered.receiptState }),
    ]);
    const viewB = (await store.get(b))!.view;
    expect(viewB.status).toBe(DELIVERED); // the late SUBMITTED did not move it back...
    expect(viewB.attempts[0]!.smscMessageIds).toEqual(['s-2']); // ...but filled in its SMSC id
    const once = (await streamed()).map((e) => `${e.messageId.slice(-1)}:${e.status}`);
    expect(once).toEqual([
      `a:${ACCEPTED}`,
      `a:${SUBMITTED}`,
      `a:${DELIVERED}`,
      `b:${ACCEPTED}`,
      `b:${DELIVERED}`,
    ]);

    // Redelivered from offset 12 on, plus a new event: only the new one is applied, and it streams nothing
    // (it does not advance a delivered message).
    await store.apply([
      ...fetch.slice(2),
      at(16, event(a, SUBMITTED, { attempt: 2, channelId: 'direct-2' })),
    ]);
    expect(await streamed()).toHaveLength(5);
    const again = (await store.get(a))!.view;
    expect(again.status).toBe(DELIVERED);
    expect(again.attempts.map((x) => x.number)).toEqual([1, 2]);

    // The same events one call each give the same views and stream.
    const [c, d] = [`${run}-c`, `${run}-d`];
    const rename = (r: StatusRecord, offset: number): StatusRecord =>
      at(offset, { ...r.event, messageId: r.event.messageId === a ? c : d });
    for (const [i, record] of fetch.entries()) await store.apply([rename(record, 20 + i)]);
    const strip = (v: sms.Message) => ({ ...v, messageId: '' });
    expect(strip((await store.get(c))!.view)).toEqual(strip(viewA));
    expect(strip((await store.get(d))!.view)).toEqual(strip(viewB));
    expect((await streamed()).slice(5).map((e) => `${e.messageId.slice(-1)}:${e.status}`)).toEqual([
      `c:${ACCEPTED}`,
      `d:${ACCEPTED}`,
      `c:${SUBMITTED}`,
      `d:${DELIVERED}`,
      `c:${DELIVERED}`,
    ]);
  });

  it('applies a fetch of more messages than one script call takes, each message its own events', async () => {
    const count = 2 * ITEMS_PER_CALL + 7;
    const ids = Array.from({ length: count }, (_, i) => `${run}-many-${i}`);
    const tag = (e: sms.StatusEvent) => `${e.messageId.slice(run.length + 6)}:${e.status}`;
    const before = (await streamed()).length;
    // All the ACCEPTEDs, then all the SUBMITTEDs: each message's events far apart in the fetch.
    const fetch = [
      ...ids.map((id, i) => at(1000 + i, event(id, ACCEPTED))),
      ...ids.map((id, i) => at(2000 + i, event(id, SUBMITTED, { smscMessageIds: [`s-${i}`] }))),
    ];
    await store.apply(fetch);
    // Redelivered SUBMITTEDs with a receipt each: only the receipts are applied.
    await store.apply([
      ...fetch.slice(count),
      ...ids.map((id, i) => at(3000 + i, event(id, DELIVERED, { attempt: 1, channelId: `c-${i}` }))),
    ]);

    const views = await store.getMany(ids);
    for (const [i, stored] of views.entries()) {
      expect(stored!.tenantId).toBe(tenantId);
      expect(stored!.view.status).toBe(DELIVERED);
      expect(stored!.view.attempts).toEqual([
        expect.objectContaining({ number: 1, channelId: `c-${i}`, smscMessageIds: [`s-${i}`] }),
      ]);
    }
    expect((await streamed()).slice(before).map(tag)).toEqual([
      ...ids.flatMap((_, i) => [`${i}:${ACCEPTED}`, `${i}:${SUBMITTED}`]),
      ...ids.map((_, i) => `${i}:${DELIVERED}`),
    ]);
  });

  it('applies events to a view an earlier version folded and stored whole, from the status it showed', async () => {
    const id = `${run}-old`;
    const submitted = event(id, SUBMITTED, { smscMessageIds: ['s-9'] });
    const { view, rank } = foldStatusEvents(undefined, undefined, [event(id, ACCEPTED), submitted]);
    // How views were kept before the events were: folded at each write, with the rank shown and the last offset.
    await redis.hset(`tern:ingest:msg:${id}`, {
      t: tenantId,
      v: encodeMessage(sms.Message, view!),
      r: `${rank}`,
      p: '0',
      o: '31',
    });
    // A late ACCEPTED must not move it back, as it did not before.
    await store.apply([at(32, event(id, ACCEPTED))]);
    expect((await store.get(id))!.view.status).toBe(SUBMITTED);
    await store.apply([at(33, event(id, DELIVERED))]);
    const after = (await store.get(id))!.view;
    expect(after.status).toBe(DELIVERED);
    expect(after.attempts[0]!.smscMessageIds).toEqual(['s-9']);
    expect((await streamed()).filter((e) => e.messageId === id).map((e) => e.status)).toEqual([DELIVERED]);
  });
});

// An upgrade's overlap: instances that append events and instances that fold them apply one message's statuses
// in turn, each pattern one order of who applied what.
describe('MessageStore, views kept by both formats in turn', () => {
  const run = `${runBase}-mixed`;
  const tenantId = `t-mixed-${runBase.slice(-8)}`;
  const event = eventOf(tenantId);
  const redis = sharedRedis({ redisUrl: infra.redisUrl });
  const stores = {
    E: new MessageStore(redis, 3_600_000, 1000, 'events'),
    F: new MessageStore(redis, 3_600_000, 1000, 'folded'),
  };
  afterAll(() => redis.quit());

  const accepted = (id: string) =>
    sms.Message.fromPartial({
      messageId: id,
      clientReference: `ref-${id}`,
      to: '+6591234567',
      status: ACCEPTED,
    });
  // The receipt comes before its submission's report, which then only fills in the SMSC id.
  const statuses = (id: string) => [
    event(id, ACCEPTED, { attempt: 0, channelId: '' }),
    event(id, ROUTED),
    event(id, DELIVERED, { receiptState: sms.ReceiptState.RECEIPT_STATE_DELIVRD }),
    event(id, SUBMITTED, { smscMessageIds: ['s-1'], submitStatus: 0 }),
  ];

  it.each(['EEEE', 'FFFF', 'EFEF', 'FEFE', 'EEFF', 'FFEE', 'EFFE', 'FEEF'])(
    'shows every status once and true, applied by %s',
    async (pattern) => {
      const id = `${run}-${pattern}`;
      await stores.E.create([{ tenantId, view: accepted(id) }]);
      const events = statuses(id);
      for (const [i, e] of events.entries()) {
        await stores[pattern[i] as 'E' | 'F'].apply([at(100 + i, e)]);
      }
      const expected = foldStatusEvents(accepted(id), undefined, events).view;
      for (const store of [stores.E, stores.F]) expect((await store.get(id))!.view).toEqual(expected);
      const streamed = (
        (await redis.xrangeBuffer(stores.E.streamKey(tenantId), '-', '+')) as [Buffer, Buffer[]][]
      )
        .map(([, fields]) => sms.StatusEvent.decode(fields[1]!))
        .filter((e) => e.messageId === id)
        .map((e) => e.status);
      expect(streamed).toEqual([ACCEPTED, ROUTED, DELIVERED]);
    },
  );

  it('folds again a view that took an appended event while it was being folded', async () => {
    const id = `${run}-race`;
    await stores.E.create([{ tenantId, view: accepted(id) }]);
    const [first, second, third] = statuses(id);
    await stores.E.apply([at(200, first!)]);
    // Another instance appends between the fold's read and its write.
    const folding = new MessageStore(redis, 3_600_000, 1000, 'folded');
    const read = (folding as unknown as { read: (ids: string[]) => Promise<unknown> }).read.bind(folding);
    let raced = false;
    (folding as unknown as { read: (ids: string[]) => Promise<unknown> }).read = async (ids) => {
      const found = await read(ids);
      if (!raced) await stores.E.apply([at(201, second!)]);
      raced = true;
      return found;
    };
    await expect(folding.apply([at(202, third!)])).rejects.toThrow(TransientError);
    await folding.apply([at(202, third!)]);
    expect((await stores.F.get(id))!.view).toEqual(
      foldStatusEvents(accepted(id), undefined, [first!, second!, third!]).view,
    );
  });
});
