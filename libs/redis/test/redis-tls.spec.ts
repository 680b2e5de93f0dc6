import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commonSettings, loadConfig, redactConfig, redisSettings } from '@tern/config';
import { freePort, makeTestCertificates, waitFor } from '@tern/testing';
import { sharedRedis } from '../src';

// A Redis of the test's own, as production runs it: TLS only, with a password. The services reach it
// through their settings (TERN_REDIS_URL rediss://…, TERN_REDIS_TLS_CA_FILE), and never show the URL.
const certs = makeTestCertificates();
const PASSWORD = 'redis-test-password';
let server: ChildProcess;
let port: number;

beforeAll(async () => {
  port = await freePort();
  server = spawn(
    'redis-server',
    ['--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']
      .concat(['--dir', mkdtempSync(join(tmpdir(), 'tern-redis-tls-')), '--requirepass', PASSWORD])
      .concat(['--tls-cert-file', certs.serverCert, '--tls-key-file', certs.serverKey])
      .concat(['--tls-ca-cert-file', certs.caCert, '--tls-auth-clients', 'no']),
    { stdio: 'ignore' },
  );
  const probe = sharedRedis({
    redisUrl: `rediss://:${PASSWORD}@127.0.0.1:${port}`,
    redisTlsCaFile: certs.caCert,
  });
  try {
    await waitFor('the TLS Redis', async () => (await probe.ping().catch(() => '')) === 'PONG', 20_000);
  } finally {
    probe.disconnect();
  }
});
afterAll(() => {
  server.kill();
});

const settings = { ...commonSettings, ...redisSettings('for the test') };
const configFor = (url: string, caFile?: string) =>
  loadConfig(settings, {
    TERN_KAFKA_BROKERS: '127.0.0.1:1',
    TERN_REDIS_URL: url,
    ...(caFile ? { TERN_REDIS_TLS_CA_FILE: caFile } : {}),
  });
/** Whether a client made from these settings can write and read. */
async function works(url: string, caFile?: string): Promise<boolean> {
  const redis = sharedRedis(configFor(url, caFile));
  try {
    await redis.set('tern:test:tls', 'ok');
    return (await redis.get('tern:test:tls')) === 'ok';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

describe('Redis over TLS with a password, from the settings', () => {
  it('works with rediss://, the password and the CA that signed the server', async () => {
    expect(await works(`rediss://:${PASSWORD}@127.0.0.1:${port}`, certs.caCert)).toBe(true);
  });

  it('is refused in plaintext, with a wrong password, or without trusting the server’s CA', async () => {
    expect(await works(`redis://:${PASSWORD}@127.0.0.1:${port}`)).toBe(false);
    expect(await works(`rediss://:wrong@127.0.0.1:${port}`, certs.caCert)).toBe(false);
    expect(await works(`rediss://:${PASSWORD}@127.0.0.1:${port}`)).toBe(false);
  });

  it('never shows the URL, which holds the password', () => {
    const shown = JSON.stringify(
      redactConfig(settings, configFor(`rediss://:${PASSWORD}@127.0.0.1:${port}`)),
    );
    expect(shown).not.toContain(PASSWORD);
  });
});
