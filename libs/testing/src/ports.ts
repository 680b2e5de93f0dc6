import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** Where chosen ports start: above the local infrastructure's fixed ones (16379-19293, deploy/local). */
export const CHOSEN_FROM = 20_000;

/**
 * A TCP port free now: for a server the test starts itself (a Redis of its own, an API a restarted service
 * must serve where clients already connect). Chosen below the kernel's ephemeral range, which `listen(0)`
 * picks from: there, the outgoing connection of any client on the machine could take the port before the
 * server binds it (ingest failed on EADDRINUSE so, twice in one CI run).
 */
export async function freePort(): Promise<number> {
  const until = ephemeralPortsFrom();
  for (let tries = 0; tries < 100; tries++) {
    const port = CHOSEN_FROM + Math.floor(Math.random() * (until - CHOSEN_FROM));
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port found between ${CHOSEN_FROM} and ${until}`);
}

/** The first port the kernel gives to outgoing connections (Linux's default is 32768). */
export function ephemeralPortsFrom(): number {
  try {
    const from = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').split(/\s+/)[0]);
    if (from > CHOSEN_FROM + 1000) return from;
  } catch {
    // not Linux: its default range
  }
  return 32_768;
}

/** Whether a server could listen on the port on every interface now, as a service does. */
function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, () => server.close(() => resolve(true)));
  });
}
