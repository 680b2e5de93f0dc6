// One runner, three tiers: unit specs beside the code, integration specs per package under test/, and
// cross-service flows in test-e2e/. Integration and e2e talk to real Kafka, ClickHouse and Redis (see
// libs/testing); workspace packages are loaded from their TypeScript sources through the `tern-source`
// export condition, so tests never run against a stale build.
const transform = {
  '^.+\\.ts$': [
    '@swc/jest',
    {
      jsc: {
        parser: { syntax: 'typescript', decorators: true },
        transform: { legacyDecorator: true, decoratorMetadata: true },
        target: 'es2023',
      },
      module: { type: 'commonjs' },
    },
  ],
};
const common = {
  transform,
  testEnvironment: 'node',
  testEnvironmentOptions: { customExportConditions: ['tern-source', 'node', 'node-addons'] },
  modulePathIgnorePatterns: ['<rootDir>/.*/dist/', '<rootDir>/.tools/', '<rootDir>/.local/'],
};
const withInfra = {
  ...common,
  globalSetup: '<rootDir>/libs/testing/src/global-setup.ts',
  globalTeardown: '<rootDir>/libs/testing/src/global-teardown.ts',
};

module.exports = {
  reporters: ['default', '<rootDir>/libs/testing/summary-reporter.cjs'],
  testSequencer: '<rootDir>/libs/testing/given-order-sequencer.cjs',
  // Integration tests wait on real brokers and processes: a rebalance alone can take seconds.
  testTimeout: 120_000,
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: [
        '<rootDir>/{libs,services,tools,proto}/*/src/**/*.spec.ts',
        '<rootDir>/proto/src/**/*.spec.ts',
      ],
    },
    {
      ...withInfra,
      displayName: 'integration',
      testMatch: ['<rootDir>/{libs,services,tools}/*/test/**/*.spec.ts'],
      // Files run side by side: each in a topic namespace and Redis database of its own.
      testEnvironment: '<rootDir>/libs/testing/src/isolated-environment.ts',
    },
    { ...withInfra, displayName: 'e2e', testMatch: ['<rootDir>/test-e2e/**/*.e2e-spec.ts'] },
  ],
};
