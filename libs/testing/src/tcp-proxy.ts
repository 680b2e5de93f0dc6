import { createConnection, createServer, type Server, type Socket } from 'node:net';

/** A TCP forwarder whose link a test can cut and restore: a real outage of a dependency, seen by one client. */
export interface TcpProxy {
  /** The local port clients connect to instead of the target's. */
  port: number;
  /** Drops every open connection and refuses new ones, as a server that went away. */
  cut(): Promise<void>;
  /** Accepts and forwards again, on the same port. */
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  };
  const makeServer = () =>
    createServer((client) => {
      const upstream = createConnection(target);
      track(client);
      track(upstream);
      client.pipe(upstream).pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    });
  const listen = (server: Server, port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        const address = server.address();
        resolve(typeof address === 'object' && address ? address.port : port);
      });
    });
  const shut = (server: Server) =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });

  let server = makeServer();
  const port = await listen(server, 0);
  let up = true;
  return {
    port,
    async cut() {
      if (!up) return;
      up = false;
      await shut(server);
    },
    async restore() {
      if (up) return;
      server = makeServer();
      await listen(server, port);
      up = true;
    },
    async close() {
      if (up) await shut(server);
      up = false;
    },
  };
}
