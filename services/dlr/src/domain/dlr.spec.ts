import { events, sms } from '@tern/contracts';
import { attemptRecord } from './attempt-record';
import { receiptOutcome, resolveParts } from './outcomes';
import { sameSmscId, smscIdReadings } from './smsc-id';
import { callbackEventId, nextCallbackTry, signCallback, verifyCallback } from './status-callback';

describe('SMSC ids across bases', () => {
  it.each([
    ['12345678', '00BC614E'], // decimal answer, hex receipt
    ['bc614e', '12345678'], // hex answer, decimal receipt
    ['0012345678', '12345678'], // leading zeros
    ['ABCDEF', 'abcdef'],
    ['9f1c2d3e-0000-4000-8000-000000000001', '9F1C2D3E-0000-4000-8000-000000000001'],
  ])('%s is %s', (submitted, reported) => expect(sameSmscId(submitted, reported)).toBe(true));

  it.each([
    ['12345678', '12345679'],
    ['bc614e', 'bc614f'],
    ['9f1c2d3e-0000-4000-8000-000000000001', '9f1c2d3e-0000-4000-8000-000000000002'],
  ])('%s is not %s', (submitted, reported) => expect(sameSmscId(submitted, reported)).toBe(false));

  it('reads an all-digit id both ways, and a lettered one as hex only', () => {
    expect(smscIdReadings('10')).toEqual(['10', '16']);
    expect(smscIdReadings('a')).toEqual(['10']);
  });
});

describe('receipt outcomes', () => {
  const S = sms.ReceiptState;
  it('maps states and network errors to the public vocabulary', () => {
    expect(receiptOutcome(S.RECEIPT_STATE_DELIVRD, '000')?.reason.code).toBe('DELIVERED');
    expect(receiptOutcome(S.RECEIPT_STATE_UNDELIV, '001')?.reason).toMatchObject({
      code: 'UNKNOWN_SUBSCRIBER',
      retryable: false,
    });
    expect(receiptOutcome(S.RECEIPT_STATE_UNDELIV, '27')?.reason).toMatchObject({
      code: 'UNREACHABLE',
      retryable: true,
    });
    expect(receiptOutcome(S.RECEIPT_STATE_REJECTD, '069')?.reason.code).toBe('FILTERED');
    expect(receiptOutcome(S.RECEIPT_STATE_EXPIRED, '000')?.status).toBe(
      sms.MessageStatus.MESSAGE_STATUS_EXPIRED,
    );
    expect(receiptOutcome(S.RECEIPT_STATE_UNDELIV, '999')?.reason.code).toBe('UNREACHABLE');
    expect(receiptOutcome(S.RECEIPT_STATE_ENROUTE, '000')).toBeUndefined();
  });

  it('resolves a multipart message: all delivered, or the first failure', () => {
    const ok = receiptOutcome(S.RECEIPT_STATE_DELIVRD, '000');
    const absent = receiptOutcome(S.RECEIPT_STATE_UNDELIV, '027');
    expect(resolveParts([ok, undefined], 2)).toBeUndefined();
    expect(resolveParts([ok, ok], 2)?.reason.code).toBe('DELIVERED');
    expect(resolveParts([ok, absent, undefined], 3)?.reason.code).toBe('UNREACHABLE');
  });
});

describe('status callbacks', () => {
  const body = '{"messageId":"m1","status":"MESSAGE_STATUS_DELIVERED"}';

  it('signs the timestamp and the exact body; a receiver refuses another body, secret or an old timestamp', () => {
    const header = signCallback(['s3cret'], 1_800_000_000, body);
    expect(header).toMatch(/^t=1800000000,v1=[0-9a-f]{64}$/);
    expect(verifyCallback('s3cret', header, body, 1_800_000_010)).toBe(true);
    expect(verifyCallback('s3cret', header, body.replace('m1', 'm2'), 1_800_000_010)).toBe(false);
    expect(verifyCallback('other', header, body, 1_800_000_010)).toBe(false);
    expect(verifyCallback('s3cret', header, body, 1_800_000_000 + 301)).toBe(false);
    expect(verifyCallback('s3cret', 'garbage', body, 1_800_000_000)).toBe(false);
  });

  it('signs under the new and the retiring secret while one is rotated: a receiver with either accepts', () => {
    const header = signCallback(['new-secret', 'old-secret'], 1_800_000_000, body);
    expect(header).toMatch(/^t=1800000000,v1=[0-9a-f]{64},v1=[0-9a-f]{64}$/);
    expect(verifyCallback('new-secret', header, body, 1_800_000_010)).toBe(true);
    expect(verifyCallback('old-secret', header, body, 1_800_000_010)).toBe(true);
    expect(verifyCallback('third-secret', header, body, 1_800_000_010)).toBe(false);
  });

  it('names an event the same however often it comes, and two changes of one attempt apart', () => {
    const event = (code: string) =>
      sms.StatusEvent.fromPartial({
        messageId: 'm1',
        attempt: 1,
        status: sms.MessageStatus.MESSAGE_STATUS_UNDELIVERED,
        reason: { code },
      });
    expect(callbackEventId(event('NO_RECEIPT'))).toBe(callbackEventId(event('NO_RECEIPT')));
    expect(callbackEventId(event('NO_RECEIPT'))).not.toBe(callbackEventId(event('UNREACHABLE')));
  });

  it('backs off exponentially with jitter, up to the cap, and gives up at the deadline', () => {
    const policy = { baseMs: 1000, maxMs: 8000, giveUpMs: 60_000 };
    const mid = () => 0.5; // no jitter
    expect(nextCallbackTry(1, 0, 0, policy, mid)).toBe(1000);
    expect(nextCallbackTry(3, 0, 0, policy, mid)).toBe(4000);
    expect(nextCallbackTry(10, 0, 0, policy, mid)).toBe(8000);
    expect(nextCallbackTry(1, 0, 0, policy, () => 0)).toBe(800);
    expect(nextCallbackTry(1, 0, 0, policy, () => 1)).toBe(1200);
    expect(nextCallbackTry(10, 0, 58_000, policy, mid)).toBe(60_000); // the last try at the deadline
    expect(nextCallbackTry(11, 0, 60_000, policy, mid)).toBeUndefined();
  });
});

describe('attempt records', () => {
  it('keep what analytics needs, the recipient only as a keyed hash', () => {
    const submittedAt = new Date('2026-11-28T10:00:02Z');
    const record = attemptRecord(
      events.SubmitResult.fromPartial({
        messageId: 'm1',
        attempt: 2,
        channelId: 'direct-sg',
        tier: 'direct',
        pricePerSegment: 0.04,
        submittedAt,
        submitLatencyMs: 40,
      }),
      events.SmsMessage.fromPartial({
        messageId: 'm1',
        tenantId: 't',
        to: '+6590123456',
        body: 'Your code is 123456',
        country: 'SG',
        segments: 1,
        acceptedAt: new Date('2026-11-28T10:00:00Z'),
      }),
      {
        status: sms.MessageStatus.MESSAGE_STATUS_DELIVERED,
        reason: { code: 'DELIVERED', description: '', retryable: false },
        doneAt: new Date('2026-11-28T10:00:05Z'),
        version: 1,
      },
      'key-of-sixteen-chars',
    );
    expect(record).toMatchObject({
      attempt: 2,
      tier: 'direct',
      deliveryLatencyMs: 3000,
      endToEndLatencyMs: 5000,
    });
    expect(record.recipientHash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(events.AttemptRecord.toJSON(record))).not.toMatch(/6590123456|123456/);
  });
});
