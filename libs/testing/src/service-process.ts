import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { TOPIC_NAMESPACE_ENV, testNamespace } from './isolation';
import { waitFor } from './wait';

export interface SpawnedService {
  process: ChildProcess;
  /** Every JSON log line it wrote to stdout, parsed. */
  logs: Record<string, unknown>[];
  /** Its stderr lines (a refused configuration is reported there, before any logger exists). */
  stderr: string[];
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface ServiceProcess extends SpawnedService {
  httpPort: number;
  ready(): Promise<{ status: number; checks: Record<string, { ok: boolean }> }>;
  /** Its own CPU seconds so far (user + system), from process_cpu_seconds_total on its /metrics. */
  cpuSeconds(): Promise<number>;
}

/**
 * Runs a built service (`node dist/main.js`) the way it is deployed: only PATH and the given variables
 * (TERN_HTTP_PORT 0, log level info and the test file's topic namespace unless given), from `cwd`.
 */
export function spawnService(main: string, env: Record<string, string>, cwd?: string): SpawnedService {
  if (!existsSync(main)) throw new Error(`${main} is missing: build first (pnpm build, or ./tern test)`);
  const child = spawn(process.execPath, [main], {
    cwd,
    env: {
      PATH: process.env.PATH ?? '',
      TERN_HTTP_PORT: '0',
      TERN_LOG_LEVEL: 'info',
      ...(testNamespace() ? { [TOPIC_NAMESPACE_ENV]: testNamespace() } : {}),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  const stderr: string[] = [];
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    logs.push(JSON.parse(line) as Record<string, unknown>);
  });
  createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (line) => {
    stderr.push(line);
    process.stderr.write(`${line}\n`);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    process: child,
    logs,
    stderr,
    exited,
    stop: (signal = 'SIGTERM') => {
      child.kill(signal);
      return exited;
    },
  };
}

/** spawnService, then waits until its HTTP endpoint listens (the "service started" log line). */
export async function startServiceProcess(
  main: string,
  env: Record<string, string>,
  cwd?: string,
): Promise<ServiceProcess> {
  const spawned = spawnService(main, env, cwd);
  let httpPort: number;
  try {
    // A service listens once it has joined its consumer groups, and a join waits for the group's other
    // members to rejoin: up to kafkajs' rebalance timeout (60 s) when one of them is busy.
    httpPort = await waitFor(
      `${main} to listen`,
      () => {
        if (spawned.process.exitCode !== null)
          throw new Error(`${main} exited with ${spawned.process.exitCode}`);
        return spawned.logs.find((l) => l['msg'] === 'service started')?.['httpPort'] as number | undefined;
      },
      90_000,
    );
  } catch (error) {
    // A service that never came up must not live on, consuming the shared topics of later tests.
    spawned.process.kill('SIGKILL');
    // What it was doing when given up on: its log goes with it.
    const last = spawned.logs.slice(-8).map((l) => JSON.stringify(l).slice(0, 400));
    throw new Error(`${(error as Error).message}; its last log lines:\n${last.join('\n')}`, { cause: error });
  }
  return {
    ...spawned,
    httpPort,
    ready: async () => {
      const res = await fetch(`http://127.0.0.1:${httpPort}/health/ready`);
      return { status: res.status, ...((await res.json()) as { checks: Record<string, { ok: boolean }> }) };
    },
    cpuSeconds: async () => {
      const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
      // process_cpu_seconds_total{service="ingest"} 12.34
      const line = text.split('\n').find((l) => /^process_cpu_seconds_total[{ ]/.test(l));
      if (!line) throw new Error(`${main}: no process_cpu_seconds_total on /metrics`);
      return Number(line.slice(line.lastIndexOf(' ') + 1));
    },
  };
}
