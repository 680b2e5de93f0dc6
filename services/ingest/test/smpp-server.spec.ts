import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect as connectTcp, type Socket } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { hashPassword } from '@tern/config';
import { events, sms } from '@tern/contracts';
import { KafkaClient, topics } from '@tern/kafka';
import { createLogger } from '@tern/telemetry';
import {
  ensurePlatformTopics,
  infraFromEnv,
  makeTestCertificates,
  startServiceProcess,
  testClusterName,
  testNamespace,
  uniqueName,
  waitFor,
  type ServiceProcess,
} from '@tern/testing';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import * as smpp from 'smpp';
import { parseMessageId } from '../src/domain/smpp-submit';
import { tenantsFile, type TestTenant } from './client';

// Tern's SMPP server as customers' ESMEs use it, with two SMPP implementations that are not Tern's: the npm
// `smpp` package and Python's smpplib (PyPI). Real ingest, Kafka and Redis; the test stands in for dlr by
// publishing final statuses on sms.status, and reads what Tern accepted from sms.accepted.
const infra = infraFromEnv();
const run = uniqueName('smpp');
const short = run.slice(-6);
const PASSWORD = 'Pa55w0rd';
const PYTHON = join(__dirname, '../../../.tools/smpplib/bin/python');

const acme: TestTenant = {
  id: `sacme-${short}`,
  apiKey: `key-sacme-${run}`,
  eventKeyId: 'ev1',
  eventSecret: `secret-sacme-${run}`,
  perSecond: 1000,
  burst: 2000,
};
const slow: TestTenant = {
  ...acme,
  id: `sslow-${short}`,
  apiKey: `key-sslow-${run}`,
  perSecond: 0.2,
  burst: 2,
};
const ids = {
  acme: `acme${short}`,
  decimal: `acmedec${short}`,
  narrow: `acmenar${short}`,
  python: `acmepy${short}`,
  slow: `slow${short}`,
};

const certs = makeTestCertificates();
let service: ServiceProcess;
/** The ingest process's environment, for a second instance beside it. */
let environment: Record<string, string>;
let port: number;
let tlsPort: number;
let watcher: Consumer;
let statusProducer: KafkaClient;
const accepted = new Map<string, events.SmsMessage>();

/** An ESME on the npm `smpp` package: requests awaited, receipts collected (and refused when asked). */
class NpmEsme {
  readonly receipts: smpp.PDU[] = [];
  /** deliver_sm to refuse (ESME_RSYSERR) before taking them again. */
  refuse = 0;
  private constructor(readonly session: smpp.Session) {
    session.on('deliver_sm', (pdu: smpp.PDU) => {
      if (this.refuse > 0) {
        this.refuse--;
        session.send(pdu.response({ command_status: 0x08 }));
        return;
      }
      this.receipts.push(pdu);
      session.send(pdu.response());
    });
    session.on('error', () => undefined);
  }

  static open(options: { tls?: boolean; port?: number } = {}): Promise<NpmEsme> {
    return new Promise((resolve, reject) => {
      const session = options.tls
        ? smpp.connect(
            { url: `ssmpp://127.0.0.1:${tlsPort}`, ca: readFileSync(certs.caCert), servername: 'localhost' },
            () => resolve(new NpmEsme(session)),
          )
        : smpp.connect({ url: `smpp://127.0.0.1:${options.port ?? port}` }, () =>
            resolve(new NpmEsme(session)),
          );
      session.once('error', reject);
    });
  }

  request(command: string, fields: Record<string, unknown> = {}): Promise<smpp.PDU> {
    return new Promise((resolve, reject) => {
      if (!this.session.send(new smpp.PDU(command, fields), resolve)) reject(new Error('session closed'));
    });
  }

  async bind(systemId: string, mode = 'transceiver', password = PASSWORD): Promise<number> {
    return (await this.request(`bind_${mode}`, { system_id: systemId, password })).command_status;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.session.close(resolve));
  }
}

const submit = (over: Record<string, unknown> = {}) => ({
  source_addr_ton: 5,
  source_addr: 'Acme',
  dest_addr_ton: 1,
  dest_addr_npi: 1,
  destination_addr: '6281234567890',
  registered_delivery: 1,
  short_message: 'Your code is 123456',
  ...over,
});

/** A bound transceiver of `systemId`. */
async function bound(systemId: string, options: { tls?: boolean } = {}): Promise<NpmEsme> {
  const esme = await NpmEsme.open(options);
  expect(await esme.bind(systemId)).toBe(0);
  return esme;
}

