#!/usr/bin/env node
// carrier-sim --scenario tiers [--time-scale 10] [--seed 42] [--http-port 18800] [--log file.jsonl]
//               [--conversions-api http://127.0.0.1:8090 --conversions-key KEY]   (a scenario with `conversion`:
//                                                        its users' OTP codes reported used, as that tenant)
// carrier-sim --scenario tiers --platform-config DIR    writes DIR/smpp-channels.yaml (+ DIR/secrets/) for the
//                                                        SMPP connector and DIR/number-ranges.yaml for ingest, and exits
import { parseArgs } from 'node:util';
import { writePlatformConfig } from './platform-config';
import { loadScenario } from './scenario';
import { CarrierSimulator } from './simulator';

const usage =
  'usage: carrier-sim --scenario NAME|FILE [--time-scale N] [--seed N] [--http-port N] [--log FILE] [--conversions-api URL --conversions-key KEY] | [--platform-config DIR]';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      scenario: { type: 'string' },
      'time-scale': { type: 'string', default: '1' },
      seed: { type: 'string', default: '1' },
      'http-port': { type: 'string', default: '18800' },
      log: { type: 'string' },
      'platform-config': { type: 'string' },
      'conversions-api': { type: 'string' },
      'conversions-key': { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help || !values.scenario) {
    process.stdout.write(`${usage}\n`);
    process.exit(values.help ? 0 : 2);
  }
  const timeScale = Number(values['time-scale']);
  if (values['platform-config']) {
    // Receipt windows follow the simulator's clock, so the same --time-scale goes to both.
    writePlatformConfig(loadScenario(values.scenario), values['platform-config'], {}, { timeScale });
    return;
  }
  const seed = Number(values.seed);
  const httpPort = Number(values['http-port']);
  if (!(timeScale > 0) || !Number.isInteger(seed) || !Number.isInteger(httpPort)) throw new Error(usage);
  const simulator = new CarrierSimulator({
    scenario: loadScenario(values.scenario),
    timeScale,
    seed,
    httpPort,
    ...(values.log ? { logPath: values.log } : {}),
  });
  await simulator.start();
  if (values['conversions-api'] && values['conversions-key']) {
    const apiKey = values['conversions-key'];
    simulator.reportConversionsTo({ apiUrl: values['conversions-api'], apiKeyOf: () => apiKey });
  }
  process.stdout.write(
    `${JSON.stringify({ msg: 'carrier network up', ...simulator.stats(), httpPort: simulator.httpPort })}\n`,
  );
  const stop = () => {
    void simulator.stop().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
