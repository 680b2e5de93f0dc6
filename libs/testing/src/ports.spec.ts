import { createServer, type Server } from 'node:net';
import { CHOSEN_FROM, ephemeralPortsFrom, freePort } from './ports';

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
    await listen(taken, await freePort());
    const port = (taken.address() as { port: number }).port;
    // The first draw lands on the taken port, the second on the next one.
    const span = ephemeralPortsFrom() - CHOSEN_FROM;
    jest
      .spyOn(Math, 'random')
      .mockReturnValueOnce((port - CHOSEN_FROM + 0.5) / span)
      .mockReturnValueOnce((port + 1 - CHOSEN_FROM + 0.5) / span);
    try {
      expect(await freePort()).toBe(port + 1);
    } finally {
      await close(taken);
    }
  });
});
