import { sharedRedis } from '@tern/redis';
import { infraFromEnv, uniqueName } from '@tern/testing';
import { IdempotencyStore } from '../src/idempotency';

// The store on the real Redis, through every state a (tenant, reference) goes through, many references in
// one call as a SendBatch makes them.
const infra = infraFromEnv();

describe('idempotency store', () => {
  const redis = sharedRedis({ redisUrl: infra.redisUrl });
  const tenant = uniqueName('idem');
  afterAll(() => redis.quit());
  afterEach(() => jest.restoreAllMocks());

  it('reserves new references once, tells a call in progress, takes over a dead call and answers accepted', async () => {
    // The store's clock is held still and moved by hand: a loaded machine's pauses between calls must not
    // decide whether a reservation is still in progress.
    let clock = Date.now();
    jest.spyOn(Date, 'now').mockImplementation(() => clock);
    const staleAfterMs = 30_000;
    const store = new IdempotencyStore(redis, 3600, staleAfterMs);
    const refs = Array.from({ length: 120 }, (_, i) => `ref-${i}`);
    const items = refs.map((reference, i) => ({ reference, messageId: `m-${i}`, fingerprint: `fp-${i}` }));

    const first = await store.reserve(tenant, items);
    expect(first.map((r) => r.reservation.kind)).toEqual(refs.map(() => 'new'));
    expect(first.every((r) => r.token !== '')).toBe(true);

    // A second call while the first is publishing: told to retry, nothing to own.
    const during = await store.reserve(tenant, items.slice(0, 60));
    expect(during.map((r) => r.reservation.kind)).toEqual(refs.slice(0, 60).map(() => 'in-progress'));

    // The first call marks its first 100 accepted; the last 20 stay pending, as a call that died leaves them.
    await store.accepted(
      tenant,
      first.slice(0, 100).map((r, i) => ({ reference: refs[i]!, token: r.token })),
    );
    clock += staleAfterMs + 1;
    const again = await store.reserve(
      tenant,
      items.map((item, i) => (i === 1 ? { ...item, fingerprint: 'other content' } : item)),
    );
    expect(again[0]!.reservation).toEqual({
      kind: 'accepted',
      messageId: 'm-0',
      sameRequest: true,
      fingerprint: 'fp-0',
    });
    expect(again[1]!.reservation).toMatchObject({ kind: 'accepted', messageId: 'm-1', sameRequest: false });
    expect(again.slice(100).map((r) => r.reservation)).toEqual(
      refs.slice(100).map((_, i) => ({ kind: 'taken-over', messageId: `m-${100 + i}` })),
    );
    expect(await store.acceptedIds(tenant, ['ref-99', 'ref-100'])).toEqual(['m-99', undefined]);
  });

  it('marks accepted only what is reserved, and keeps its expiry', async () => {
    const store = new IdempotencyStore(redis, 3600);
    const [reserved] = await store.reserve(tenant, [{ reference: 'kept', messageId: 'k', fingerprint: 'f' }]);
    await store.accepted(tenant, [
      { reference: 'kept', token: reserved!.token },
      // Its reservation expired (or was released): marking it accepted must not bring it back forever.
      { reference: 'gone', token: reserved!.token },
    ]);
    expect(await store.acceptedIds(tenant, ['kept', 'gone'])).toEqual(['k', undefined]);
    const keys = await redis.keys(`tern:ingest:idem:${tenant}:*`);
    const ttls = await Promise.all(keys.map((key) => redis.ttl(key)));
    expect(ttls.every((ttl) => ttl > 3000 && ttl <= 3600)).toBe(true);
  });
});
