import { sms } from '@tern/contracts';
import { receiptOutcome, resolveParts } from './outcomes';
import { sameSmscId, smscIdReadings } from './smsc-id';

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