/** The message Tern accepted under the id a submit_sm_resp gave, written in `format`. */
async function acceptedAs(
  id: string,
  format: 'uuid' | 'hex' | 'decimal' = 'uuid',
): Promise<events.SmsMessage> {
  const messageId = parseMessageId(id, format);
  if (!messageId) throw new Error(`${id} is not a ${format} message id`);
  return waitFor(`sms.accepted of ${messageId}`, () => accepted.get(messageId));
}

/** Publishes a message's final status as dlr would. */
async function finish(
  messageId: string,
  status: sms.MessageStatus,
  errorCode = status === sms.MessageStatus.MESSAGE_STATUS_DELIVERED ? '000' : '001',
): Promise<void> {
  await statusProducer.producer().send(topics.status, [
    {
      ...sms.StatusEvent.fromPartial({ messageId, tenantId: acme.id }),
      status,
      attempt: 1,
      channelId: 'direct-1',
      errorCode,
      occurredAt: new Date(),
    },
  ]);
}

const RECEIPT =
  /^id:(\S+) sub:001 dlvrd:(\d{3}) submit date:\d{10} done date:\d{10} stat:(\w+) err:(\d{3}) text:$/;

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
      const m = topics.accepted.codec.decode(message.value!).message;
      if (m) accepted.set(m.messageId, m);
    },
  });
  await waitFor('the watcher to join', () => joined);
  statusProducer = new KafkaClient({
    brokers: infra.kafkaBrokers,
    clientId: `${run}-dlr`,
    logger: createLogger({ service: 'smpp-test', level: 'warn' }),
    topicNamespace: testNamespace(),
  });
  await statusProducer.producer().connect();

  const passwordHash = await hashPassword(PASSWORD);
  acme.smppAccounts = [
    { systemId: ids.acme, passwordHash, maxBinds: 3 },
    { systemId: ids.decimal, passwordHash, messageIdFormat: 'decimal' },
    { systemId: ids.narrow, passwordHash, window: 1 },
    { systemId: ids.python, passwordHash, messageIdFormat: 'hex' },
  ];
  slow.smppAccounts = [{ systemId: ids.slow, passwordHash }];
  const tenants = tenantsFile([acme, slow]);
  environment = {
    ...tenants.env,
    TERN_KAFKA_BROKERS: infra.kafkaBrokers.join(','),
    TERN_REDIS_URL: infra.redisUrl,
    TERN_TENANTS_FILE: tenants.path,
    TERN_GRPC_PORT: '0',
    TERN_API_HTTP_PORT: '0',
    TERN_SMPP_PORT: '0',
    TERN_SMPP_TLS_PORT: '0',
    TERN_INGEST_DEPLOYMENT: 'ingest-smpp-test',
    TERN_KAFKA_SESSION_TIMEOUT_MS: '10000',
    TERN_GRPC_TLS_CERT_FILE: certs.serverCert,
    TERN_GRPC_TLS_KEY_FILE: certs.serverKey,
  };
  service = await startServiceProcess(join(__dirname, '..', 'dist', 'main.js'), environment);
  const listening = await waitFor('the SMPP ports', () =>
    service.logs.find((l) => l['msg'] === 'SMPP server listening'),
  );
  port = listening['port'] as number;
  tlsPort = listening['tlsPort'] as number;
  await waitFor('ingest to be ready', async () => (await service.ready()).status === 200);
});

afterAll(async () => {
  expect(await service?.stop()).toBe(0);
  await watcher?.disconnect();
  await statusProducer?.disconnect();
});

