import { connect, createServer } from 'node:net';
import type { Logger } from '@tern/telemetry';

/** Longer than a closed connection's TIME-WAIT, 60 s on Linux (TCP_TIMEWAIT_LEN, not tunable). */
const HELD_AT_MOST_MS = 90_000;

/**
 * Resolves once a server can listen on `host:port` (at once for port 0). A fixed port inside the kernel's
 * ephemeral range (gRPC's 50051 and 50052 are, from 32768) can be the source port of an outgoing connection
 * on the same machine, or network namespace, open or closed less than 60 s ago (TIME-WAIT): listening
 * there fails with EADDRINUSE until the kernel releases it. That is waited out, as any dependency that is
 * away; a port where another server answers fails at once.
 */
export async function untilPortFree(
  host: string,
  port: number,
  log: Logger | undefined,
  retryMs = 1000,
): Promise<void> {
  if (port === 0) return;
  const deadline = Date.now() + HELD_AT_MOST_MS;
  for (let waited = false; ; waited = true) {
    const error = await tryListen(host, port);
    if (!error) {
      if (waited) log?.info({ port }, 'port released; listening');
      return;
    }
    if (error.code !== 'EADDRINUSE') throw error;
    if (await answers(host, port)) throw new Error(`port ${port} is taken by another server`);
    if (Date.now() > deadline)
      throw new Error(`port ${port} still held by a connection after ${HELD_AT_MOST_MS / 1000} s`);
    if (!waited) log?.warn({ port }, 'port held by a connection (open or in TIME-WAIT); waiting for it');
    await new Promise((resolve) => setTimeout(resolve, retryMs));
  }
}

function tryListen(host: string, port: number): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', resolve);
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve(undefined)));
  });
}

/** Whether a server accepts connections on the port (a wildcard host is reached on loopback). */
function answers(host: string, port: number): Promise<boolean> {
  const target = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return new Promise((resolve) => {
    const socket = connect({ host: target, port, timeout: 1000 });
    const done = (answered: boolean) => {
      socket.destroy();
      resolve(answered);
    };
    socket.once('connect', () => done(true));
    socket.once('timeout', () => done(false));
    socket.once('error', () => done(false));
  });
}
