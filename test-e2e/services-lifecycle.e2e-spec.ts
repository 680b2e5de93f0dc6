import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { CarrierSimulator, loadScenario, writePlatformConfig } from '@tern/carrier-sim';
import { infraFromEnv, waitFor } from '@tern/testing';

const SERVICES = ['ingest', 'risk', 'router', 'smpp-connector', 'dlr', 'analytics'] as const;
const root = join(__dirname, '..');
const infra = infraFromEnv();

interface Started {
  logs: Record<string, unknown>[];
  stderr: string[];
  exit: Promise<number | null>;
  kill: (signal: NodeJS.Signals) => void;
}

/** Runs a built service the way an operator does: `node dist/main.js` with TERN_* variables. */
function start(service: string, env: Record<string, string>): Started {
  const main = join(root, 'services', service, 'dist', 'main.js');
  if (!existsSync(main)) throw new Error(`${main} is missing: build first (pnpm build, or ./tern test)`);
  const child = spawn(process.execPath, [main], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: 'pipe',
  });
  const logs: Record<string, unknown>[] = [];
  const stderr: string[] = [];
  createInterface({ input: child.stdout }).on('line', (line) =>
    logs.push(JSON.parse(line) as Record<string, unknown>),
  );
  createInterface({ input: child.stderr }).on('line', (line) => stderr.push(line));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { logs, stderr, exit, kill: (signal) => child.kill(signal) };
}

// The connector binds to channels at start-up: give it the tiers scenario's network on free ports.
const carrierNetwork = (() => {
  const tiers = loadScenario('tiers');
  return new CarrierSimulator({
    scenario: { ...tiers, channels: tiers.channels.map((c) => ({ ...c, port: 0 })) },
  });
})();
let serviceEnv: Record<string, string> = {};

beforeAll(async () => {
  // As an operator does before the first start: every platform topic, by the project's script.
  await promisify(execFile)(process.execPath, [join(root, 'libs/kafka/dist/cli/create-topics.js')], {
    env: { PATH: process.env.PATH ?? '', TERN_KAFKA_BROKERS: infra.kafkaBrokers.join(',') },
  });
  await carrierNetwork.start();
  const world = writePlatformConfig(
    loadScenario('tiers'),
    mkdtempSync(join(tmpdir(), 'tern-e2e-smpp-')),
    carrierNetwork.ports(),
  );
  serviceEnv = {
    TERN_KAFKA_BROKERS: infra.kafkaBrokers.join(','),
    TERN_REDIS_URL: infra.redisUrl,
    TERN_SMPP_CHANNELS_FILE: world.channelsFile,
    TERN_NUMBER_RANGES_FILE: world.numberRangesFile,
    // The local platform's tenants; its event key file is named relative to the repository.
    TERN_TENANTS_FILE: join(root, 'deploy/local/tenants.yaml'),
    TERN_GRPC_PORT: '0',
  };
});
afterAll(() => carrierNetwork.stop());

describe('every service', () => {
  it.each(SERVICES)(
    '%s starts, reports ready with Kafka, serves metrics, and exits 0 on SIGTERM',
    async (service) => {
      const started = start(service, { ...serviceEnv, TERN_HTTP_PORT: '0' });
      try {
        const port = await waitFor(
          `${service} to listen`,
          () => started.logs.find((l) => l['msg'] === 'service started')?.['httpPort'],
        );
        const ready = await waitFor(`${service} to be ready`, async () => {
          const res = await fetch(`http://127.0.0.1:${String(port)}/health/ready`);
          return res.status === 200
            ? ((await res.json()) as { checks: Record<string, { ok: boolean }> })
            : undefined;
        });
        expect(ready.checks['kafka']?.ok).toBe(true);
        const metrics = await (await fetch(`http://127.0.0.1:${String(port)}/metrics`)).text();
        expect(metrics).toContain(`service="${service}"`);
        expect((await fetch(`http://127.0.0.1:${String(port)}/health/live`)).status).toBe(200);
      } finally {
        started.kill('SIGTERM');
      }
      expect(await started.exit).toBe(0);
      expect(started.logs.map((l) => l['msg'])).toEqual(expect.arrayContaining(['stopping', 'stopped']));
    },
  );

  it('is not ready while Kafka is unreachable', async () => {
    // A port nothing listens on: the producer cannot connect, so start-up fails and says why.
    const started = start('risk', { TERN_KAFKA_BROKERS: '127.0.0.1:1', TERN_HTTP_PORT: '0' });
    expect(await started.exit).toBe(1);
    expect(started.logs.find((l) => l['msg'] === 'start-up failed')).toBeDefined();
  });

  it('refuses to start on a bad setting, naming the variable', async () => {
    const started = start('router', { TERN_HTTP_PORT: 'eighty', TERN_LOG_LEVEL: 'chatty' });
    expect(await started.exit).toBe(1);
    const text = started.stderr.join('\n');
    expect(text).toContain('TERN_KAFKA_BROKERS: is required');
    expect(text).toContain('TERN_HTTP_PORT: must be a whole number (got "eighty")');
    expect(text).toContain(
      'TERN_LOG_LEVEL: must be one of trace, debug, info, warn, error, fatal (got "chatty")',
    );
  });
});
