import {
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where chosen ports start: above the local infrastructure's fixed ones (16379-19293, deploy/local). */
export const CHOSEN_FROM = 20_000;

/**
 * Ports handed out stay reserved, across the processes of a test run, until the process that chose them
 * exits: a port is chosen well before the server that takes it binds it (a platform's services start
 * seconds later), and two jest workers starting platforms side by side once drew the same one (ingest
 * failed on EADDRINUSE). One file per reserved port, holding the reserving process's pid.
 */
export const RESERVATIONS_DIR = join(tmpdir(), `tern-ports-${process.getuid?.() ?? 'user'}`);
const reservedHere = new Set<number>();

/**
 * A TCP port free now and reserved for this process: for a server the test starts itself (a Redis of its
 * own, an API a restarted service must serve where clients already connect). Chosen below the kernel's
 * ephemeral range, which `listen(0)` picks from: there, the outgoing connection of any client on the
 * machine could take the port before the server binds it (ingest failed on EADDRINUSE so, twice in one CI
 * run).
 */
export async function freePort(): Promise<number> {
  const until = ephemeralPortsFrom();
  for (let tries = 0; tries < 100; tries++) {
    const port = CHOSEN_FROM + Math.floor(Math.random() * (until - CHOSEN_FROM));
    if (!reserve(port)) continue;
    if (await canListen(port)) return port;
    release(port);
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

/** Takes the port for this process unless a live process (this one included) holds it. */
function reserve(port: number): boolean {
  if (reservedHere.has(port)) return false;
  if (!swept) sweepDeadHolders();
  const file = join(RESERVATIONS_DIR, String(port));
  // Written aside and linked into place: the reservation appears whole (link fails if it exists).
  const draft = `${file}.${process.pid}`;
  writeFileSync(draft, String(process.pid));
  try {
    for (;;) {
      try {
        linkSync(draft, file);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      // Unless its process is gone (a killed worker never cleans up), the port is taken.
      if (!removeIfStale(file)) return false;
    }
  } finally {
    unlinkQuietly(draft);
  }
  if (!releasingOnExit) process.once('exit', releaseAll);
  releasingOnExit = true;
  reservedHere.add(port);
  return true;
}
let releasingOnExit = false;

/**
 * Forgets the reservations of processes that are gone, once per process: jest ends its workers with a signal,
 * which leaves theirs behind.
 */
function sweepDeadHolders(): void {
  mkdirSync(RESERVATIONS_DIR, { recursive: true });
  for (const name of readdirSync(RESERVATIONS_DIR)) {
    const file = join(RESERVATIONS_DIR, name);
    if (/^\d+$/.test(name)) removeIfStale(file);
  }
  swept = true;
}
let swept = false;

/**
 * Removes a reservation whose process is gone; false if it is live. Another process may remove the same
 * stale file and reserve the port anew between the check and the removal: the file is moved to a name of
 * this process's first and checked again there, and a live reservation caught so is put back. (Only a third
 * process reserving the port in that instant could still take it from its holder.)
 */
function removeIfStale(file: string): boolean {
  if (holderAlive(file)) return false;
  const moved = `${file}.stale-${process.pid}`;
  try {
    renameSync(file, moved);
  } catch {
    return true; // already gone
  }
  const live = holderAlive(moved);
  if (live) {
    try {
      linkSync(moved, file);
    } catch {
      // reserved anew in that instant
    }
  }
  unlinkQuietly(moved);
  return !live;
}

function holderAlive(file: string): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(file, 'utf8'));
  } catch {
    return false;
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function release(port: number): void {
  reservedHere.delete(port);
  unlinkQuietly(join(RESERVATIONS_DIR, String(port)));
}

function releaseAll(): void {
  for (const port of [...reservedHere]) release(port);
}

function unlinkQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // already gone
  }
}

/** Whether a server could listen on the port on every interface now, as a service does. */
function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, () => server.close(() => resolve(true)));
  });
}
