import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Scenario } from './scenario';

/** The connector's channels file for a scenario, passwords in files of their own (as a mounted secret would be). */
export function writeConnectorConfig(
  scenario: Scenario,
  dir: string,
  ports: Record<string, number> = {},
): string {
  mkdirSync(join(dir, 'secrets'), { recursive: true, mode: 0o700 });
  const lines = scenario.channels.map((c) => {
    const secret = join(dir, 'secrets', `${c.id}.password`);
    writeFileSync(secret, c.password, { mode: 0o600 });
    // The connector keeps a little under the SMSC's TPS, split over two binds.
    const tpsPerBind = Math.max(1, Math.floor((c.tps * 0.9) / 2));
    return `  - { id: ${c.id}, host: 127.0.0.1, port: ${ports[c.id] ?? c.port}, systemId: ${c.systemId}, password: { file: ${JSON.stringify(secret)} }, binds: 2, tpsPerBind: ${tpsPerBind}, window: ${Math.min(c.window, 50)} }`;
  });
  const file = join(dir, 'smpp-channels.yaml');
  writeFileSync(
    file,
    [`# SMPP channels of the simulated scenario "${scenario.name}"`, 'channels:', ...lines, ''].join('\n'),
  );
  return file;
}
