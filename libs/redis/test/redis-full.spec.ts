import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isTransient } from '@tern/kafka';
import { freePort, waitFor } from '@tern/testing';
import { sharedRedis } from '../src';

// A Redis of the test's own, configured as the platform's (noeviction) with very little memory: when it is
// full it refuses writes, and that must read as "Redis unavailable, wait", never as a bad record (the
// consumers would dead-letter valid traffic: 80,000 status events did in a bench before this was known).
let server: ChildProcess;
let port: number;

beforeAll(async () => {
  port = await freePort();
  server = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']
      .concat(['--dir', mkdtempSync(join(tmpdir(), 'tern-redis-full-'))])
      .concat(['--maxmemory', '2mb', '--maxmemory-policy', 'noeviction']),
    { stdio: 'ignore' },
  );
  const probe = sharedRedis({ redisUrl: `redis://127.0.0.1:${port}` });
  try {
    await waitFor('the small Redis', async () => (await probe.ping().catch(() => '')) === 'PONG', 20_000);
  } finally {
    probe.disconnect();
  }
});
afterAll(() => {
  server.kill();
});

describe('a full Redis (maxmemory, noeviction)', () => {
  it('refuses writes with an error the consumers wait out, and takes them again once it has room', async () => {
    const redis = sharedRedis({ redisUrl: `redis://127.0.0.1:${port}` });
    try {
      const value = 'x'.repeat(10_000);
      let refused: unknown;
      for (let i = 0; i < 2_000 && refused === undefined; i++) {
        await redis.set(`tern:test:fill:${i}`, value).catch((error: unknown) => (refused = error));
      }
      expect(refused).toBeInstanceOf(Error);
      expect((refused as Error).message).toMatch(/^OOM /);
      expect(isTransient(refused)).toBe(true);
      // Wrapped by a handler, as the services do, it stays transient.
      expect(isTransient(new Error('status view not written', { cause: refused }))).toBe(true);
      // An operator adds memory: the same write goes through.
      await redis.config('SET', 'maxmemory', '0');
      expect(await redis.set('tern:test:fill:after', value)).toBe('OK');
    } finally {
      redis.disconnect();
    }
  });
});
