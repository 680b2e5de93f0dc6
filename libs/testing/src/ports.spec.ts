import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { CHOSEN_FROM, ephemeralPortsFrom, freePort, RESERVATIONS_DIR } from './ports';

const listen = (server: Server, port: number) =>
  new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, resolve);
  });
const close = (server: Server) => new Promise((resolve) => server.close(resolve));

describe('freePort', () => {
  afterEach(() => jest.restoreAllMocks());

  it('gives a port below the range outgoing connections take, where a server can listen', async () => {
    const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(CHOSEN_FROM);
      expect(port).toBeLessThan(ephemeralPortsFrom());
    }
    const server = createServer();
    await listen(server, ports[0]!);
    await close(server);
  });

  it('passes over a port a server listens on', async () => {
    const taken = createServer();
    // Not one of ours: that one would be passed over as reserved, whether or not a server listens on it.
    const port = await listenUnreserved(taken);
    // The first draw lands on the taken port, the second on the next one.
    drawing(port, port + 1);
    try {
      expect(await freePort()).toBe(port + 1);
    } finally {
      await close(taken);
    }
  });

  it('never hands a port out twice, though nothing listens on it yet', async () => {
    const first = await freePort();
    drawing(first);
    const second = await freePort();
    expect(second).not.toBe(first);
  });

  it('passes over a port another live process reserved, and takes it once that process is gone', async () => {
    const other = spawn(process.execPath, ['-e', reserveInChild('setInterval(() => {}, 60_000)')]);
    try {
      const [line] = (await once(other.stdout, 'data')) as [Buffer];
      const port = Number(line.toString());
      drawing(port);
      expect(await freePort()).not.toBe(port);
      // Killed, it cannot release the port itself.
      other.kill('SIGKILL');
      await once(other, 'exit');
      expect(existsSync(join(RESERVATIONS_DIR, String(port)))).toBe(true);
      drawing(port);
      expect(await freePort()).toBe(port);
    } finally {
      other.kill('SIGKILL');
    }
  });

  it('forgets, as another process starts reserving, the reservations of processes that are gone', async () => {
    const gone = spawn('true');
    await once(gone, 'exit');
    const stale = join(RESERVATIONS_DIR, String(await freePort()));
    // A port reserved here, rewritten in the name of the process that is gone.
    writeFileSync(stale, String(gone.pid));
    const other = spawn(process.execPath, ['-e', reserveInChild('')]);
    await once(other, 'exit');
    expect(existsSync(stale)).toBe(false);
  });

  it('keeps a reservation made anew between its finding the old one stale and removing it', async () => {
    const gone = spawn('true');
    await once(gone, 'exit');
    const port = unreservedPort();
    const file = join(RESERVATIONS_DIR, String(port));
    writeFileSync(file, String(gone.pid));
    const other = spawn(process.execPath, ['-e', 'setInterval(() => {}, 60_000)']);
    try {
      // Found stale, then, just before it is moved away, removed and reserved anew by a live process.
      let replaced = false;
      const rename = jest.spyOn(fs, 'renameSync').mockImplementationOnce((from, to) => {
        writeFileSync(from, String(other.pid));
        replaced = true;
        rename.mockRestore();
        fs.renameSync(from, to);
      });
      drawing(port, port + 1);
      expect(await freePort()).not.toBe(port);
      expect(replaced).toBe(true);
      expect(readFileSync(file, 'utf8')).toBe(String(other.pid));
    } finally {
      other.kill('SIGKILL');
    }
  });

  it('releases the ports of a process as it exits', async () => {
    // It exits once its input ends.
    const other = spawn(process.execPath, [
      '-e',
      reserveInChild("process.stdin.on('end', () => process.exit())"),
    ]);
    const [line] = (await once(other.stdout, 'data')) as [Buffer];
    const reservation = join(RESERVATIONS_DIR, line.toString().trim());
    expect(existsSync(reservation)).toBe(true);
    other.stdin.end();
    await once(other, 'exit');
    expect(existsSync(reservation)).toBe(false);
  });
});

/** The next draws of `freePort` land on these ports, in order. */
function drawing(...ports: number[]): void {
  const span = ephemeralPortsFrom() - CHOSEN_FROM;
  const random = jest.spyOn(Math, 'random');
  for (const port of ports) random.mockReturnValueOnce((port - CHOSEN_FROM + 0.5) / span);
}

/** A script for another Node process: reserves a port, prints it, then runs `then`. */
function reserveInChild(then: string): string {
  const ports = join(__dirname, 'ports.ts');
  return `require(${JSON.stringify(ports)}).freePort().then((port) => { console.log(port); ${then} })`;
}

/** A port in the range `freePort` draws from that no process reserved. */
function unreservedPort(): number {
  let port = CHOSEN_FROM + Math.floor(Math.random() * 5000);
  while (existsSync(join(RESERVATIONS_DIR, String(port)))) port++;
  return port;
}

/** Listens on a port in the range `freePort` draws from that no process reserved. */
async function listenUnreserved(server: Server): Promise<number> {
  for (let port = CHOSEN_FROM + Math.floor(Math.random() * 5000); ; port++) {
    if (existsSync(join(RESERVATIONS_DIR, String(port)))) continue;
    try {
      await listen(server, port);
      return port;
    } catch {
      // taken: the next one
    }
  }
}
