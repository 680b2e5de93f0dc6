// A service's fixed port held by an outgoing connection's source port (the kernel hands out ports from
// 32768, gRPC's 50051 among them): the server waits until the connection lets it go, then listens; a port
// where another server answers fails at once. Real sockets on loopback.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { createLogger } from '@tern/telemetry';
import { waitFor } from '@tern/testing';
import { GrpcServer, untilPortFree } from '../src';
import { rawUnaryMethod } from './raw-method';

const dir = mkdtempSync(join(tmpdir(), 'tern-port-wait-'));
const protoPath = join(dir, 'ping.proto');
writeFileSync(
  protoPath,
  'syntax = "proto3"; package test; message Empty {} service Ping { rpc Ping(Empty) returns (Empty); }',
);
const ping = rawUnaryMethod('/test.Ping/Ping');
const PingClient = grpc.makeGenericClientConstructor({ ping }, 'Ping');

const closers: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const close of closers.reverse()) await close();
});

async function listening(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as { port: number }).port;
}

/**
 * Another program's outgoing connection, bound as the kernel binds a client's (without SO_REUSEADDR, which
 * Node sets on every socket it binds); and the remote end of it. It goes out from a port below the
 * kernel's ephemeral range (from 32768): a port the kernel hands out could, once the test releases it, be
 * handed at once to any process's next connection, and stay held in its TIME-WAIT; under CI's load it was.
 * The program closes its socket when the connection is reset.
 */
async function outgoingConnection(): Promise<{ localPort: number; remote: Socket }> {
  const accepted: Socket[] = [];
  const port = await listening(createServer((socket) => accepted.push(socket)));
  const program = `
import random, socket, sys
for _ in range(50):
    s = socket.socket()
    try:
        s.bind(('127.0.0.1', random.randrange(20000, 32000)))
        break
    except OSError:
        s.close()
else:
    sys.exit('no free port below 32000')
s.connect(('127.0.0.1', ${port}))
print(s.getsockname()[1], flush=True)
try:
    s.recv(1)
except OSError:
    pass
s.close()
sys.stdin.read()
`;
  const holder = spawn('python3', ['-c', program], { stdio: ['pipe', 'pipe', 'inherit'] });
  closers.push(() => void holder.kill());
  const [line] = (await once(holder.stdout, 'data')) as [Buffer];
  await waitFor('the connection accepted', () => accepted.length === 1, 5_000);
  return { localPort: Number(line.toString().trim()), remote: accepted[0]! };
}

it('a port held by a connection is waited out, then served', async () => {
  const { localPort, remote } = await outgoingConnection();
  const lines: string[] = [];
  const log = createLogger({
    service: 'port-wait-test',
    level: 'info',
    destination: { write: (l: string) => lines.push(l) },
  });
  const server = new GrpcServer(
    'test.Ping',
    { path: protoPath, includeDirs: [] },
    { ping },
    { ping: (_call: unknown, done: grpc.sendUnaryData<Buffer>) => done(null, Buffer.alloc(0)) },
    { log },
  );
  closers.push(() => server.close());
  let bound: number | Error | undefined;
  server.listen('0.0.0.0', localPort).then(
    (port) => (bound = port),
    (error: Error) => (bound = error),
  );
  await waitFor('the wait logged', () => lines.some((l) => l.includes('waiting for it')), 10_000);
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  expect(bound).toBeUndefined();
  expect(JSON.parse(lines.find((l) => l.includes('waiting for it'))!)).toMatchObject({ port: localPort });

  // The remote end resets the connection: the port is released at once (no TIME-WAIT on this side).
  remote.resetAndDestroy();
  await waitFor('the server bound', () => bound !== undefined, 10_000);
  expect(bound).toBe(localPort);
  const client = new PingClient(`127.0.0.1:${localPort}`, grpc.credentials.createInsecure());
  closers.push(() => client.close());
  const answered = await new Promise<grpc.status>((resolve) =>
    (client as unknown as { ping: (...a: unknown[]) => void }).ping(
      Buffer.alloc(0),
      { deadline: Date.now() + 5_000 },
      (error: grpc.ServiceError | null) => resolve(error ? error.code : grpc.status.OK),
    ),
  );
  expect(answered).toBe(grpc.status.OK);
});

it('a port where another server listens fails at once, naming the port', async () => {
  const port = await listening(createServer());
  await expect(untilPortFree('127.0.0.1', port, undefined)).rejects.toThrow(
    `port ${port} is taken by another server`,
  );
});
