// The gRPC server every Tern API is built on, over real TLS handshakes: TLS only when configured, mutual TLS
// as an option, certificates rotated without a restart, and operators' APIs guarded by token and role.
import { copyFileSync, mkdirSync, mkdtempSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { hashApiKey, OperatorDirectory } from '@tern/config';
import { makeTestCertificates, waitFor, type TestCertificates } from '@tern/testing';
import { GrpcServer, operatorGuard, type GrpcServerOptions } from '../src';
import { rawUnaryMethod } from './raw-method';

const dir = mkdtempSync(join(tmpdir(), 'tern-grpc-security-'));
const protoPath = join(dir, 'ops.proto');
writeFileSync(
  protoPath,
  'syntax = "proto3"; package test; message Empty {} service Ops { rpc Read(Empty) returns (Empty); rpc Act(Empty) returns (Empty); }',
);
const SERVICE = 'test.Ops';
const definition = {
  read: rawUnaryMethod(`/${SERVICE}/Read`),
  act: rawUnaryMethod(`/${SERVICE}/Act`),
};
const echo = (call: grpc.ServerUnaryCall<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) =>
  done(null, Buffer.alloc(0));
const OpsClient = grpc.makeGenericClientConstructor(definition, 'Ops');

const tokens = {
  viewer: 'viewer-token-1',
  operator: 'operator-token-1',
  tenantApiKey: 'tern-local-demo-key',
};
const operatorsFile = join(dir, 'operators.yaml');
writeFileSync(
  operatorsFile,
  JSON.stringify({
    operators: [
      { id: 'ann', role: 'viewer', tokens: [{ id: 't1', sha256: hashApiKey(tokens.viewer) }] },
      { id: 'bob', role: 'operator', tokens: [{ id: 't1', sha256: hashApiKey(tokens.operator) }] },
    ],
  }),
);

const servers: GrpcServer[] = [];
async function serve(options: GrpcServerOptions): Promise<number> {
  const server = new GrpcServer(
    SERVICE,
    { path: protoPath, includeDirs: [] },
    definition,
    { read: echo, act: echo },
    options,
  );
  servers.push(server);
  return server.listen('127.0.0.1', 0);
}
afterAll(async () => {
  for (const s of servers) await s.close();
});

/** Calls a method; resolves to the gRPC status code (OK = 0). */
function callWith(client: grpc.Client, method: 'read' | 'act', token?: string): Promise<grpc.status> {
  const metadata = new grpc.Metadata();
  if (token) metadata.set('authorization', `Bearer ${token}`);
  const deadline = Date.now() + 5_000;
  return new Promise((resolve) =>
    (client as unknown as Record<string, (...a: unknown[]) => void>)[method]!(
      Buffer.alloc(0),
      metadata,
      { deadline },
      (error: grpc.ServiceError | null) => resolve(error ? error.code : grpc.status.OK),
    ),
  );
}

const certs = makeTestCertificates('Tern test CA one');
const trusting = (ca = certs.caCert, client?: { cert: string; key: string }) =>
  grpc.credentials.createSsl(
    certs.read(ca),
    client ? certs.read(client.key) : null,
    client ? certs.read(client.cert) : null,
  );

describe('a gRPC server with TLS configured', () => {
  it('refuses a plaintext client and serves one that trusts its CA', async () => {
    const port = await serve({
      tls: { certFile: certs.serverCert, keyFile: certs.serverKey, reloadMs: 60_000 },
    });
    const plain = new OpsClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    const tls = new OpsClient(`127.0.0.1:${port}`, trusting());
    try {
      expect(await callWith(plain, 'read')).toBe(grpc.status.UNAVAILABLE);
      expect(await callWith(tls, 'read')).toBe(grpc.status.OK);
    } finally {
      plain.close();
      tls.close();
    }
  });

  it('with a client CA, serves only clients whose certificate it signed (mutual TLS)', async () => {
    const port = await serve({
      tls: {
        certFile: certs.serverCert,
        keyFile: certs.serverKey,
        clientCaFile: certs.caCert,
        reloadMs: 60_000,
      },
    });
    const anonymous = new OpsClient(`127.0.0.1:${port}`, trusting());
    const stranger = makeTestCertificates('Someone else CA');
    const foreign = new OpsClient(
      `127.0.0.1:${port}`,
      grpc.credentials.createSsl(
        certs.read(certs.caCert),
        stranger.read(stranger.clientKey),
        stranger.read(stranger.clientCert),
      ),
    );
    const known = new OpsClient(
      `127.0.0.1:${port}`,
      trusting(certs.caCert, { cert: certs.clientCert, key: certs.clientKey }),
    );
    try {
      expect(await callWith(anonymous, 'read')).toBe(grpc.status.UNAVAILABLE);
      expect(await callWith(foreign, 'read')).toBe(grpc.status.UNAVAILABLE);
      expect(await callWith(known, 'read')).toBe(grpc.status.OK);
    } finally {
      for (const c of [anonymous, foreign, known]) c.close();
    }
  });

  it('presents a rotated certificate to new connections without a restart', async () => {
    // As a Kubernetes Secret volume rotates: the files are links through `..data`, swapped in one rename.
    const live = mkdtempSync(join(tmpdir(), 'tern-grpc-rotation-'));
    const publish = (version: string, from: TestCertificates) => {
      mkdirSync(join(live, version));
      copyFileSync(from.serverCert, join(live, version, 'tls.crt'));
      copyFileSync(from.serverKey, join(live, version, 'tls.key'));
      symlinkSync(version, join(live, '..data_tmp'));
      renameSync(join(live, '..data_tmp'), join(live, '..data'));
    };
    publish('v1', certs);
    for (const file of ['tls.crt', 'tls.key']) symlinkSync(join('..data', file), join(live, file));
    const port = await serve({
      tls: { certFile: join(live, 'tls.crt'), keyFile: join(live, 'tls.key'), reloadMs: 1000 },
    });
    const issuer = () =>
      new Promise<string>((resolve, reject) => {
        const socket = connect(
          { host: '127.0.0.1', port, ALPNProtocols: ['h2'], rejectUnauthorized: false },
          () => {
            resolve(String(socket.getPeerCertificate().issuer.CN));
            socket.destroy();
          },
        );
        socket.on('error', reject);
      });
    expect(await issuer()).toBe('Tern test CA one');

    const renewed = makeTestCertificates('Tern test CA two');
    publish('v2', renewed);
    await waitFor(
      'the renewed certificate to be served',
      async () => (await issuer()) === 'Tern test CA two',
      10_000,
    );
    const client = new OpsClient(
      `127.0.0.1:${port}`,
      grpc.credentials.createSsl(renewed.read(renewed.caCert)),
    );
    try {
      expect(await callWith(client, 'read')).toBe(grpc.status.OK);
    } finally {
      client.close();
    }
  });
});

describe("an operators' API", () => {
  let client: grpc.Client;
  let health: grpc.Client;
  beforeAll(async () => {
    const port = await serve({
      guard: operatorGuard(SERVICE, OperatorDirectory.load(operatorsFile), { Read: 'viewer' }),
    });
    client = new OpsClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    const Health = grpc.makeGenericClientConstructor(
      { check: rawUnaryMethod('/grpc.health.v1.Health/Check') },
      'Health',
    );
    health = new Health(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  });
  afterAll(() => {
    client.close();
    health.close();
  });

  it('refuses a call without a token, or with a token it does not know, such as a tenant’s API key', async () => {
    expect(await callWith(client, 'read')).toBe(grpc.status.UNAUTHENTICATED);
    expect(await callWith(client, 'read', 'not-a-token')).toBe(grpc.status.UNAUTHENTICATED);
    expect(await callWith(client, 'read', tokens.tenantApiKey)).toBe(grpc.status.UNAUTHENTICATED);
  });

  it('lets a viewer read but not act; an operator does both', async () => {
    expect(await callWith(client, 'read', tokens.viewer)).toBe(grpc.status.OK);
    // Act is not in the roles given: an unlisted method needs the strongest role.
    expect(await callWith(client, 'act', tokens.viewer)).toBe(grpc.status.PERMISSION_DENIED);
    expect(await callWith(client, 'read', tokens.operator)).toBe(grpc.status.OK);
    expect(await callWith(client, 'act', tokens.operator)).toBe(grpc.status.OK);
  });

  it('keeps health checking open to probes without a token', async () => {
    // An empty HealthCheckRequest (service ""): SERVING is field 1 = 1.
    const response = await new Promise<Buffer>((resolve, reject) =>
      (health as unknown as Record<string, (...a: unknown[]) => void>)['check']!(
        Buffer.alloc(0),
        (error: grpc.ServiceError | null, r: Buffer) => (error ? reject(error) : resolve(r)),
      ),
    );
    expect([...response]).toEqual([0x08, 0x01]);
  });
});
