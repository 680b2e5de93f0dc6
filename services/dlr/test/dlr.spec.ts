import { createHmac } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClickHouse, identifier, sql } from '@tern/clickhouse';
import { events, sms, statusEvent, statusRank } from '@tern/contracts';
import { DLQ_HEADERS, topics, type TopicDef } from '@tern/kafka';
import {
  closeTestProducer,
  dlqOf,
  ensurePlatformTopics,
  followTopics,
  infraFromEnv,
  publishValues,
  startServiceProcess,
  startTcpProxy,
  testTopic,
  uniqueName,
  waitFor,
  type ServiceProcess,
  type TcpProxy,
} from '@tern/testing';
import { ReceiptPresence, sharedRedis } from '@tern/redis';
import { CALLBACK_HEADERS, verifyCallback } from '../src/domain/status-callback';

// The built dlr against the real local Kafka, Redis and ClickHouse, fed submissions and receipts as the
// connector publishes them, posting callbacks to a real HTTP receiver. Each run has its own channel, message
// ids and ClickHouse database; dlr reaches ClickHouse through a TCP proxy the test can cut.
const infra = infraFromEnv();
const RECIPIENT = '+6590123456';
const HASH_KEY = 'test-analytics-hash-key';
const CALLBACK_SECRET = 'test-callback-secret-a';

/** A tenant's callback receiver: fails the first `failFirst` tries of each event, then accepts. */
class CallbackReceiver {
  readonly tries = new Map<string, number>();
  readonly accepted: { eventId: string; event: Record<string, unknown>; signed: boolean }[] = [];
  /** Requests to /slow are held open, never answered; the most held at once is counted. */
  heldNow = 0;
  heldMost = 0;
  private readonly server: Server;

  constructor(private readonly failFirst: number) {
    this.server = createServer((req, res) => {
      void readBody(req).then((body) => {
        if (req.url === '/slow') {
          this.heldMost = Math.max(this.heldMost, ++this.heldNow);
          req.socket.on('close', () => this.heldNow--);
          return;
        }
        const eventId = String(req.headers[CALLBACK_HEADERS.eventId]);
        const tries = (this.tries.get(eventId) ?? 0) + 1;
        this.tries.set(eventId, tries);
        if (tries <= this.failFirst) {
          res.writeHead(503).end();
          return;
        }
        const signature = String(req.headers[CALLBACK_HEADERS.signature]);
        this.accepted.push({
          eventId,
          event: JSON.parse(body) as Record<string, unknown>,
          signed: verifyCallback(CALLBACK_SECRET, signature, body, Math.floor(Date.now() / 1000)),
        });
        res.writeHead(204).end();
      });
    });
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const readBody = (req: IncomingMessage) =>
  new Promise<string>((resolve) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => resolve(body));
  });

