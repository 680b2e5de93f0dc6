import { ConfigError, commonSettings, env, loadConfig, redactConfig, setting } from './index';

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
