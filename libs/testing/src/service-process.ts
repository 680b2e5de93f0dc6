import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { waitFor } from './wait';

export interface ServiceProcess {
  process: ChildProcess;
  httpPort: number;
  /** Every JSON log line it wrote to stdout, parsed. */
  logs: Record<string, unknown>[];
  exited: Promise<number | null>;
  ready(): Promise<{ status: number; checks: Record<string, { ok: boolean }> }>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Runs a built service (`node dist/main.js`) the way it is deployed, with only the given variables, and
 * waits until its HTTP endpoint listens (the "service started" log line).
 */
export async function startServiceProcess(
  main: string,
  env: Record<string, string>,
): Promise<ServiceProcess> {
  if (!existsSync(main)) throw new Error(`${main} is missing: build first (pnpm build, or ./tern test)`);
  const child = spawn(process.execPath, [main], {
    env: { PATH: process.env.PATH ?? '', TERN_HTTP_PORT: '0', TERN_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const logs: Record<string, unknown>[] = [];
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    logs.push(JSON.parse(line) as Record<string, unknown>);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const httpPort = await waitFor(`${main} to listen`, () => {
    if (child.exitCode !== null) throw new Error(`${main} exited with ${child.exitCode}`);
    return logs.find((l) => l['msg'] === 'service started')?.['httpPort'] as number | undefined;
  });
  return {
    process: child,
    httpPort,
    logs,
    exited,
    ready: async () => {
      const res = await fetch(`http://127.0.0.1:${httpPort}/health/ready`);
      return { status: res.status, ...((await res.json()) as { checks: Record<string, { ok: boolean }> }) };
    },
    stop: (signal = 'SIGTERM') => {
      child.kill(signal);
      return exited;
    },
  };
}