describe('dlr', () => {
  let dlr: ServiceProcess;
  let stopReading: () => Promise<void>;
  const run = uniqueName('dl');
  const channelId = `ch-${run}`;
  const statuses: sms.StatusEvent[] = [];
  const retries: events.RetryRequest[] = [];
  const deadReceipts: { receipt: events.DeliveryReceipt; reason: string }[] = [];
  const deadStatuses: { event: sms.StatusEvent; reason: string }[] = [];
  let serial = 0;
  const database = `dlr_${run.replace(/-/g, '_')}`;
  const clickhouse = new ClickHouse({ url: infra.clickhouseUrl, database: 'default' });
  const receiver = new CallbackReceiver(2);
  let receiverUrl: string;
  let proxy: TcpProxy;
  // As a connector does while its binds are up: the test channel can deliver receipts (ReceiptPresence).
  const redis = sharedRedis({ redisUrl: infra.redisUrl });
  const presence = new ReceiptPresence(redis);
  const downChannelId = `down-${run}`;
  // Its receipts have reached Kafka without a gap since long before these tests.
  const receivingSince = Date.now() - 60_000;
  const markReceiving = () => presence.mark([{ channelId, since: receivingSince }]);
  const receiving = setInterval(() => void markReceiving(), 1000);

  beforeAll(async () => {
    await markReceiving();
    await ensurePlatformTopics();
    receiverUrl = await receiver.start();
    const target = new URL(infra.clickhouseUrl);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port) });
    const dir = mkdtempSync(join(tmpdir(), 'dlr-test-'));
    const tenantsFile = join(dir, 'tenants.yaml');
    writeFileSync(
      tenantsFile,
      [
        'tenants:',
        '  - { id: tenant-a, callbackSecret: { env: TEST_CALLBACK_SECRET_A }, sendRate: { perSecond: 10, burst: 10 } }',
        '  - { id: tenant-slow, callbackSecret: { env: TEST_CALLBACK_SECRET_A }, sendRate: { perSecond: 10, burst: 10 } }',
        '  - { id: tenant-unsigned, sendRate: { perSecond: 10, burst: 10 } }',
      ].join('\n'),
    );
    ({ stop: stopReading } = await followTopics(
      [topics.status, topics.retry, dlqOf(topics.dlr), dlqOf(topics.status)] as TopicDef<unknown>[],
      (topic, value, headers) => {
        if (topic === topics.status.dlq && (value as sms.StatusEvent).messageId.startsWith(run)) {
          deadStatuses.push({ event: value as sms.StatusEvent, reason: headers[DLQ_HEADERS.reason] ?? '' });
        }
        if (topic === topics.dlr.dlq && (value as events.DeliveryReceipt).channelId === channelId) {
          deadReceipts.push({
            receipt: value as events.DeliveryReceipt,
            reason: headers[DLQ_HEADERS.reason] ?? '',
          });
        }
        if (topic === topics.status.name && (value as sms.StatusEvent).messageId.startsWith(run)) {
          statuses.push(value as sms.StatusEvent);
        }
        if (
          topic === topics.retry.name &&
          (value as events.RetryRequest).message?.messageId.startsWith(run)
        ) {
          retries.push(value as events.RetryRequest);
        }
      },
    ));
    dlr = await startServiceProcess(join(__dirname, '..', 'dist', 'main.js'), {
      TERN_KAFKA_BROKERS: infra.kafkaBrokers.join(','),
      TERN_REDIS_URL: infra.redisUrl,
      TERN_CLICKHOUSE_URL: `http://127.0.0.1:${proxy.port}`,
      TERN_CLICKHOUSE_DATABASE: database,
      TERN_ANALYTICS_HASH_KEY: HASH_KEY,
      TERN_DLR_ATTEMPT_BATCH_LINGER_MS: '200',
      TERN_TENANTS_FILE: tenantsFile,
      TEST_CALLBACK_SECRET_A: CALLBACK_SECRET,
      TERN_CALLBACK_ALLOW_PRIVATE: 'true',
      TERN_CALLBACK_RETRY_BASE_MS: '300',
      TERN_CALLBACK_TIMEOUT_MS: '4000',
      TERN_CALLBACK_TENANT_CONCURRENCY: '2',
      TERN_DLR_UNMATCHED_RECEIPT_MS: '4000',
      TERN_DLR_IN_DOUBT_GRACE_MS: '1000',
      TERN_DLR_DEPLOYMENT: run,
      // Test submissions are stamped 3 s in the past: receipts for them are due 5 s after they are published.
      TERN_DLR_OTP_RECEIPT_WINDOW_MS: '8000',
      TERN_KAFKA_NEW_GROUP_STARTS_AT: 'latest',
      TERN_KAFKA_SESSION_TIMEOUT_MS: '10000',
    });
    await waitFor('dlr to be ready', async () => (await dlr.ready()).status === 200, 60_000);
  });
  afterAll(async () => {
    clearInterval(receiving);
    await redis.quit();
    await dlr.stop();
    await stopReading();
    await closeTestProducer();
    await receiver.stop();
    await proxy.close();
    await clickhouse.command(sql`DROP DATABASE IF EXISTS ${identifier(database)}`);
    await clickhouse.close();
  });

  const submission = (smscIds: string[], over: Partial<events.SubmitResult> = {}): events.SubmitResult => {
    const messageId = `${run}-${++serial}`;
    return events.SubmitResult.fromPartial({
      messageId,
      attempt: 1,
      channelId,
      smscMessageIds: smscIds,
      accepted: true,
      submittedAt: new Date(Date.now() - 3000),
      message: events.SmsMessage.fromPartial({
        messageId,
        tenantId: 'tenant-a',
        to: RECIPIENT,
        country: 'SG',
        type: sms.MessageType.MESSAGE_TYPE_OTP,
        acceptedAt: new Date(Date.now() - 4000),
        expiresAt: new Date(Date.now() + 600_000),
      }),
      ...over,
    });
  };
  const receipt = (smscId: string, state: sms.ReceiptState, errorCode = '000'): events.DeliveryReceipt => ({
    channelId,
    smscMessageId: smscId,
    state,
    errorCode,
    submitDate: new Date(Date.now() - 3000),
    doneDate: new Date(),
    receivedAt: new Date(),
    // As from an SMSC that names no handset: never given to an attempt in doubt.
    handset: '',
  });
  const finalOf = (messageId: string) =>
    statuses.filter(
      (s) =>
        s.messageId === messageId &&
        s.status !== sms.MessageStatus.MESSAGE_STATUS_SUBMITTED &&
        s.status !== sms.MessageStatus.MESSAGE_STATUS_FAILED,
    );
  /** Whether a receipt waits for its submission (in the ledger's schedule of unmatched receipts). */
  const kept = async (smscId: string) =>
    (await redis.zscore('tern:dlr:unmatched-receipts', `${channelId}|${smscId}`)) !== null;
  const submittedSeen = (messageId: string) =>
    waitFor('SUBMITTED', () => statuses.some((s) => s.messageId === messageId));
  const S = sms.ReceiptState;
  /** Attempt rows of these messages as analytics reads them (FINAL: one row per attempt, newest version). */
  const attemptRows = (messageIds: string[]) =>
    clickhouse.rows<Record<string, string | number>>(
      sql`SELECT * FROM ${identifier(database)}.attempts FINAL WHERE message_id IN ${messageIds} ORDER BY message_id`,
    );

  it('reports SUBMITTED, then DELIVERED with the delivery latency', async () => {
    const sub = submission(['4000001']);
    await publishValues(topics.submitted, [sub]);
    await submittedSeen(sub.messageId);
    await publishValues(topics.dlr, [receipt('4000001', S.RECEIPT_STATE_DELIVRD)]);
    const [delivered] = await waitFor(
      'DELIVERED',
      () => finalOf(sub.messageId).length === 1 && finalOf(sub.messageId),
    );
    expect(delivered!.status).toBe(sms.MessageStatus.MESSAGE_STATUS_DELIVERED);
    expect(delivered!.channelId).toBe(channelId);
    expect(delivered!.deliveryLatencyMs).toBeGreaterThanOrEqual(2500);
    expect(delivered!.endToEndLatencyMs).toBeGreaterThanOrEqual(3500);
    // Counted for the per-country delivery alert (deploy/monitoring).
    const metrics = await (await fetch(`http://127.0.0.1:${dlr.httpPort}/metrics`)).text();
    expect(metrics).toMatch(
      /^tern_dlr_attempt_endings_total\{[^}]*country="SG",status="delivered"[^}]*\} [1-9]/m,
    );
  });

  it('matches a receipt that came before its submission, and a hex id for a decimal one', async () => {
    const early = submission(['5000001']);
    await publishValues(topics.dlr, [receipt('5000001', S.RECEIPT_STATE_DELIVRD)]);
    await waitFor('the receipt kept', () => kept('5000001'));
    await publishValues(topics.submitted, [early]);
    await waitFor('DELIVERED after its submission', () => finalOf(early.messageId).length === 1);

    const decimal = submission(['12345678']);
    await publishValues(topics.submitted, [decimal]);
    await submittedSeen(decimal.messageId);
    await publishValues(topics.dlr, [receipt('00BC614E', S.RECEIPT_STATE_DELIVRD)]);
    const [d] = await waitFor(
      'DELIVERED via hex',
      () => finalOf(decimal.messageId).length === 1 && finalOf(decimal.messageId),
    );
    expect(d!.status).toBe(sms.MessageStatus.MESSAGE_STATUS_DELIVERED);
  });

  it('joins submissions and receipts that arrive at the same moment, every one of them', async () => {
    // Receipts and submissions of 300 attempts published side by side: each pair races in two consumers.
    const subs = Array.from({ length: 300 }, (_, i) => submission([String(5_100_001 + i)]));
    const receipts = subs.map((sub) => receipt(sub.smscMessageIds[0]!, S.RECEIPT_STATE_DELIVRD));
    await Promise.all([publishValues(topics.dlr, receipts), publishValues(topics.submitted, subs)]);
    await waitFor(
      'every attempt DELIVERED',
      () => subs.every((sub) => finalOf(sub.messageId).length === 1),
      30_000,
    );
    const ids = new Set(subs.map((sub) => sub.messageId));
    expect(
      statuses.filter((s) => ids.has(s.messageId) && s.status === sms.MessageStatus.MESSAGE_STATUS_DELIVERED),
    ).toHaveLength(300);
    // Nothing left waiting on either side: no receipt kept for a submission that had come and gone. (A kept
    // receipt is forgotten just after its status is published, so the last few may take a moment.)
    const keptNow = async () =>
      (
        await Promise.all(
          receipts.map((r) =>
            redis.zscore('tern:dlr:unmatched-receipts', `${r.channelId}|${r.smscMessageId}`),
          ),
        )
      ).filter((score) => score !== null);
    await waitFor('no receipt kept', async () => (await keptNow()).length === 0, 10_000).catch(
      () => undefined,
    );
    expect(await keptNow()).toEqual([]);
  });

  it('dead-letters a receipt whose submission never comes, with its reason; a matched one is not', async () => {
    await publishValues(topics.dlr, [receipt('7700001', S.RECEIPT_STATE_DELIVRD)]);
    const dead = await waitFor('the unmatched receipt dead-lettered', () =>
      deadReceipts.find((d) => d.receipt.smscMessageId === '7700001'),
    );
    expect(dead.reason).toBe('UNMATCHED_RECEIPT');
    expect(dead.receipt.state).toBe(S.RECEIPT_STATE_DELIVRD);
    // The receipt that came before its submission (an earlier test) was matched: never dead-lettered.
    expect(deadReceipts.some((d) => d.receipt.smscMessageId === '5000001')).toBe(false);
  });

  it('gives an attempt in doubt the delivery no submission claimed, whichever comes first: DELIVERED, as the handset saw', async () => {
    // The connector died between submit_sm and its answer: the attempt's SMSC id was never learnt, and the
    // message was sent again on the same channel and failed there. The carrier's receipt of the first
    // attempt names the handset.
    const inDoubt = (to: string) => {
      const sub = submission([], { accepted: false, errorCode: 'OUTCOME_UNKNOWN', retryable: true });
      sub.message!.to = to;
      return sub;
    };
    const handsetReceipt = (smscId: string, to: string) => ({
      ...receipt(smscId, S.RECEIPT_STATE_DELIVRD),
      handset: to.replace('+', ''),
    });
    const finalStatus = (messageId: string) =>
      statuses.filter((s) => s.messageId === messageId).sort((a, b) => statusRank(b) - statusRank(a))[0];

    // In doubt first, then the second attempt fails, then the first attempt's receipt comes.
    const first = inDoubt('+6591110001');
    await publishValues(topics.submitted, [first]);
    const second = {
      ...submission(['8800002']),
      messageId: first.messageId,
      attempt: 2,
      message: first.message,
    };
    await publishValues(topics.submitted, [second]);
    await submittedSeen(first.messageId);
    await publishValues(topics.dlr, [receipt('8800002', S.RECEIPT_STATE_UNDELIV, '034')]);
    await waitFor('the second attempt UNDELIVERED', () =>
      statuses.some(
        (s) => s.messageId === first.messageId && s.status === sms.MessageStatus.MESSAGE_STATUS_UNDELIVERED,
      ),
    );
    await publishValues(topics.dlr, [handsetReceipt('8800001', first.message!.to)]);
    await waitFor('the message DELIVERED by its attempt in doubt', () =>
      statuses.some(
        (s) =>
          s.messageId === first.messageId &&
          s.attempt === 1 &&
          s.status === sms.MessageStatus.MESSAGE_STATUS_DELIVERED,
      ),
    );
    expect(finalStatus(first.messageId)?.status).toBe(sms.MessageStatus.MESSAGE_STATUS_DELIVERED);

    // The receipt first (the restarted connector reports the attempt in doubt a little later).
    const late = inDoubt('+6591110002');
    await publishValues(topics.dlr, [handsetReceipt('8800003', late.message!.to)]);
    await waitFor('the receipt kept', () => kept('8800003'));
    await new Promise((r) => setTimeout(r, 1500));
    await publishValues(topics.submitted, [late]);
    await waitFor('DELIVERED once the attempt in doubt is known', () =>
      statuses.some(
        (s) => s.messageId === late.messageId && s.status === sms.MessageStatus.MESSAGE_STATUS_DELIVERED,
      ),
    );
    // Neither receipt was dead-lettered, and no retry was asked for on their account.
    expect(deadReceipts.filter((d) => ['8800001', '8800003'].includes(d.receipt.smscMessageId))).toEqual([]);
    expect(retries.filter((r) => r.message?.messageId === late.messageId)).toEqual([]);
  });

  it('retries an attempt in doubt only when no delivery to its handset comes in the grace: sent once', async () => {
    // Reported 10 s after the submit_sm: their window (the 1 s grace) is over, and the receipts of that
    // time are read.
    const inDoubt = (to: string) => {
      const sub = submission([], {
        accepted: false,
        errorCode: 'OUTCOME_UNKNOWN',
        retryable: true,
        submittedAt: new Date(Date.now() - 10_000),
      });
      sub.message!.to = to;
      return sub;
    };
    // The SMSC had it: its delivery came just before the attempt was reported in doubt, too recently to be
    // given to it (the grace): the attempt waits for that rather than be retried.
    const delivered = inDoubt('+6591110004');
    await publishValues(topics.dlr, [
      { ...receipt('8800004', S.RECEIPT_STATE_DELIVRD), handset: delivered.message!.to.replace('+', '') },
    ]);
    await waitFor('the receipt kept', () => kept('8800004'));
    // The SMSC never had it: no receipt comes.
    const lost = inDoubt('+6591110005');
    await publishValues(topics.submitted, [delivered, lost]);
    const retry = await waitFor('the retry of the attempt whose receipt never came', () =>
      retries.find((r) => r.message?.messageId === lost.messageId),
    );
    expect(retry).toMatchObject({
      failedAttempt: 1,
      triedChannelIds: [channelId],
      reason: { code: 'OUTCOME_UNKNOWN', retryable: true },
    });
    await waitFor('the delivered one DELIVERED by its attempt in doubt', () =>
      statuses.some(
        (s) =>
          s.messageId === delivered.messageId &&
          s.attempt === 1 &&
          s.status === sms.MessageStatus.MESSAGE_STATUS_DELIVERED,
      ),
    );
    // Past its grace and its hold: it is never retried, and the other is retried once.
    await new Promise((r) => setTimeout(r, 4000));
    expect(retries.filter((r) => r.message?.messageId === delivered.messageId)).toEqual([]);
    expect(retries.filter((r) => r.message?.messageId === lost.messageId)).toHaveLength(1);
  });

  it('changes nothing on a duplicated receipt', async () => {
    const sub = submission(['6000001']);
    await publishValues(topics.submitted, [sub]);
    await submittedSeen(sub.messageId);
    await publishValues(topics.dlr, [
      receipt('6000001', S.RECEIPT_STATE_DELIVRD),
      receipt('6000001', S.RECEIPT_STATE_DELIVRD),
    ]);
    await waitFor('DELIVERED', () => finalOf(sub.messageId).length === 1);
    await new Promise((r) => setTimeout(r, 1500));
    expect(finalOf(sub.messageId)).toHaveLength(1);
  });

  it('reports an attempt on its final receipt, not an intermediate one, whatever format its id was recorded in', async () => {
    const sub = submission(['6100001']);
    const older = submission(['6100002']);
    const gone = submission(['6100003']);
    await publishValues(topics.submitted, [sub, older, gone]);
    await Promise.all([sub, older, gone].map((s) => submittedSeen(s.messageId)));
    // As a dlr before receipts named handsets recorded ids (kept for days): without the handset.
    await redis.set(`tern:dlr:id:${channelId}:6100002`, `${older.messageId}|1|0`, 'EX', 600);
    // An attempt whose record expired while its id is still known: nothing left to report on.
    const goneKey = `tern:dlr:attempt:${gone.messageId}:1`;
    await redis.del(goneKey);

    await publishValues(topics.dlr, [
      receipt('6100001', S.RECEIPT_STATE_ENROUTE),
      receipt('6100003', S.RECEIPT_STATE_DELIVRD),
      receipt('6100002', S.RECEIPT_STATE_DELIVRD),
    ]);
    await waitFor('the older format DELIVERED', () => finalOf(older.messageId).length === 1);
    await new Promise((r) => setTimeout(r, 1500));
    expect(finalOf(sub.messageId)).toHaveLength(0);
    expect(finalOf(gone.messageId)).toHaveLength(0);
    // Not written again by the receipt: no hash without its submission and expiry left behind.
    expect(await redis.exists(goneKey)).toBe(0);
    expect(await kept('6100001')).toBe(false);

    await publishValues(topics.dlr, [receipt('6100001', S.RECEIPT_STATE_UNDELIV, '001')]);
    const [undelivered] = await waitFor(
      'UNDELIVERED on the final receipt',
      () => finalOf(sub.messageId).length === 1 && finalOf(sub.messageId),
    );
    expect(undelivered!.status).toBe(sms.MessageStatus.MESSAGE_STATUS_UNDELIVERED);
  });

  it('gives a receipt to the attempt of its handset when the SMSC reused an earlier attempt’s id', async () => {
    // SMSC ids repeat: an SMSC restarted, or its counter wrapped. The earlier attempt's id stays known for
    // days, and a receipt that comes before its own submission must not be taken for the earlier one's.
    const earlier = submission(['7000001']);
    await publishValues(topics.submitted, [earlier]);
    await submittedSeen(earlier.messageId);
    const ofHandset = (to: string) => ({
      ...receipt('7000001', S.RECEIPT_STATE_DELIVRD),
      handset: to.slice(1),
    });
    await publishValues(topics.dlr, [ofHandset(RECIPIENT)]);
    await waitFor('the earlier attempt DELIVERED', () => finalOf(earlier.messageId).length === 1);

    const later = submission(['7000001']);
    later.message!.to = '+6590654321';
    await publishValues(topics.dlr, [ofHandset(later.message!.to)]);
    await waitFor('the receipt kept for its own submission', () => kept('7000001'));
    await publishValues(topics.submitted, [later]);
    const [delivered] = await waitFor(
      'the later attempt DELIVERED',
      () => finalOf(later.messageId).length === 1 && finalOf(later.messageId),
    );
    expect(delivered!.status).toBe(sms.MessageStatus.MESSAGE_STATUS_DELIVERED);
    expect(finalOf(earlier.messageId)).toHaveLength(1);
  });

  it('reports a receipt whose report another run took and never wrote (it stopped, or lost its partition)', async () => {
    const sub = submission(['6000002']);
    const beside = submission(['6000003']);
    await publishValues(topics.submitted, [sub, beside]);
    await submittedSeen(sub.messageId);
    await submittedSeen(beside.messageId);
    // As a dlr instance leaves it that took the report, then lost the partition before writing it: the
    // receipt redelivered to this one waits for that report, and writes it when it never comes (5 s after it
    // was taken, here 8 s from now).
    await redis.hset(`tern:dlr:attempt:${sub.messageId}:1`, 'reported', `pending:${Date.now() + 3000}`);
    await publishValues(topics.dlr, [
      receipt('6000002', S.RECEIPT_STATE_DELIVRD),
      receipt('6000003', S.RECEIPT_STATE_DELIVRD),
    ]);
    // The receipt fetched with it does not wait: its attempt is reported at once (in less than the 5 s after
    // which a report taken and not written is taken again), while the other is still held.
    await waitFor('DELIVERED beside it', () => finalOf(beside.messageId).length === 1, 4000);
    expect(finalOf(sub.messageId)).toEqual([]);
    await waitFor('DELIVERED', () => finalOf(sub.messageId).length === 1, 30_000);
    expect(finalOf(sub.messageId).map((s) => s.status)).toEqual([sms.MessageStatus.MESSAGE_STATUS_DELIVERED]);
    expect(finalOf(beside.messageId)).toHaveLength(1);
  });

  it('fails a multipart message on its failed part, with the first error, and asks for a retry', async () => {
    const sub = submission(['7000001', '7000002', '7000003']);
    await publishValues(topics.submitted, [sub]);
    await submittedSeen(sub.messageId);
    await publishValues(topics.dlr, [
      receipt('7000001', S.RECEIPT_STATE_DELIVRD),
      receipt('7000002', S.RECEIPT_STATE_UNDELIV, '027'),
      receipt('7000003', S.RECEIPT_STATE_DELIVRD),
    ]);
    const [failed] = await waitFor(
      'UNDELIVERED',
      () => finalOf(sub.messageId).length === 1 && finalOf(sub.messageId),
    );
    expect(failed!.status).toBe(sms.MessageStatus.MESSAGE_STATUS_UNDELIVERED);
    expect(failed!.reason).toMatchObject({ code: 'UNREACHABLE', retryable: true });
    const retry = await waitFor('the retry request', () =>
      retries.find((r) => r.message?.messageId === sub.messageId),
    );
    expect(retry.failedAttempt).toBe(1);
    expect(retry.triedChannelIds).toEqual([channelId]);

    // An unknown subscriber is final: no retry.
    const unknown = submission(['7100001']);
    await publishValues(topics.submitted, [unknown]);
    await submittedSeen(unknown.messageId);
    await publishValues(topics.dlr, [receipt('7100001', S.RECEIPT_STATE_UNDELIV, '001')]);
    const [final] = await waitFor(
      'UNDELIVERED',
      () => finalOf(unknown.messageId).length === 1 && finalOf(unknown.messageId),
    );
    expect(final!.reason?.code).toBe('UNKNOWN_SUBSCRIBER');
    await new Promise((r) => setTimeout(r, 1000));
    expect(retries.some((r) => r.message?.messageId === unknown.messageId)).toBe(false);
  });

  it('reports a refused submission as FAILED with its reason', async () => {
    const sub = submission([], { accepted: false, retryable: true, errorCode: 'INVALID_DESTINATION' });
    await publishValues(topics.submitted, [sub]);
    const failed = await waitFor('FAILED', () =>
      statuses.find(
        (s) => s.messageId === sub.messageId && s.status === sms.MessageStatus.MESSAGE_STATUS_FAILED,
      ),
    );
    expect(failed.reason?.code).toBe('INVALID_DESTINATION');
  });

  it('reports a missing receipt once and asks for a retry; a late receipt still turns it DELIVERED', async () => {
    const sub = submission(['8000001'], { submittedAt: new Date(Date.now() - 7500) });
    await publishValues(topics.submitted, [sub]);
    const missing = await waitFor('the missing receipt', () =>
      statuses.find((s) => s.messageId === sub.messageId && s.reason?.code === 'NO_RECEIPT'),
    );
    expect(missing.status).toBe(sms.MessageStatus.MESSAGE_STATUS_UNDELIVERED);
    await waitFor('the retry', () => retries.some((r) => r.message?.messageId === sub.messageId));
    await new Promise((r) => setTimeout(r, 2500)); // more polls of the overdue list
    expect(retries.filter((r) => r.message?.messageId === sub.messageId)).toHaveLength(1);

    await publishValues(topics.dlr, [receipt('8000001', S.RECEIPT_STATE_DELIVRD)]);
    await waitFor('the late DELIVERED', () =>
      statuses.some(
        (s) => s.messageId === sub.messageId && s.status === sms.MessageStatus.MESSAGE_STATUS_DELIVERED,
      ),
    );
  });

  it('waits for the receipts of a channel that cannot receive them, and retries nothing that was delivered', async () => {
    const sub = submission(['8050001'], {
      channelId: downChannelId,
      submittedAt: new Date(Date.now() - 7500),
    });
    await publishValues(topics.submitted, [sub]);
    await waitFor('the SUBMITTED status', () => statuses.some((s) => s.messageId === sub.messageId));
    // Its window is over, but no connector has a bind of the channel that receives: nothing is reported.
    await new Promise((r) => setTimeout(r, 4000));
    expect(statuses.some((s) => s.messageId === sub.messageId && s.reason?.code === 'NO_RECEIPT')).toBe(
      false,
    );
    // The channel is back, and its SMSC hands over the receipt it held as soon as a bind receives.
    await publishValues(topics.dlr, [
      { ...receipt('8050001', S.RECEIPT_STATE_DELIVRD), channelId: downChannelId },
    ]);
    await waitFor('DELIVERED', () =>
      statuses.some(
        (s) => s.messageId === sub.messageId && s.status === sms.MessageStatus.MESSAGE_STATUS_DELIVERED,
      ),
    );
    await new Promise((r) => setTimeout(r, 2500)); // more polls of the overdue list
    expect(statuses.some((s) => s.messageId === sub.messageId && s.reason?.code === 'NO_RECEIPT')).toBe(
      false,
    );
    expect(retries.some((r) => r.message?.messageId === sub.messageId)).toBe(false);
  });

  it('waits for a receipt a connector took but could not write yet, and reports nothing missing', async () => {
    const slowChannel = `slow-${run}`;
    const sub = submission(['8060001'], { channelId: slowChannel, submittedAt: new Date(Date.now() - 7500) });
    // As a connector whose receipt writes hang (Kafka away for it), marking its channel once a second.
    const connector = new ReceiptPresence(redis);
    let since: number | undefined;
    const mark = () => connector.mark([{ channelId: slowChannel, since }]);
    await mark();
    const marking = setInterval(() => void mark(), 1000);
    try {
      await publishValues(topics.submitted, [sub]);
      await submittedSeen(sub.messageId);
      await new Promise((r) => setTimeout(r, 4000)); // its window is over
      expect(statuses.some((s) => s.messageId === sub.messageId && s.reason?.code === 'NO_RECEIPT')).toBe(
        false,
      );
      // Its writes go through again: the receipt it held reaches Kafka a moment after its trouble ends.
      since = Date.now();
      await mark();
      await new Promise((r) => setTimeout(r, 1000));
      await publishValues(topics.dlr, [
        { ...receipt('8060001', S.RECEIPT_STATE_DELIVRD), channelId: slowChannel },
      ]);
      await waitFor('DELIVERED', () => finalOf(sub.messageId).length === 1);
      await new Promise((r) => setTimeout(r, 2500)); // more polls of the overdue list
      expect(finalOf(sub.messageId).map((s) => s.status)).toEqual([
        sms.MessageStatus.MESSAGE_STATUS_DELIVERED,
      ]);
      expect(retries.some((r) => r.message?.messageId === sub.messageId)).toBe(false);
    } finally {
      clearInterval(marking);
    }
  });

  it('reports no receipt missing before the receipts written by its due time are read', async () => {
    // A receipt whose report another run is writing waits for it (5 s) unhandled, so the receipts read
    // past it are not committed: dlr is behind on receipts written before the next attempt is due.
    const blocker = submission(['8070001']);
    await publishValues(topics.submitted, [blocker]);
    await submittedSeen(blocker.messageId);
    await redis.hset(`tern:dlr:attempt:${blocker.messageId}:1`, 'reported', `pending:${Date.now()}`);
    await publishValues(topics.dlr, [receipt('8070001', S.RECEIPT_STATE_DELIVRD)]);
    const overdue = submission(['8070002'], { submittedAt: new Date(Date.now() - 7500) });
    await publishValues(topics.submitted, [overdue]);
    const missing = await waitFor('the missing receipt', () =>
      statuses.find((s) => s.messageId === overdue.messageId && s.reason?.code === 'NO_RECEIPT'),
    );
    const delivered = await waitFor('the blocked receipt’s DELIVERED', () => finalOf(blocker.messageId)[0]);
    expect(missing.occurredAt!.getTime()).toBeGreaterThanOrEqual(delivered.occurredAt!.getTime());
  });

  it('does not retry a message whose validity is over', async () => {
    const sub = submission(['8100001'], { submittedAt: new Date(Date.now() - 7500) });
    sub.message!.expiresAt = new Date(Date.now() - 1000);
    await publishValues(topics.submitted, [sub]);
    await waitFor('the missing receipt', () =>
      statuses.some((s) => s.messageId === sub.messageId && s.reason?.code === 'NO_RECEIPT'),
    );
    await new Promise((r) => setTimeout(r, 1000));
    expect(retries.some((r) => r.message?.messageId === sub.messageId)).toBe(false);
  });

  it('records each attempt in ClickHouse once, the late receipt’s version superseding, no recipient in clear', async () => {
    const late = submission(['8200001'], { submittedAt: new Date(Date.now() - 7500) });
    const refused = submission([], { accepted: false, retryable: true, errorCode: 'THROTTLED' });
    await publishValues(topics.submitted, [late, refused]);
    await waitFor('the missing receipt', () =>
      statuses.some((s) => s.messageId === late.messageId && s.reason?.code === 'NO_RECEIPT'),
    );
    await waitFor(
      'the NO_RECEIPT row',
      async () => (await attemptRows([late.messageId]))[0]?.['reason_code'] === 'NO_RECEIPT',
    );
    await publishValues(topics.dlr, [receipt('8200001', S.RECEIPT_STATE_DELIVRD)]);
    const rows = await waitFor('the late receipt supersedes the row', async () => {
      const found = await attemptRows([late.messageId, refused.messageId]);
      return found.length === 2 && found[0]?.['status'] === 'DELIVERED' && found;
    });
    expect(rows[0]).toMatchObject({
      message_id: late.messageId,
      attempt: 1,
      version: 2,
      tenant_id: 'tenant-a',
      country: 'SG',
      channel_id: channelId,
      message_type: 'OTP',
      status: 'DELIVERED',
      reason_code: 'DELIVERED',
      receipt_state: 'DELIVRD',
      recipient_hash: createHmac('sha256', HASH_KEY).update(RECIPIENT).digest('hex'),
      submitted_date: late.submittedAt!.toISOString().slice(0, 10),
    });
    expect(rows[0]?.['written_at']).not.toMatch(/^0000/);
    expect(Number(rows[0]?.['delivery_latency_ms'])).toBeGreaterThanOrEqual(7000);
    expect(rows[1]).toMatchObject({ status: 'FAILED', reason_code: 'THROTTLED', retryable: 1 });
    for (const row of rows) {
      expect(Object.values(row).some((v) => String(v).includes(RECIPIENT.slice(1)))).toBe(false);
    }
  });

  it('keeps each message’s trace: every status event once, and the routing decision of each attempt', async () => {
    const decision = events.RoutingDecision.fromPartial({
      reason: 'thompson sample among 2 candidates',
      candidates: [
        { channelId, score: 2.5, deliveryProbability: 0.95, expectedLatencyMs: 3000, pricePerSegment: 0.045 },
        { channelId: 'other', excludedBecause: 'breaker open' },
      ],
    });
    const sub = submission(['8300001'], { decision });
    await publishValues(topics.submitted, [sub]);
    await submittedSeen(sub.messageId);
    await publishValues(topics.dlr, [receipt('8300001', S.RECEIPT_STATE_DELIVRD)]);
    // A status event delivered twice (a producer's retry) is one step of the trace. (Its callback's tries are
    // steps of their own, tested with the callbacks.)
    const accepted = sms.StatusEvent.fromPartial({
      messageId: sub.messageId,
      tenantId: 'tenant-a',
      clientReference: `${sub.messageId}-ref`,
      status: sms.MessageStatus.MESSAGE_STATUS_ACCEPTED,
      occurredAt: new Date(Date.now() - 4000),
      callbackUrl: 'https://hooks.example/secret-path',
    });
    await publishValues(topics.status, [accepted, accepted]);
    const steps = await waitFor('the trace: accepted, submitted, delivered and the decision', async () => {
      const rows = await clickhouse.rows<Record<string, string | number>>(
        sql`SELECT DISTINCT kind, status, attempt, channel_id, client_reference, reason_code, detail
            FROM ${identifier(database)}.message_events
            WHERE message_id = ${sub.messageId} AND kind != 'callback'
            ORDER BY kind, status`,
      );
      return rows.length >= 4 && rows;
    });
    expect(steps.map((r) => `${r['kind']}:${r['status']}`)).toEqual([
      'routing:',
      'status:ACCEPTED',
      'status:DELIVERED',
      'status:SUBMITTED',
    ]);
    expect(JSON.parse(String(steps[0]?.['detail']))).toEqual(events.RoutingDecision.toJSON(decision));
    expect(steps[0]).toMatchObject({ attempt: 1, channel_id: channelId });
    expect(steps[1]).toMatchObject({ client_reference: `${sub.messageId}-ref` });
    // Whether a callback was due is kept, never its URL.
    expect(JSON.parse(String(steps[1]?.['detail']))).toEqual({ callback: 'due' });
    expect(steps[2]).toMatchObject({ attempt: 1, channel_id: channelId, reason_code: 'DELIVERED' });
    expect(JSON.parse(String(steps[2]?.['detail']))).toMatchObject({ receiptState: 'DELIVRD' });
  });

  it('dead-letters a status event ClickHouse refuses, and writes the others fetched with it', async () => {
    // One message's events: one partition, so one fetch and one call of the trace writer.
    const messageId = `${run}-refused-row`;
    const event = (status: sms.MessageStatus, attempt: number) =>
      sms.StatusEvent.fromPartial({
        messageId,
        tenantId: 'tenant-a',
        status,
        attempt,
        occurredAt: new Date(),
      });
    await publishValues(topics.status, [
      event(sms.MessageStatus.MESSAGE_STATUS_ACCEPTED, 0),
      // A negative attempt: its UInt16 column cannot take it (a defect upstream; no producer writes one).
      event(sms.MessageStatus.MESSAGE_STATUS_ROUTED, -1),
      event(sms.MessageStatus.MESSAGE_STATUS_SUBMITTED, 1),
    ]);
    const dead = await waitFor('the refused event in the DLQ', () =>
      deadStatuses.find((d) => d.event.messageId === messageId),
    );
    expect(dead).toMatchObject({ reason: 'CLICKHOUSE_REFUSED' });
    expect(dead.event.status).toBe(sms.MessageStatus.MESSAGE_STATUS_ROUTED);
    const written = await waitFor('the two others in the trace', async () => {
      const rows = await clickhouse.rows<{ status: string }>(
        sql`SELECT DISTINCT status FROM ${identifier(database)}.message_events
            WHERE message_id = ${messageId} ORDER BY status`,
      );
      return rows.length >= 2 && rows;
    });
    expect(written.map((r) => r.status)).toEqual(['ACCEPTED', 'SUBMITTED']);
    expect(deadStatuses.filter((d) => d.event.messageId === messageId)).toHaveLength(1);
  });

  it('loses no attempt row while ClickHouse is unreachable: they arrive once it is back, once each', async () => {
    await proxy.cut();
    const subs = Array.from({ length: 30 }, (_, i) => submission([String(9_000_001 + i)]));
    await publishValues(topics.submitted, subs);
    await waitFor('every submission seen', () =>
      subs.every((s) => statuses.some((e) => e.messageId === s.messageId)),
    );
    await publishValues(
      topics.dlr,
      subs.map((_, i) => receipt(String(9_000_001 + i), S.RECEIPT_STATE_DELIVRD)),
    );
    const ids = subs.map((s) => s.messageId);
    // Correlation goes on without ClickHouse: the statuses are out while the rows wait.
    await waitFor('every DELIVERED', () => ids.every((id) => finalOf(id).length === 1));
    await waitFor('the writer to meet the outage', () =>
      dlr.logs.some(
        (l) => l['msg'] === 'handler failed; retrying' && l['topic'] === testTopic(topics.attempts).name,
      ),
    );
    expect(await attemptRows(ids)).toHaveLength(0);

    await proxy.restore();
    const rows = await waitFor(
      'the rows after the outage',
      async () => {
        const found = await attemptRows(ids);
        return found.length === ids.length && found;
      },
      60_000,
    );
    expect(new Set(rows.map((r) => r['message_id']))).toEqual(new Set(ids));
    expect(rows.every((r) => r['status'] === 'DELIVERED')).toBe(true);
    const [raw] = await clickhouse.rows<{ n: string }>(
      sql`SELECT count() AS n FROM ${identifier(database)}.attempts WHERE message_id IN ${ids}`,
    );
    // Without FINAL too: a batch retried after the outage was written once.
    expect(Number(raw?.n)).toBe(ids.length);
  });

  it('posts each status event once, signed, to a receiver that fails twice first', async () => {
    const sub = submission(['9500001']);
    sub.message!.callbackUrl = `${receiverUrl}/tern`;
    await publishValues(topics.submitted, [sub]);
    await submittedSeen(sub.messageId);
    await publishValues(topics.dlr, [receipt('9500001', S.RECEIPT_STATE_DELIVRD)]);
    const accepted = () => receiver.accepted.filter((a) => a.event['messageId'] === sub.messageId);
    await waitFor('SUBMITTED and DELIVERED accepted', () => accepted().length === 2, 60_000);
    await new Promise((r) => setTimeout(r, 2000)); // more retry rounds: nothing is posted again
    expect(
      accepted()
        .map((a) => a.event['status'])
        .sort(),
    ).toEqual(['MESSAGE_STATUS_DELIVERED', 'MESSAGE_STATUS_SUBMITTED']);
    expect(accepted().every((a) => a.signed)).toBe(true);
    for (const { eventId } of accepted()) expect(receiver.tries.get(eventId)).toBe(3);
    expect(accepted()[0]?.event).not.toHaveProperty('callbackUrl');
    // Each try is in the message's trace: two refused, then taken, for each status.
    const tries = await waitFor('the callback tries in the trace', async () => {
      const rows = await clickhouse.rows<{ status: string; detail: string }>(
        sql`SELECT DISTINCT status, detail FROM ${identifier(database)}.message_events
            WHERE message_id = ${sub.messageId} AND kind = 'callback'`,
      );
      return rows.length >= 6 && rows;
    });
    const told = (status: string) =>
      tries
        .filter((t) => t.status === status)
        .map((t) => JSON.parse(t.detail) as { result: string; tries: number; httpStatus?: number })
        .sort((a, b) => a.tries - b.tries);
    for (const status of ['SUBMITTED', 'DELIVERED']) {
      expect(told(status)).toEqual([
        { result: 'failed', tries: 1, httpStatus: 503, error: 'HTTP 503' },
        { result: 'failed', tries: 2, httpStatus: 503, error: 'HTTP 503' },
        { result: 'delivered', tries: 3, httpStatus: 204 },
      ]);
    }
  });

  it('holds a slow receiver to its tenant’s share; other tenants’ callbacks go on', async () => {
    const event = (tenantId: string, i: number, url: string) => {
      const message = events.SmsMessage.fromPartial({
        messageId: `${run}-${tenantId}-${i}`,
        tenantId,
        callbackUrl: url,
        acceptedAt: new Date(),
      });
      return statusEvent(message, sms.MessageStatus.MESSAGE_STATUS_ACCEPTED, new Date());
    };
    const slow = Array.from({ length: 10 }, (_, i) => event('tenant-slow', i, `${receiverUrl}/slow`));
    await publishValues(topics.status, slow);
    await waitFor('the slow receiver holding tries', () => receiver.heldNow === 2);
    const fast = event('tenant-a', 0, `${receiverUrl}/tern`);
    const unsigned = event('tenant-unsigned', 0, `${receiverUrl}/tern`);
    await publishValues(topics.status, [unsigned, fast]);
    await waitFor('the other tenant’s event accepted', () =>
      receiver.accepted.some((a) => a.event['messageId'] === fast.messageId),
    );
    expect(receiver.heldMost).toBe(2);
    // A tenant with no callback secret gets no unsigned posts.
    expect(receiver.tries.has(`${unsigned.messageId}:0:MESSAGE_STATUS_ACCEPTED:`)).toBe(false);
  });
});
