import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from './ports';
import { waitFor } from './wait';

/** The rules operators load (deploy/monitoring), as the tests load them. */
export const TERN_ALERT_RULES = resolve(__dirname, '../../../deploy/monitoring/rules/tern.yml');

export interface PrometheusAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing';
}

export interface TestPrometheus {
  url: string;
  alerts(): Promise<PrometheusAlert[]>;
  stop(): Promise<void>;
}

/**
 * A real Prometheus (Debian's) scraping the given `host:port` targets every second and evaluating `rules`
 * as often, with a storage of its own that stop() removes.
 */
export async function startPrometheus(
  targets: string[],
  rules = [TERN_ALERT_RULES],
  /** Where it listens (default: a free port), for a service told its address before it starts. */
  port?: number,
): Promise<TestPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'prometheus-'));
  const config = join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    JSON.stringify({
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: rules,
      scrape_configs: [{ job_name: 'tern', static_configs: [{ targets }] }],
    }),
  );
  port ??= await freePort();
  const child = spawn(
    'prometheus',
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const output: string[] = [];
  child.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor('Prometheus to be ready', async () => {
      if (child.exitCode !== null) throw new Error(`prometheus exited: ${output.join('').slice(-500)}`);
      return (await fetch(`${url}/-/ready`)).ok;
    });
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    url,
    alerts: async () => {
      const body = (await (await fetch(`${url}/api/v1/alerts`)).json()) as {
        data: { alerts: PrometheusAlert[] };
      };
      return body.data.alerts;
    },
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
