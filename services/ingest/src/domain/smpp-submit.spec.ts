import { sms } from '@tern/contracts';
import { shortMessageBody, Status, type ShortMessageBody } from '@tern/smpp';
import {
  formatMessageId,
  parseMessageId,
  parseSmppTime,
  readSubmit,
  receiptDue,
  violationStatus,
} from './smpp-submit';

const now = new Date('2026-12-01T10:00:00Z');
const body = (over: Partial<ShortMessageBody> = {}): ShortMessageBody =>
  shortMessageBody({
    sourceAddrTon: 5,
    sourceAddr: 'Acme',
    destAddrTon: 1,
    destAddrNpi: 1,
    destinationAddr: '6281234567890',
    registeredDelivery: 1,
    ...over,
  });
const statusOf = (over: Partial<ShortMessageBody>) => {
  const r = readSubmit(body(over), 'hi', now);
  return r.ok ? Status.ESME_ROK : r.status;
};

describe('readSubmit', () => {
  it('makes a send request of a submit_sm: E.164 recipient, sender as written, type, receipt wanted', () => {
    const r = readSubmit(body({ serviceType: 'OTP' }), 'Your code', now);
    expect(r).toEqual({
      ok: true,
      receipt: 'always',
      request: expect.objectContaining({
        to: '+6281234567890',
        from: 'Acme',
        body: 'Your code',
        type: sms.MessageType.MESSAGE_TYPE_OTP,
        validity: undefined,
        sendAt: undefined,
      }),
    });
    const numeric = readSubmit(
      body({ sourceAddrTon: 1, sourceAddr: '6590001111', registeredDelivery: 2 }),
      'x',
      now,
    );
    expect(numeric).toMatchObject({ ok: true, receipt: 'failure', request: { from: '+6590001111' } });
    const short = readSubmit(
      body({ sourceAddrTon: 3, sourceAddr: '72345', registeredDelivery: 0 }),
      'x',
      now,
    );
    expect(short).toMatchObject({ ok: true, receipt: 'never', request: { from: '72345' } });
  });

  it('reads validity_period and schedule_delivery_time, validity counted from the send time', () => {
    const r = readSubmit(
      body({ scheduleDeliveryTime: '261201110000000+', validityPeriod: '000000020000000R' }),
      'x',
      now,
    );
    expect(r).toMatchObject({ ok: true, request: { sendAt: new Date('2026-12-01T11:00:00Z') } });
    // Relative: two hours from now, one hour after the send time.
    expect(r.ok && r.request.validity).toEqual({ seconds: 3600, nanos: 0 });
  });

  it('refuses what SMPP forbids, each with its command_status', () => {
    expect(statusOf({ esmClass: 0x04 })).toBe(Status.ESME_RINVESMCLASS);
    expect(statusOf({ serviceType: 'WAP' })).toBe(Status.ESME_RINVSERTYP);
    expect(statusOf({ registeredDelivery: 3 })).toBe(Status.ESME_RINVREGDLVFLG);
    expect(statusOf({ destAddrTon: 2 })).toBe(Status.ESME_RINVDSTTON);
    expect(statusOf({ destinationAddr: '+62abc' })).toBe(Status.ESME_RINVDSTADR);
    expect(statusOf({ sourceAddr: '' })).toBe(Status.ESME_RINVSRCADR);
    expect(statusOf({ validityPeriod: 'tomorrow' })).toBe(Status.ESME_RINVEXPIRY);
    expect(statusOf({ validityPeriod: '261201095900000+' })).toBe(Status.ESME_RINVEXPIRY); // already over
    expect(statusOf({ scheduleDeliveryTime: '261301110000000+' })).toBe(Status.ESME_RINVSCHED); // month 13
    expect(statusOf({ destAddrTon: 0, destinationAddr: '+6281234567890' })).toBe(Status.ESME_ROK);
  });
});

describe('parseSmppTime', () => {
  it('reads absolute times with their UTC offset in quarter hours, and relative ones', () => {
    expect(parseSmppTime('261201123000008+', now)).toEqual(new Date('2026-12-01T10:30:00Z'));
    expect(parseSmppTime('261201123000008-', now)).toEqual(new Date('2026-12-01T14:30:00Z'));
    expect(parseSmppTime('000001000000000R', now)).toEqual(new Date('2026-12-02T10:00:00Z'));
    expect(parseSmppTime('', now)).toBeUndefined();
    expect(() => parseSmppTime('260231120000000+', now)).toThrow('not a date');
    expect(() => parseSmppTime('26120112000000+', now)).toThrow();
  });
});

describe('message ids', () => {
  it('writes one id as UUID, hex or decimal and reads each back', () => {
    const id = '01a22fd4-012a-7393-962b-527ccec5a2c6';
    for (const format of ['uuid', 'hex', 'decimal'] as const) {
      expect(parseMessageId(formatMessageId(id, format), format)).toBe(id);
    }
    expect(formatMessageId(id, 'hex')).toBe('01A22FD4012A7393962B527CCEC5A2C6');
    expect(formatMessageId(id, 'decimal')).toMatch(/^\d+$/);
    expect(parseMessageId('12ab', 'decimal')).toBeUndefined();
    expect(parseMessageId('1'.repeat(40), 'decimal')).toBeUndefined();
  });
});

describe('receipts and refusals', () => {
  it('owes a receipt for final statuses only, failures only when asked so', () => {
    const event = (status: sms.MessageStatus, errorCode = '') => ({ status, errorCode });
    expect(receiptDue(event(sms.MessageStatus.MESSAGE_STATUS_SUBMITTED), 'always')).toBeUndefined();
    expect(receiptDue(event(sms.MessageStatus.MESSAGE_STATUS_DELIVERED), 'always')).toEqual({
      stat: 'DELIVRD',
      err: '000',
    });
    expect(receiptDue(event(sms.MessageStatus.MESSAGE_STATUS_DELIVERED), 'failure')).toBeUndefined();
    expect(receiptDue(event(sms.MessageStatus.MESSAGE_STATUS_FAILED, '34'), 'failure')).toEqual({
      stat: 'UNDELIV',
      err: '034',
    });
    expect(receiptDue(event(sms.MessageStatus.MESSAGE_STATUS_REJECTED, 'SUBMIT_TIMEOUT'), 'always')).toEqual({
      stat: 'REJECTD',
      err: '000',
    });
  });

  it('names the field Tern refused in the command_status', () => {
    const v = (field: string) => [{ field, code: 'X', description: '' }];
    expect(violationStatus(v('to'))).toBe(Status.ESME_RINVDSTADR);
    expect(violationStatus(v('from'))).toBe(Status.ESME_RINVSRCADR);
    expect(violationStatus(v('body'))).toBe(Status.ESME_RINVMSGLEN);
    expect(violationStatus(v('validity'))).toBe(Status.ESME_RINVEXPIRY);
    expect(violationStatus(v('labels'))).toBe(Status.ESME_RSUBMITFAIL);
  });
});