describe('SMPP server', () => {
  it('binds each account with its own password, within its bind limit; nothing is taken before a bind', async () => {
    const esme = await NpmEsme.open();
    expect((await esme.request('submit_sm', submit())).command_status).toBe(0x04); // ESME_RINVBNDSTS
    expect(await esme.bind(`nobody${short}`)).toBe(0x0f); // ESME_RINVSYSID
    expect(await esme.bind(ids.acme, 'transceiver', 'wrong')).toBe(0x0e); // ESME_RINVPASWD
    // Another tenant's account with this tenant's password is still another account.
    expect(await esme.bind(ids.slow, 'transceiver', 'Pa55w0rX')).toBe(0x0e);
    expect(await esme.bind(ids.acme, 'receiver')).toBe(0);
    expect(await esme.bind(ids.acme)).toBe(0x05); // ESME_RALYBND
    // A receiver does not submit.
    expect((await esme.request('submit_sm', submit())).command_status).toBe(0x04);
    const more = [await NpmEsme.open(), await NpmEsme.open(), await NpmEsme.open()];
    const statuses = [];
    for (const m of more) statuses.push(await m.bind(ids.acme, 'transmitter'));
    // maxBinds 3: the receiver above and two more.
    expect(statuses).toEqual([0, 0, 0x0d]); // ESME_RBINDFAIL
    expect((await esme.request('enquire_link')).command_status).toBe(0);

    // The limit holds over every instance: another ingest on the same Redis has no bind left to give...
    const second = await startServiceProcess(join(__dirname, '..', 'dist', 'main.js'), {
      ...environment,
      TERN_INGEST_DEPLOYMENT: 'ingest-smpp-test-2',
    });
    const secondPort = (
      await waitFor('the second SMPP port', () =>
        second.logs.find((l) => l['msg'] === 'SMPP server listening'),
      )
    )['port'] as number;
    const elsewhere = await NpmEsme.open({ port: secondPort });
    expect(await elsewhere.bind(ids.acme, 'transmitter')).toBe(0x0d);
    // ...until one of the first instance's binds ends.
    await more[0]!.close();
    await waitFor('a bind freed on the other instance', async () => {
      const esmeThere = await NpmEsme.open({ port: secondPort });
      const status = await esmeThere.bind(ids.acme, 'transmitter');
      if (status !== 0) await esmeThere.close();
      return status === 0 && esmeThere;
    }).then((bound) => bound.close());
    await elsewhere.close();
    expect(await second.stop()).toBe(0);
    await Promise.all([esme, ...more.slice(1)].map((m) => m.close()));
  });

  it('accepts submit_sm in GSM, IA5, Latin-1 and UCS-2 and in message_payload, answering the Tern message id', async () => {
    const esme = await bound(ids.acme);
    const cases: { fields: Record<string, unknown>; body: string }[] = [
      // The package picks the data_coding itself from the text.
      { fields: { short_message: 'Your code is 123456' }, body: 'Your code is 123456' },
      { fields: { short_message: 'Açaí pronto às 18h' }, body: 'Açaí pronto às 18h' },
      { fields: { short_message: 'Ваш код 4821' }, body: 'Ваш код 4821' },
      // GSM with extension characters (ESC + code), written by hand.
      {
        fields: { data_coding: 0, short_message: Buffer.from([0x1b, 0x65, 0x31, 0x30, 0x20, 0x1b, 0x28]) },
        body: '€10 {',
      },
      {
        fields: {
          short_message: '',
          data_coding: 8,
          message_payload: Buffer.from('長い'.repeat(120), 'utf16le').swap16(),
        },
        body: '長い'.repeat(120),
      },
    ];
    for (const c of cases) {
      const resp = await esme.request('submit_sm', submit(c.fields));
      expect(resp.command_status).toBe(0);
      const message = await acceptedAs(resp['message_id'] as string);
      expect(message).toMatchObject({ tenantId: acme.id, to: '+6281234567890', from: 'Acme', body: c.body });
    }
    const otp = await acceptedAs(
      (await esme.request('submit_sm', submit({ service_type: 'OTP' })))['message_id'] as string,
    );
    expect(otp.type).toBe(sms.MessageType.MESSAGE_TYPE_OTP);
    // A relative validity_period of 5 minutes becomes the message's validity.
    const timed = await acceptedAs(
      (await esme.request('submit_sm', submit({ validity_period: '000000000500000R' })))[
        'message_id'
      ] as string,
    );
    const validityMs = timed.expiresAt!.getTime() - timed.acceptedAt!.getTime();
    expect(Math.abs(validityMs - 5 * 60_000)).toBeLessThan(2000);
    await esme.close();
  });

  it('joins UDH (8- and 16-bit) and SAR parts into one message, every part answered with its id', async () => {
    const esme = await bound(ids.acme);
    const text = 'Part one of a long notice; '.repeat(7) + 'the end.';
    const cut = [text.slice(0, 150), text.slice(150)];
    const udh8 = (i: number) => Buffer.from([5, 0, 3, 0x31, 2, i + 1]);
    const udh16 = (i: number) => Buffer.from([6, 8, 4, 0x12, 0x34, 2, i + 1]);
    for (const udh of [udh8, udh16]) {
      const answers = [];
      for (const [i, part] of cut.entries()) {
        const resp = await esme.request(
          'submit_sm',
          submit({
            esm_class: 0x40,
            data_coding: 0,
            short_message: Buffer.concat([udh(i), Buffer.from(part)]),
          }),
        );
        answers.push({ status: resp.command_status, id: resp['message_id'] });
      }
      expect(answers.map((a) => a.status)).toEqual([0, 0]);
      expect(answers[1]!.id).toBe(answers[0]!.id);
      expect((await acceptedAs(answers[0]!.id as string)).body).toBe(text);
    }
    const sar: string[] = [];
    // The parts out of order: the message is whole once the last one is in, whichever it is.
    for (const i of [1, 0]) {
      const resp = await esme.request(
        'submit_sm',
        submit({
          short_message: Buffer.from(cut[i]!),
          data_coding: 1,
          sar_msg_ref_num: 700,
          sar_total_segments: 2,
          sar_segment_seqnum: i + 1,
        }),
      );
      sar.push(resp['message_id'] as string);
    }
    expect(sar[0]).toBe(sar[1]);
    expect((await acceptedAs(sar[0]!)).body).toBe(text);
    await esme.close();
  });

  it('answers every refusal with the command_status that says why', async () => {
    const esme = await bound(ids.acme);
    const status = async (fields: Record<string, unknown>) =>
      (await esme.request('submit_sm', submit(fields))).command_status;
    expect(await status({ destination_addr: 'not-a-number' })).toBe(0x0b); // ESME_RINVDSTADR
    expect(await status({ dest_addr_ton: 5 })).toBe(0x50); // ESME_RINVDSTTON
    expect(await status({ destination_addr: '999123456789' })).toBe(0x0b); // no such country: Tern's rule
    expect(await status({ source_addr: 'FarTooLongSender' })).toBe(0x0a); // ESME_RINVSRCADR
    expect(await status({ source_addr: '' })).toBe(0x0a);
    expect(await status({ data_coding: 4, short_message: Buffer.from([1, 2, 3]) })).toBe(0x104); // ESME_RINVDCS
    expect(await status({ data_coding: 8, short_message: Buffer.from([0x04]) })).toBe(0x104);
    expect(await status({ esm_class: 0x40, short_message: Buffer.from([9, 0, 3, 1]) })).toBe(0x43); // ESME_RINVESMCLASS
    expect(await status({ service_type: 'XYZ' })).toBe(0x15); // ESME_RINVSERTYP
    expect(await status({ validity_period: '2601011200000X' })).toBe(0x62); // ESME_RINVEXPIRY
    expect(await status({ validity_period: '000000000000100R' })).toBe(0x62); // 10 s: below Tern's minute
    expect(await status({ schedule_delivery_time: 'soon' })).toBe(0x61); // ESME_RINVSCHED
    expect(await status({ registered_delivery: 3 })).toBe(0x63); // ESME_RINVREGDLVFLG
    expect(await status({ short_message: 'x'.repeat(160), data_coding: 1 })).toBe(0);
    expect(
      (await esme.request('data_sm', { source_addr: 'Acme', destination_addr: '6281234567890' }))
        .command_status,
    ).toBe(0x03); // ESME_RINVCMDID
    await esme.close();
  });

  it('throttles with ESME_RTHROTTLED above the tenant rate and above the account window', async () => {
    const slowEsme = await bound(ids.slow);
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await slowEsme.request('submit_sm', submit())).command_status);
    expect(statuses).toEqual([0, 0, 0x58, 0x58]);
    await slowEsme.close();

    // Window 1: of twenty sent at once, the ones that come while one is in hand are throttled.
    const narrow = await bound(ids.narrow);
    const burst = await Promise.all(
      Array.from({ length: 20 }, () => narrow.request('submit_sm', submit({ registered_delivery: 0 }))),
    );
    const counts = { ok: 0, throttled: 0 };
    for (const r of burst) {
      if (r.command_status === 0) counts.ok++;
      else if (r.command_status === 0x58) counts.throttled++;
    }
    expect(counts.ok).toBeGreaterThan(0);
    expect(counts.throttled).toBeGreaterThan(0);
    expect(counts.ok + counts.throttled).toBe(20);
    await narrow.close();
  });

  it('sends receipts back as deliver_sm, Appendix B text and TLVs, to the account that submitted, with its ids', async () => {
    // Another account of the same tenant, bound to receive all along: none of these receipts is its.
    const bystander = await bound(ids.narrow);
    for (const [systemId, format] of [
      [ids.acme, 'uuid'],
      [ids.decimal, 'decimal'],
    ] as const) {
      const esme = await bound(systemId);
      const delivered = (await esme.request('submit_sm', submit()))['message_id'] as string;
      const failed = (await esme.request('submit_sm', submit({ destination_addr: '6281234567891' })))[
        'message_id'
      ] as string;
      // Failures only: no receipt for the delivered one.
      const failuresOnly = (await esme.request('submit_sm', submit({ registered_delivery: 2 })))[
        'message_id'
      ] as string;
      if (format === 'decimal') expect(delivered).toMatch(/^\d{1,39}$/);
      await finish(
        (await acceptedAs(delivered, format)).messageId,
        sms.MessageStatus.MESSAGE_STATUS_DELIVERED,
      );
      await finish(
        (await acceptedAs(failed, format)).messageId,
        sms.MessageStatus.MESSAGE_STATUS_UNDELIVERED,
      );
      await finish(
        (await acceptedAs(failuresOnly, format)).messageId,
        sms.MessageStatus.MESSAGE_STATUS_DELIVERED,
      );
      await waitFor(`receipts for ${systemId}`, () => esme.receipts.length >= 2);
      // Anything owed would have come with the others.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(esme.receipts).toHaveLength(2);
      const seen = esme.receipts.map((r) => {
        const text = (r['short_message'] as { message: string }).message;
        const m = RECEIPT.exec(text);
        return {
          esmClass: r['esm_class'],
          receiptedId: r['receipted_message_id'],
          state: r['message_state'],
          source: r['source_addr'],
          destination: r['destination_addr'],
          text: m && { id: m[1], dlvrd: m[2], stat: m[3], err: m[4] },
        };
      });
      expect(seen).toEqual(
        expect.arrayContaining([
          {
            esmClass: 0x04,
            receiptedId: delivered,
            state: 2,
            source: '6281234567890',
            destination: 'Acme',
            text: { id: delivered, dlvrd: '001', stat: 'DELIVRD', err: '000' },
          },
          {
            esmClass: 0x04,
            receiptedId: failed,
            state: 5,
            source: '6281234567891',
            destination: 'Acme',
            text: { id: failed, dlvrd: '000', stat: 'UNDELIV', err: '001' },
          },
        ]),
      );
      await esme.close();
    }
    expect(bystander.receipts).toEqual([]);
    await bystander.close();
  });

  it('keeps receipts while no receiver is bound; a client that reconnects collects them, one it refused comes again', async () => {
    const sender = await NpmEsme.open();
    expect(await sender.bind(ids.acme, 'transmitter')).toBe(0);
    const sent: string[] = [];
    for (let i = 0; i < 5; i++)
      sent.push((await sender.request('submit_sm', submit()))['message_id'] as string);
    await sender.close();
    for (const id of sent) await finish(id, sms.MessageStatus.MESSAGE_STATUS_DELIVERED);
    // Applied to the tenant's stream, with nobody bound to receive them.
    await new Promise((resolve) => setTimeout(resolve, 2000));

    const receiver = await NpmEsme.open();
    receiver.refuse = 1;
    expect(await receiver.bind(ids.acme, 'receiver')).toBe(0);
    await waitFor('every queued receipt', () => receiver.receipts.length >= 5, 30_000);
    expect(new Set(receiver.receipts.map((r) => r['receipted_message_id']))).toEqual(new Set(sent));
    expect(receiver.refuse).toBe(0);
    await receiver.close();
  });

  it('answers malformed PDUs with generic_nack without hurting other sessions', async () => {
    const good = await bound(ids.acme);
    const raw: Socket = await new Promise((resolve) => {
      const s = connectTcp(port, '127.0.0.1', () => resolve(s));
    });
    const received: smpp.PDU[] = [];
    let closed = false;
    raw.on('data', (chunk: Buffer) => {
      for (let at = 0; at + 16 <= chunk.length; at += chunk.readUInt32BE(at)) {
        const pdu = smpp.PDU.fromBuffer(chunk.subarray(at, at + chunk.readUInt32BE(at)));
        if (pdu) received.push(pdu);
      }
    });
    raw.on('close', () => (closed = true));
    const header = (length: number, command: number, sequence: number) => {
      const b = Buffer.alloc(16);
      b.writeUInt32BE(length, 0);
      b.writeUInt32BE(command, 4);
      b.writeUInt32BE(sequence, 12);
      return b;
    };
    raw.write(header(16, 0x00000999, 7)); // no such command
    raw.write(Buffer.concat([header(20, 0x00000004, 8), Buffer.from('abcd')])); // submit_sm cut short
    await waitFor('two generic_nacks', () => received.length >= 2);
    expect(received.map((p) => [p.command, p.command_status, p.sequence_number])).toEqual([
      ['generic_nack', 0x03, 7],
      ['generic_nack', 0x02, 8],
    ]);
    expect(closed).toBe(false);
    // The other session goes on as if nothing happened.
    expect((await good.request('submit_sm', submit()))['command_status']).toBe(0);
    // A length no PDU can have: the stream cannot be followed any more, so that session alone ends.
    raw.write(header(8, 0x00000015, 9));
    await waitFor('the broken session to end', () => closed);
    expect((await good.request('submit_sm', submit()))['command_status']).toBe(0);
    await good.close();
  });

  it('binds over TLS with the API certificate', async () => {
    const esme = await bound(ids.acme, { tls: true });
    const resp = await esme.request('submit_sm', submit());
    expect(resp.command_status).toBe(0);
    await acceptedAs(resp['message_id'] as string);
    await esme.close();
  });

  it('serves an ESME written with Python smpplib: encodings, UDH and SAR parts, receipts in hex ids', async () => {
    const py = new PythonEsme(ids.python);
    const cases = [
      { text: 'Your code is 551208', encoding: 'gsm', split: 'udh', parts: 1 },
      { text: 'Ünïcödé ☃ snow '.repeat(8), encoding: 'ucs2', split: 'udh', parts: 2 },
      { text: 'Déjà vu ÿ '.repeat(16), encoding: 'latin1', split: 'udh', parts: 2 },
      { text: 'A long plain notice in parts. '.repeat(10), encoding: 'gsm', split: 'udh', parts: 2 },
      { text: 'The same, cut with SAR TLVs. '.repeat(10), encoding: 'gsm', split: 'sar', parts: 2 },
    ];
    const messageIds: string[] = [];
    for (const c of cases) {
      const reply = (await py.call({ op: 'submit', source: 'Acme', to: '6281234567890', ...c })) as {
        parts: { status: number; id: string }[];
      };
      expect(reply.parts.map((p) => p.status)).toEqual(Array(c.parts).fill(0));
      const [first] = reply.parts;
      expect(reply.parts.every((p) => p.id === first!.id)).toBe(true);
      const message = await acceptedAs(first!.id, 'hex');
      expect(message.body).toBe(c.text);
      messageIds.push(message.messageId);
    }
    for (const id of messageIds) await finish(id, sms.MessageStatus.MESSAGE_STATUS_DELIVERED);
    const { receipts } = (await py.call({ op: 'receipts', count: messageIds.length, timeout: 30 })) as {
      receipts: { id: string; state: number; esm_class: number; text: string }[];
    };
    const hex = messageIds.map((id) => id.replace(/-/g, '').toUpperCase());
    expect(new Set(receipts.map((r) => r.id))).toEqual(new Set(hex));
    for (const r of receipts) {
      expect(r).toMatchObject({ state: 2, esm_class: 4 });
      expect(r.text).toMatch(new RegExp(`^id:${r.id} sub:001 dlvrd:001 .* stat:DELIVRD err:000`));
    }
    await py.quit();
  });
});

/** The Python ESME (smpp_client.py), driven one JSON line at a time. */
class PythonEsme {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly lines: AsyncIterator<string>;
  private stderr = '';

  constructor(systemId: string) {
    this.child = spawn(PYTHON, [
      join(__dirname, 'smpp_client.py'),
      '127.0.0.1',
      String(port),
      systemId,
      PASSWORD,
    ]);
    this.child.stderr.on('data', (c: Buffer) => (this.stderr += c.toString()));
    this.lines = createInterface({ input: this.child.stdout })[Symbol.asyncIterator]();
  }

  async call(command: Record<string, unknown>): Promise<unknown> {
    this.child.stdin.write(`${JSON.stringify(command)}\n`);
    const next = await this.lines.next();
    if (next.done) throw new Error(`the Python ESME ended: ${this.stderr}`);
    return JSON.parse(next.value) as unknown;
  }

  async quit(): Promise<void> {
    this.child.stdin.write(`${JSON.stringify({ op: 'quit' })}\n`);
    const code = await new Promise((resolve) => this.child.once('exit', resolve));
    expect({ code, stderr: this.stderr }).toEqual({ code: 0, stderr: '' });
  }
}
