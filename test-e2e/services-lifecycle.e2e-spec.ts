// Each service's own start and stop: refused configuration, readiness, and a clean shutdown on SIGTERM.
// Runs side by side with other suites: it asserts what the services say and do, not how fast.
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CarrierSimulator, loadScenario, writePlatformConfig } from '@tern/carrier-sim';
import { infraFromEnv, spawnService, startServiceProcess, waitFor } from '@tern/testing';

const SERVICES = ['ingest', 'risk', 'router', 'smpp-connector', 'dlr', 'analytics'] as const;
const root = join(__dirname, '..');
const infra = infraFromEnv();

/** A built service run the way an operator does: `node dist/main.js` with TERN_* variables, from the repo. */
const mainOf = (service: string) => join(root, 'services', service, 'dist', 'main.js');

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
    TERN_CLICKHOUSE_URL: infra.clickhouseUrl,
    TERN_ANALYTICS_HASH_KEY: 'e2e-analytics-hash-key',
    TERN_SMPP_CHANNELS_FILE: world.channelsFile,
    TERN_NUMBER_RANGES_FILE: world.numberRangesFile,
    TERN_ROUTING_TABLE_FILE: world.routingTableFile,
    TERN_RISK_POLICY_FILE: join(root, 'deploy/local/risk-policy.yaml'),
    // The lifecycle is under test here, not the messages other suites left on the shared topics.
    TERN_KAFKA_NEW_GROUP_STARTS_AT: 'latest',
    // The local platform's tenants; its event key file is named relative to the repository.
    TERN_TENANTS_FILE: join(root, 'deploy/local/tenants.yaml'),
    TERN_OPERATORS_FILE: join(root, 'deploy/local/operators.yaml'),
    TERN_GRPC_PORT: '0',
    TERN_ANALYTICS_GRPC_PORT: '0',
    TERN_CONSOLE_PORT: '0',
    TERN_API_HTTP_PORT: '0',
    TERN_SMPP_PORT: '0',
    TERN_SMPP_TLS_PORT: '0',
  };
});
afterAll(() => carrierNetwork.stop());

describe('every service', () => {
  it.each(SERVICES)(
    '%s starts, reports ready with Kafka, serves metrics, and exits 0 on SIGTERM',
    async (service) => {
      const started = await startServiceProcess(mainOf(service), serviceEnv, root);
      try {
        const ready = await waitFor(`${service} to be ready`, async () => {
          const r = await started.ready();
          return r.status === 200 && r;
        });
        expect(ready.checks['kafka']?.ok).toBe(true);
        const base = `http://127.0.0.1:${started.httpPort}`;
        const metrics = await (await fetch(`${base}/metrics`)).text();
        expect(metrics).toContain(`service="${service}"`);
        expect((await fetch(`${base}/health/live`)).status).toBe(200);
      } finally {
        started.process.kill('SIGTERM');
      }
      expect(await started.exited).toBe(0);
      expect(started.logs.map((l) => l['msg'])).toEqual(expect.arrayContaining(['stopping', 'stopped']));
    },
  );

  it('is not ready while Kafka is unreachable', async () => {
    // A port nothing listens on: the producer cannot connect, so start-up fails and says why.
    const started = spawnService(mainOf('risk'), { ...serviceEnv, TERN_KAFKA_BROKERS: '127.0.0.1:1' }, root);
    expect(await started.exited).toBe(1);
    expect(started.logs.find((l) => l['msg'] === 'start-up failed')).toBeDefined();
  });

  it('refuses to start on a bad setting, naming the variable', async () => {
    const started = spawnService(
      mainOf('router'),
      { TERN_HTTP_PORT: 'eighty', TERN_LOG_LEVEL: 'chatty' },
      root,
    );
    expect(await started.exited).toBe(1);
    const text = started.stderr.join('\n');
    expect(text).toContain('TERN_KAFKA_BROKERS: is required');
    expect(text).toContain('TERN_ROUTING_TABLE_FILE: is required');
    expect(text).toContain('TERN_HTTP_PORT: must be a whole number (got "eighty")');
    expect(text).toContain(
      'TERN_LOG_LEVEL: must be one of trace, debug, info, warn, error, fatal (got "chatty")',
    );
  });
});
