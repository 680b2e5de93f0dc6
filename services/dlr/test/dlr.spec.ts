import { join } from 'node:path';
import { events, sms } from '@tern/contracts';
import { topics, type TopicDef } from '@tern/kafka';
import {
  closeTestProducer,
  ensurePlatformTopics,
  followTopics,
  infraFromEnv,
  publishValues,
  startServiceProcess,
  uniqueName,
  waitFor,
  type ServiceProcess,
} from '@tern/testing';

// The built dlr against the real local Kafka and Redis, fed submissions and receipts as the connector
// publishes them. Each run has its own channel and message ids.
const infra = infraFromEnv();

describe('dlr', () => {
  let dlr: ServiceProcess;
  let stopReading: () => Promise<void>;
  const run = uniqueName('dl');
  const channelId = `ch-${run}`;
  const statuses: sms.StatusEvent[] = [];
  const retries: events.RetryRequest[] = [];
  let serial = 0;

  beforeAll(async () => {
    await ensurePlatformTopics();
    ({ stop: stopReading } = await followTopics(
      [topics.status, topics.retry] as TopicDef<unknown>[],
      (topic, value) => {
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
      TERN_DLR_DEPLOYMENT: run,
      // Test submissions are stamped 3 s in the past: receipts for them are due 5 s after they are published.
      TERN_DLR_OTP_RECEIPT_WINDOW_MS: '8000',
      TERN_KAFKA_NEW_GROUP_STARTS_AT: 'latest',
      TERN_KAFKA_SESSION_TIMEOUT_MS: '10000',
    });
    await waitFor('dlr to be ready', async () => (await dlr.ready()).status === 200, 60_000);
  });
  afterAll(async () => {
    await dlr.stop();
    await stopReading();
    await closeTestProducer();
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
        to: '+6590123456',
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
  });
  const finalOf = (messageId: string) =>
    statuses.filter(
      (s) =>
        s.messageId === messageId &&
        s.status !== sms.MessageStatus.MESSAGE_STATUS_SUBMITTED &&
        s.status !== sms.MessageStatus.MESSAGE_STATUS_FAILED,
    );
  const submittedSeen = (messageId: string) =>
    waitFor('SUBMITTED', () => statuses.some((s) => s.messageId === messageId));
  const S = sms.ReceiptState;

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
  });

  it('matches a receipt that came before its submission, and a hex id for a decimal one', async () => {
    const early = submission(['5000001']);
    await publishValues(topics.dlr, [receipt('5000001', S.RECEIPT_STATE_DELIVRD)]);
    await waitFor('the receipt kept', () => dlr.logs.some((l) => l['smscMessageId'] === '5000001'));
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
});
