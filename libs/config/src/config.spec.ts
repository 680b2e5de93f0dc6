import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  checkConfig,
  ConfigError,
  commonSettings,
  env,
  loadConfig,
  redactConfig,
  setting,
  trafficClassSettings,
} from './index';

const settings = {
  ...commonSettings,
  smppPassword: setting('TERN_TEST_SMPP_PASSWORD', 'password of the test bind', env.string(), true),
};

describe('loadConfig', () => {
  it('parses and defaults values', () => {
    const config = loadConfig(settings, {
      TERN_KAFKA_BROKERS: 'a:9092, b:9092',
      TERN_TEST_SMPP_PASSWORD: 's3cret',
      TERN_HTTP_PORT: '',
    });
    expect(config.kafkaBrokers).toEqual(['a:9092', 'b:9092']);
    expect(config.httpPort).toBe(8080);
    expect(config.logLevel).toBe('info');
    expect(config.otlpEndpoint).toBeUndefined();
    expect(config.traceSampleRatio).toBe(0.1);
  });

  it('reads a share from 0 to 1, and nothing else', () => {
    const ratio = (value: string) =>
      loadConfig(settings, {
        TERN_KAFKA_BROKERS: 'a:9092',
        TERN_TEST_SMPP_PASSWORD: 's',
        TERN_TRACE_SAMPLE_RATIO: value,
      }).traceSampleRatio;
    expect([ratio('0'), ratio('0.25'), ratio('.5'), ratio('1')]).toEqual([0, 0.25, 0.5, 1]);
    for (const bad of ['1.5', '-0.1', 'half', '10%']) {
      expect(() => ratio(bad)).toThrow('TERN_TRACE_SAMPLE_RATIO: must be a number from 0 to 1');
    }
  });

  it('takes both traffic classes unless told which, and refuses a class it does not know', () => {
    const classes = (value?: string) =>
      loadConfig(trafficClassSettings, value === undefined ? {} : { TERN_TRAFFIC_CLASSES: value })
        .trafficClasses;
    expect(classes()).toEqual(['priority', 'bulk']);
    expect(classes('bulk')).toEqual(['bulk']);
    expect(classes(' priority ')).toEqual(['priority']);
    expect(() => classes('otp')).toThrow('TERN_TRAFFIC_CLASSES: must be priority or bulk');
    expect(() => classes(',')).toThrow('TERN_TRAFFIC_CLASSES: must list at least one value');
  });

  it('names every wrong or missing variable at once', () => {
    let error: unknown;
    try {
      loadConfig(settings, { TERN_HTTP_PORT: 'eighty', TERN_LOG_LEVEL: 'loud' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.map((p) => p.env);
    expect(problems).toEqual([
      'TERN_KAFKA_BROKERS',
      'TERN_HTTP_PORT',
      'TERN_LOG_LEVEL',
      'TERN_TEST_SMPP_PASSWORD',
    ]);
    expect((error as Error).message).toContain('TERN_HTTP_PORT: must be a whole number (got "eighty")');
  });

  it('never echoes a secret, neither in errors nor in the redacted view', () => {
    const secrets = { ...settings, smppPassword: setting('P', 'p', env.int(), true) };
    expect(() => loadConfig(secrets, { TERN_KAFKA_BROKERS: 'a:1', P: 'hunter2' })).toThrow(
      /P: must be a whole number$/m,
    );
    const config = loadConfig(settings, { TERN_KAFKA_BROKERS: 'a:1', TERN_TEST_SMPP_PASSWORD: 'hunter2' });
    const shown = JSON.stringify(redactConfig(settings, config));
    expect(shown).not.toContain('hunter2');
    expect(shown).toContain('"TERN_TEST_SMPP_PASSWORD":"[redacted]"');
  });
});

describe('checkConfig', () => {
  const withFiles = {
    ...commonSettings,
    policyFile: setting('TERN_TEST_POLICY_FILE', 'a policy', env.string()),
    caFile: setting('TERN_TEST_CA_FILE', 'a CA bundle', env.string().optional()),
  };
  const dir = mkdtempSync(join(tmpdir(), 'tern-check-'));
  const policy = join(dir, 'policy.yaml');
  writeFileSync(policy, 'rules: []');
  const base = { TERN_KAFKA_BROKERS: 'a:1', TERN_TEST_POLICY_FILE: policy };
  const readsPolicy = (config: { policyFile: string }) => {
    if (!config.policyFile.endsWith('.yaml')) throw new Error(`policy file ${config.policyFile} is not YAML`);
  };

  it('finds nothing wrong with valid settings whose files are there and valid', () => {
    expect(checkConfig(withFiles, readsPolicy, base)).toEqual([]);
  });

  it('names each missing or invalid setting', () => {
    expect(checkConfig(withFiles, readsPolicy, { TERN_HTTP_PORT: 'x' })).toEqual([
      'TERN_KAFKA_BROKERS: is required',
      'TERN_HTTP_PORT: must be a whole number (got "x")',
      'TERN_TEST_POLICY_FILE: is required',
    ]);
  });

  it('names each *_FILE setting that cannot be read, before reading any file', () => {
    const missing = join(dir, 'ca.pem');
    let read = false;
    const problems = checkConfig(
      withFiles,
      () => {
        read = true;
      },
      { ...base, TERN_TEST_CA_FILE: missing },
    );
    expect(problems).toEqual([`TERN_TEST_CA_FILE: ${missing} cannot be read`]);
    expect(read).toBe(false);
  });

  it('reports what the service’s own reading of its files finds', () => {
    const json = join(dir, 'policy.json');
    writeFileSync(json, '{}');
    expect(checkConfig(withFiles, readsPolicy, { ...base, TERN_TEST_POLICY_FILE: json })).toEqual([
      `policy file ${json} is not YAML`,
    ]);
  });
});
