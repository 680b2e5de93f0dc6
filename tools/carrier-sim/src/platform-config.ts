import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RECEIPT_WINDOWS } from '@tern/sms-domain';
import type { Scenario } from './scenario';

export interface PlatformConfigFiles {
  /** The SMPP connector's channels (TERN_SMPP_CHANNELS_FILE). */
  channelsFile: string;
  /** Ingest's number ranges (TERN_NUMBER_RANGES_FILE): the scenario's carriers by prefix. */
  numberRangesFile: string;
  /** The router's routing table (TERN_ROUTING_TABLE_FILE): every channel with its tier, price and TPS. */
  routingTableFile: string;
}

/**
 * The platform's view of a scenario's world: the connector's channels file, passwords in files of their own
 * (as a mounted secret would be), the carriers' number ranges for ingest's enrichment, and the router's
 * routing table (what a commercial agreement would say: tier, price, TPS; not the channels' hidden quality).
 */
export function writePlatformConfig(
  scenario: Scenario,
  dir: string,
  ports: Record<string, number> = {},
  options: { timeScale?: number } = {},
): PlatformConfigFiles {
  const timeScale = options.timeScale ?? 1;
  mkdirSync(join(dir, 'secrets'), { recursive: true, mode: 0o700 });
  const lines = scenario.channels.map((c) => {
    const secret = join(dir, 'secrets', `${c.id}.password`);
    writeFileSync(secret, c.password, { mode: 0o600 });
    // The connector keeps a little under the SMSC's TPS, split over two binds.
    const tpsPerBind = Math.max(1, Math.floor((c.tps * 0.9) / 2));
    return `  - { id: ${c.id}, host: 127.0.0.1, port: ${ports[c.id] ?? c.port}, systemId: ${c.systemId}, password: { file: ${JSON.stringify(secret)} }, binds: 2, tpsPerBind: ${tpsPerBind}, window: ${Math.min(c.window, 50)} }`;
  });
  const channelsFile = join(dir, 'smpp-channels.yaml');
  writeFileSync(
    channelsFile,
    [`# SMPP channels of the simulated scenario "${scenario.name}"`, 'channels:', ...lines, ''].join('\n'),
  );
  const ranges = scenario.countries.flatMap((country) =>
    country.carriers.flatMap((carrier) =>
      carrier.prefixes.map(
        (prefix) =>
          `  - { prefix: '${prefix}', mccMnc: '${carrier.mccMnc}', name: ${JSON.stringify(carrier.name)} }`,
      ),
    ),
  );
  const numberRangesFile = join(dir, 'number-ranges.yaml');
  writeFileSync(
    numberRangesFile,
    [`# Number ranges of the simulated scenario "${scenario.name}"`, 'ranges:', ...ranges, ''].join('\n'),
  );
  const routes = scenario.channels.map((c) => {
    const countries = c.countries.map((code) => `${code}: { price: ${c.pricePerSegment} }`).join(', ');
    // The tier's receipt windows, in real seconds when the simulator runs faster than real time.
    const windows = RECEIPT_WINDOWS[c.tier];
    const receiptWindows =
      timeScale === 1
        ? ''
        : `, receiptWindowSeconds: { otp: ${windows.otp / timeScale}, other: ${windows.other / timeScale} }`;
    return `  - { id: ${c.id}, tier: ${c.tier}, tps: ${Math.max(1, Math.floor(c.tps * 0.9))}, senderTypes: [alphanumeric, shortcode, international]${receiptWindows}, countries: { ${countries} } }`;
  });
  // Like the channels' TPS, the router keeps a little under the countries' caps.
  const countryLimits = scenario.countries
    .filter((country) => country.tps !== undefined)
    .map(
      (country) => `  ${country.code}: { perSecond: ${Math.max(1, Math.floor((country.tps ?? 1) * 0.9))} }`,
    );
  const routingTableFile = join(dir, 'routing-table.yaml');
  writeFileSync(
    routingTableFile,
    [
      `# Routing table of the simulated scenario "${scenario.name}"`,
      'channels:',
      ...routes,
      ...(countryLimits.length > 0 ? ['countryLimits:', ...countryLimits] : []),
      '',
    ].join('\n'),
  );
  return { channelsFile, numberRangesFile, routingTableFile };
}
