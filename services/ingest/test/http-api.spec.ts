import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { request } from 'node:https';
import { join } from 'node:path';
import { topics } from '@tern/kafka';
import {
  ensurePlatformTopics,
  infraFromEnv,
  makeTestCertificates,
  startServiceProcess,
  testClusterName,
  uniqueName,
  waitFor,
  type ServiceProcess,
} from '@tern/testing';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import { smsOpenApi } from '../src/http-api';
import { tenantsFile, type TestTenant } from './client';

// The HTTP/JSON API as a customer's backend calls it: HTTPS with the gRPC certificate, proto3 JSON in and
// out, problem+json errors; checked with Node's own https client and with curl.
const infra = infraFromEnv();
const run = uniqueName('http');
const acme: TestTenant = {
  id: `hacme-${run.slice(-6)}`,
  apiKey: `key-hacme-${run}`,
  eventKeyId: 'ev1',
  eventSecret: `secret-hacme-${run}`,
  perSecond: 1000,
  burst: 2000,
};
const globex: TestTenant = { ...acme, id: `hglobex-${run.slice(-6)}`, apiKey: `key-hglobex-${run}` };
const slow: TestTenant = {
  ...acme,
  id: `hslow-${run.slice(-6)}`,
  apiKey: `key-hslow-${run}`,
  perSecond: 0.2,
  burst: 2,
};
/** Sends whatever schemathesis makes of the OpenAPI document: a rate no run reaches. */
const fuzzer: TestTenant = {
  ...acme,
  id: `hfuzz-${run.slice(-6)}`,
  apiKey: `key-hfuzz-${run}`,
  perSecond: 100_000,
  burst: 100_000,
};
/** schemathesis from PyPI, installed by scripts/setup.sh. */
const SCHEMATHESIS = join(__dirname, '../../../.tools/schemathesis/bin/schemathesis');
const SEED = Number(process.env['TERN_SCHEMATHESIS_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
const certs = makeTestCertificates();
let service: ServiceProcess;
let port: number;
let watcher: Consumer;
const acceptedIds = new Set<string>();

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

/** One HTTPS call trusting the test CA; the body is sent as JSON unless a string is given. */
function call(
  method: string,
  path: string,
  options: { key?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const payload =
    options.body === undefined
      ? undefined
      : typeof options.body === 'string'
        ? options.body
        : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        ca: readFileSync(certs.caCert),
        servername: 'localhost',
        headers: {
          ...(payload !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(options.key ? { 'x-api-key': options.key } : {}),
          ...options.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
          });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const otp = (over: Record<string, unknown> = {}) => ({
  to: '+6281234567890',
  from: 'Acme',
  body: 'Your code is 123456',
  type: 'MESSAGE_TYPE_OTP',
  ...over,
});

beforeAll(async () => {
  await ensurePlatformTopics();
  const kafka = new Kafka({ clientId: run, brokers: infra.kafkaBrokers, logLevel: logLevel.NOTHING });
  watcher = kafka.consumer({ groupId: `${run}-watch`, sessionTimeout: 10_000 });
  await watcher.connect();
  await watcher.subscribe({ topic: testClusterName(topics.accepted.name), fromBeginning: false });
  let joined = false;
  watcher.on(watcher.events.GROUP_JOIN, () => (joined = true));
  await watcher.run({
    eachMessage: async ({ message }) => {
      const id = topics.accepted.codec.decode(message.value!).message?.messageId;
      if (id) acceptedIds.add(id);
    },
  });
  await waitFor('the watcher to join', () => joined);
  const tenants = tenantsFile([acme, globex, slow, fuzzer]);
  service = await startServiceProcess(join(__dirname, '..', 'dist', 'main.js'), {
    ...tenants.env,
    TERN_KAFKA_BROKERS: infra.kafkaBrokers.join(','),
    TERN_REDIS_URL: infra.redisUrl,
    TERN_TENANTS_FILE: tenants.path,
    TERN_GRPC_PORT: '0',
    TERN_API_HTTP_PORT: '0',
    TERN_SMPP_PORT: '0',
    TERN_SMPP_TLS_PORT: '0',
    TERN_INGEST_DEPLOYMENT: 'ingest-http-test',
    TERN_KAFKA_SESSION_TIMEOUT_MS: '10000',
    TERN_GRPC_TLS_CERT_FILE: certs.serverCert,
    TERN_GRPC_TLS_KEY_FILE: certs.serverKey,
  });
  port = await waitFor(
    'the HTTP API port',
    () => service.logs.find((l) => l['msg'] === 'HTTP API listening')?.['apiHttpPort'] as number | undefined,
  );
  await waitFor('ingest to be ready', async () => (await service.ready()).status === 200);
});

afterAll(async () => {
  expect(await service?.stop()).toBe(0);
  await watcher?.disconnect();
});

describe('HTTP/JSON API', () => {
  it('accepts a message once per Idempotency-Key, publishes it, and reads it back', async () => {
    const key = `otp-${run}-1`;
    const first = await call('POST', '/v1/messages', {
      key: acme.apiKey,
      body: otp(),
      headers: { 'Idempotency-Key': key },
    });
    expect(first.status).toBe(200);
    expect(first.headers['content-type']).toBe('application/json');
    expect(first.body).toEqual({
      messageId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      status: 'MESSAGE_STATUS_ACCEPTED',
      duplicate: false,
      encoding: 'ENCODING_GSM7',
      segments: 1,
      country: 'ID',
    });
    const id = first.body['messageId'] as string;
    const repeat = await call('POST', '/v1/messages', {
      key: acme.apiKey,
      body: otp(),
      headers: { 'Idempotency-Key': key },
    });
    expect(repeat.body).toMatchObject({ messageId: id, duplicate: true });
    // The same key as client_reference in the body is the same message; the key elsewhere is another.
    const asField = await call('POST', '/v1/messages', {
      key: acme.apiKey,
      body: otp({ clientReference: key }),
    });
    expect(asField.body).toMatchObject({ messageId: id, duplicate: true });

    await waitFor('sms.accepted', () => acceptedIds.has(id));
    const read = await waitFor('the message view', async () => {
      const reply = await call('GET', `/v1/messages/${id}`, {
        headers: { authorization: `Bearer ${acme.apiKey}` },
      });
      return reply.status === 200 && reply;
    });
    expect(read.body).toMatchObject({
      messageId: id,
      clientReference: key,
      to: '+6281234567890',
      type: 'MESSAGE_TYPE_OTP',
      status: 'MESSAGE_STATUS_ACCEPTED',
      country: 'ID',
      acceptedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    // Another tenant's message does not exist for it.
    const foreign = await call('GET', `/v1/messages/${id}`, { key: globex.apiKey });
    expect(foreign.status).toBe(404);
    expect(foreign.body).toMatchObject({ status: 404, code: 'NOT_FOUND' });
  });

  it('refuses a reused key with other content (409), and a key that contradicts client_reference (400)', async () => {
    const key = `otp-${run}-reuse`;
    await call('POST', '/v1/messages', {
      key: acme.apiKey,
      body: otp(),
      headers: { 'Idempotency-Key': key },
    });
    const reused = await call('POST', '/v1/messages', {
      key: acme.apiKey,
      body: otp({ body: 'another text' }),
      headers: { 'Idempotency-Key': key },
    });
    expect(reused.status).toBe(409);
    expect(reused.headers['content-type']).toBe('application/problem+json');
    expect(reused.body).toMatchObject({
      code: 'IDEMPOTENCY_KEY_REUSED',
      violations: [{ field: 'client_reference' }],
    });
    const mismatch = await call('POST', '/v1/messages', {
      key: acme.apiKey,
      body: otp({ clientReference: 'other' }),
      headers: { 'Idempotency-Key': key },
    });
    expect(mismatch.status).toBe(400);
    expect(mismatch.body).toMatchObject({
      code: 'IDEMPOTENCY_KEY_MISMATCH',
      violations: [{ field: 'client_reference' }],
    });
  });

  it.each([
    ['to', 'NOT_E164', { to: '08123456789' }],
    ['from', 'INVALID_SENDER', { from: 'Bad!Sender' }],
    ['validity', 'INVALID_VALIDITY', { validity: '5s' }],
  ])('answers 400 problem+json naming %s with %s', async (field, code, over) => {
    const refused = await call('POST', '/v1/messages', { key: acme.apiKey, body: otp(over) });
    expect(refused.status).toBe(400);
    expect(refused.headers['content-type']).toBe('application/problem+json');
    expect(refused.body).toMatchObject({ type: 'about:blank', title: 'Bad Request', status: 400, code });
    expect(refused.body['violations']).toEqual([{ field, description: expect.stringContaining(code) }]);
  });

  it.each([
    ['an unknown key', otp({ colour: 'red' }), 'colour'],
    ['a number for a string', otp({ body: 42 }), 'body'],
    ['a duration not in seconds', otp({ validity: '5 minutes' }), 'validity'],
  ])('reads JSON strictly: %s is refused naming the field', async (_, body, field) => {
    const refused = await call('POST', '/v1/messages', { key: acme.apiKey, body });
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ code: 'INVALID_JSON', violations: [{ field }] });
  });

  it('refuses what is not a JSON request, without a key, or at no API', async () => {
    expect((await call('POST', '/v1/messages', { key: acme.apiKey, body: '{"to":' })).body).toMatchObject({
      status: 400,
      code: 'INVALID_JSON',
    });
    const form = await call('POST', '/v1/messages', {
      key: acme.apiKey,
      body: 'to=1',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(form.status).toBe(415);
    const anonymous = await call('POST', '/v1/messages', { body: otp() });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers['www-authenticate']).toBe('ApiKey header="x-api-key"');
    expect(anonymous.body).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect((await call('POST', '/v1/messages', { key: 'nope', body: otp() })).status).toBe(401);
    expect((await call('GET', '/v2/anything', { key: acme.apiKey })).status).toBe(404);
    expect((await call('GET', '/v1/messages/%E0%A4%A', { key: acme.apiKey })).status).toBe(404);
    const wrongVerb = await call('DELETE', '/v1/messages', { key: acme.apiKey });
    expect(wrongVerb.status).toBe(405);
    expect(wrongVerb.body).toMatchObject({ code: 'METHOD_NOT_ALLOWED' });
  });

  it('answers a batch item by item; Idempotency-Key is for single messages', async () => {
    const batch = await call('POST', '/v1/messages:batch', {
      key: acme.apiKey,
      body: { messages: [otp({ clientReference: `b-${run}-1` }), otp({ to: '08123' })] },
    });
    expect(batch.status).toBe(200);
    const results = batch.body['results'] as Record<string, unknown>[];
    expect(results).toHaveLength(2);
    expect(results[0]).toMatchObject({ index: 0, accepted: { status: 'MESSAGE_STATUS_ACCEPTED' } });
    expect(results[1]).toMatchObject({
      index: 1,
      error: { code: 'NOT_E164', violations: [{ field: 'messages[1].to' }] },
    });
    const keyed = await call('POST', '/v1/messages:batch', {
      key: acme.apiKey,
      body: { messages: [otp()] },
      headers: { 'Idempotency-Key': 'k' },
    });
    expect(keyed.body).toMatchObject({ status: 400, code: 'IDEMPOTENCY_KEY_NOT_APPLICABLE' });
  });

  it('answers 429 with Retry-After past the tenant’s send rate', async () => {
    const replies = [];
    for (let i = 0; i < 3; i++)
      replies.push(await call('POST', '/v1/messages', { key: slow.apiKey, body: otp() }));
    expect(replies.slice(0, 2).map((r) => r.status)).toEqual([200, 200]);
    expect(replies[2]!.status).toBe(429);
    expect(Number(replies[2]!.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(replies[2]!.body).toMatchObject({ code: 'RATE_LIMITED', retryAfterMs: expect.any(Number) });
  });

  it('serves its OpenAPI document, the one kept in docs/api, and works from curl', async () => {
    const served = await call('GET', '/v1/openapi.json');
    expect(served.status).toBe(200);
    expect(served.body).toEqual(smsOpenApi());
    const kept = JSON.parse(
      readFileSync(join(__dirname, '../../../docs/api/openapi.json'), 'utf8'),
    ) as unknown;
    // Out of date: `pnpm --filter @tern/ingest openapi` writes it again.
    expect(kept).toEqual(served.body);
    const paths = served.body['paths'] as Record<string, Record<string, { operationId: string }>>;
    expect(paths['/v1/messages']?.['post']?.operationId).toBe('SendMessage');
    expect(paths['/v1/messages:batch']?.['post']?.operationId).toBe('SendBatch');
    expect(paths['/v1/messages/{message_id}']?.['get']?.operationId).toBe('GetMessage');

    const curl = execFileSync(
      'curl',
      [
        '-sS',
        '--cacert',
        certs.caCert,
        '-H',
        `x-api-key: ${acme.apiKey}`,
        '-H',
        'content-type: application/json',
        '-d',
        JSON.stringify(otp({ clientReference: `curl-${run}` })),
        `https://localhost:${port}/v1/messages`,
      ],
      { encoding: 'utf8' },
    );
    expect(JSON.parse(curl)).toMatchObject({ status: 'MESSAGE_STATUS_ACCEPTED', duplicate: false });
  });

  it('holds to its OpenAPI document under schemathesis: no server error, every answer as documented', () => {
    const result = spawnSync(
      SCHEMATHESIS,
      [
        'run',
        `https://localhost:${port}/v1/openapi.json`,
        '--tls-verify',
        certs.caCert,
        '--header',
        `x-api-key: ${fuzzer.apiKey}`,
        '--checks',
        'not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,negative_data_rejection',
        '--max-examples',
        '40',
        '--seed',
        String(SEED),
        '--no-color',
      ],
      // Its example database goes to a folder of its own, not the repository.
      { encoding: 'utf8', timeout: 100_000, cwd: mkdtempSync(join(tmpdir(), 'schemathesis-')) },
    );
    // The seed is printed so a failure can be replayed exactly.
    expect({ seed: SEED, status: result.status, output: result.status === 0 ? '' : result.stdout }).toEqual({
      seed: SEED,
      status: 0,
      output: '',
    });
  });
});
