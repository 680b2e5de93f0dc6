import { randomUUID } from 'node:crypto';
import { infraFromEnv } from '@tern/testing';
import { Redis } from 'ioredis';
import { batchedRedisScript, ITEMS_PER_CALL } from '../src';

// Against the real Redis: many items' runs of a one-item script in few calls, each with its own keys and
// arguments, answered in order.
describe('batchedRedisScript', () => {
  const redis = new Redis(infraFromEnv().redisUrl);
  afterAll(() => redis.quit());

  it('runs the script once per item with its own keys and arguments, over several calls', async () => {
    const add = batchedRedisScript(
      redis,
      'testBatchedAdd',
      `for i = 1, #KEYS do redis.call('INCRBY', KEYS[i], ARGV[1]) end
return {#KEYS, #ARGV, ARGV[#ARGV]}`,
    );
    const base = `test:batched:${randomUUID()}`;
    // Items of 0, 1 and 2 keys and of 1 to 3 arguments, so a miscounted item shifts every one after it.
    const items = Array.from({ length: 2 * ITEMS_PER_CALL + 3 }, (_, i) => ({
      keys: Array.from({ length: i % 3 }, (_, k) => `${base}:${i}:${k}`),
      args: [i + 1, ...Array.from({ length: i % 3 }, () => 'x'), `last-${i}`],
    }));
    const results = await add.run(items);
    expect(results).toEqual(items.map((item, i) => [i % 3, item.args.length, `last-${i}`]));
    const stored = await redis.mget(items.flatMap((item) => item.keys));
    expect(stored).toEqual(items.flatMap((item, i) => item.keys.map(() => `${i + 1}`)));
  });

  it('answers nil and false as null, items after them too, and passes bytes as they are', async () => {
    const echo = batchedRedisScript(
      redis,
      'testBatchedEcho',
      `if #KEYS > 0 then redis.call('SET', KEYS[1], ARGV[1]) end
if ARGV[1] == 'nil' then return nil end
if ARGV[1] == 'false' then return false end
return ARGV[1]`,
    );
    const key = `test:batched:${randomUUID()}`;
    const bytes = Buffer.from([0xff, 0x00, 0x7c, 0xfe]);
    const results = await echo.run([
      { keys: [], args: ['nil'] },
      { keys: [], args: ['one'] },
      { keys: [], args: ['false'] },
      { keys: [key], args: [bytes] },
      { keys: [], args: ['two'] },
    ]);
    expect(results).toEqual([null, 'one', null, expect.any(String), 'two']);
    expect(await redis.getBuffer(key)).toEqual(bytes);
  });

  it('fails the call of an item that raises an error', async () => {
    const fail = batchedRedisScript(redis, 'testBatchedFail', `return redis.call('INCR', KEYS[1])`);
    const key = `test:batched:${randomUUID()}`;
    await redis.set(key, 'not a number');
    await expect(
      fail.run([
        { keys: [`${key}:ok`], args: [] },
        { keys: [key], args: [] },
      ]),
    ).rejects.toThrow(/not an integer/);
    expect(await redis.get(`${key}:ok`)).toBe('1');
  });
});
