import { randomUUID } from 'node:crypto';
import { infraFromEnv } from '@tern/testing';
import { Redis } from 'ioredis';
import { ChannelBacklog } from '../src';

// Against the real Redis: connectors and routers are separate processes sharing only it.
describe('ChannelBacklog', () => {
  const redis = new Redis(infraFromEnv().redisUrl);
  afterAll(() => redis.quit());

  it('gives a channel the longest wait its connectors report, and forgets what they unmark', async () => {
    const [busy, other] = [randomUUID(), randomUUID()];
    const first = new ChannelBacklog(redis);
    const second = new ChannelBacklog(redis);
    const router = new ChannelBacklog(redis);
    await first.mark(new Map([[busy, { urgentMs: 500, bulkMs: 9_000 }]]));
    await second.mark(
      new Map([
        [busy, { urgentMs: 2_000, bulkMs: 4_000 }],
        [other, { urgentMs: 300, bulkMs: 300 }],
      ]),
    );
    let waits = await router.waits();
    expect(waits.get(busy)).toEqual({ urgentMs: 2_000, bulkMs: 9_000 });
    expect(waits.get(other)).toEqual({ urgentMs: 300, bulkMs: 300 });
    // The second connector's queue on `busy` drained: only the first's report is left.
    await second.mark(new Map([[other, { urgentMs: 300, bulkMs: 300 }]]));
    waits = await router.waits();
    expect(waits.get(busy)).toEqual({ urgentMs: 500, bulkMs: 9_000 });
    await first.mark(new Map());
    await second.mark(new Map());
    waits = await router.waits();
    expect(waits.has(busy) || waits.has(other)).toBe(false);
  });

  it('stops counting a connector that died once its report expires, and clears it', async () => {
    const channel = randomUUID();
    const dead = new ChannelBacklog(redis, 200);
    await dead.mark(new Map([[channel, { urgentMs: 5_000, bulkMs: 5_000 }]]));
    const router = new ChannelBacklog(redis);
    expect((await router.waits()).has(channel)).toBe(true);
    expect((await router.waits(Date.now() + 1_000)).has(channel)).toBe(false);
    const fields = await redis.hkeys('tern:smpp:backlog');
    expect(fields.some((f) => f.startsWith(`${channel}|`))).toBe(false);
  });
});
