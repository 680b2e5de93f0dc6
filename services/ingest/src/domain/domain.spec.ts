import {
  encodeMessage,
  eventSigningInput,
  events,
  signatureMatches,
  signedConversionEvent,
  signedSendEvent,
  signEvent,
  sms,
  statusRank,
} from '@tern/contracts';
import { signedBytesOfProtobuf, signedTextOfJson } from './event-signature';
import { checkConversion, conversionTarget } from './conversion';
import { acceptedEvent, acceptedView, applyStatusEvent, foldStatusEvents } from './message-view';
import { eventWindow, validateSendRequest, type IntakePolicy } from './send-request';

const now = new Date('2026-11-25T12:00:00Z');
const policy: IntakePolicy = { now, allowPrivateCallbacks: false, maxSegments: 10 };
const request = (over: Partial<sms.SendMessageRequest> = {}) =>
  sms.SendMessageRequest.fromPartial({ to: '+6281234567890', from: 'Tern', body: 'Code 1234', ...over });

describe('validateSendRequest', () => {
  it('enriches a valid request once: E.164, country, sender type, encoding, segments, validity', () => {
    const result = validateSendRequest(request({ to: '+62 812 3456 7890' }), 't1', 'm1', policy);
    expect(result).toMatchObject({
      ok: true,
      message: {
        messageId: 'm1',
        tenantId: 't1',
        to: '+6281234567890',
        country: 'ID',
        senderType: sms.SenderType.SENDER_TYPE_ALPHANUMERIC,
        encoding: sms.Encoding.ENCODING_GSM7,
        segments: 1,
        type: sms.MessageType.MESSAGE_TYPE_TRANSACTIONAL,
        expiresAt: new Date(now.getTime() + 48 * 3_600_000),
      },
    });
  });

  it('schedules: validity counts from send_at', () => {
    const sendAt = new Date(now.getTime() + 3_600_000);
    const result = validateSendRequest(
      request({ type: sms.MessageType.MESSAGE_TYPE_OTP, sendAt }),
      't1',
      'm1',
      policy,
    );
    expect(result).toMatchObject({
      ok: true,
      message: { notBefore: sendAt, expiresAt: new Date(sendAt.getTime() + 10 * 60_000) },
    });
  });

  it('reports every broken rule with its field, prefixed for batch items', () => {
    const result = validateSendRequest(
      request({
        to: '12345',
        from: '',
        body: '',
        clientReference: 'has space',
        sendAt: new Date(now.getTime() + 40 * 24 * 3_600_000),
        labels: { 'bad key': 'x' },
      }),
      't1',
      'm1',
      policy,
      'messages[2].',
    );
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.violations.map((v) => `${v.field}=${v.code}`)).toEqual([
        'messages[2].to=NOT_E164',
        'messages[2].from=INVALID_SENDER',
        'messages[2].body=INVALID_BODY',
        'messages[2].client_reference=INVALID_REFERENCE',
        'messages[2].send_at=INVALID_SCHEDULE',
        'messages[2].labels[bad key]=INVALID_LABELS',
      ]);
    }
  });

  it('fingerprints content, not the order labels came in', () => {
    const a = validateSendRequest(request({ labels: { a: '1', b: '2' } }), 't', 'm1', policy);
    const b = validateSendRequest(request({ labels: { b: '2', a: '1' } }), 't', 'm2', policy);
    const c = validateSendRequest(request({ body: 'Code 9999' }), 't', 'm3', policy);
    if (!a.ok || !b.ok || !c.ok) throw new Error('expected valid');
    expect(a.fingerprint).toBe(b.fingerprint);
    expect(c.fingerprint).not.toBe(a.fingerprint);
  });
});

describe('eventWindow', () => {
  it('judges a send event by its message validity, or its type default, from its send time', () => {
    const hourAgo = new Date(now.getTime() - 3_600_000);
    const verdict = (over: Partial<sms.SendMessageRequest>, sentAt = hourAgo) =>
      eventWindow(request(over), sentAt, now);
    expect(verdict({ type: sms.MessageType.MESSAGE_TYPE_OTP })).toEqual({ verdict: 'expired' });
    expect(verdict({ type: sms.MessageType.MESSAGE_TYPE_MARKETING })).toMatchObject({ verdict: 'open' });
    expect(
      verdict({ type: sms.MessageType.MESSAGE_TYPE_OTP, validity: { seconds: 7200, nanos: 0 } }),
    ).toEqual({ verdict: 'open', until: new Date(hourAgo.getTime() + 7_200_000) });
  });

  it('refuses a send time further ahead than clock skew', () => {
    const otp = request({ type: sms.MessageType.MESSAGE_TYPE_OTP });
    expect(eventWindow(otp, new Date(now.getTime() + 60_000), now)).toMatchObject({ verdict: 'open' });
    expect(eventWindow(otp, new Date(now.getTime() + 3_600_000), now)).toEqual({ verdict: 'ahead' });
  });
});

describe('event signatures', () => {
  it('signs the exact protobuf bytes of `message`, whatever else the event holds', () => {
    const message = encodeMessage(sms.SendMessageRequest, request());
    // tenant_id (1), message (4), an unknown field (99) a newer producer might add
    const event = Buffer.concat([
      Buffer.from([0x0a, 0x02, 0x74, 0x31]),
      Buffer.from([0x22, message.length]),
      message,
      Buffer.from([0x98, 0x06, 0x01]),
    ]);
    expect(Buffer.from(signedBytesOfProtobuf(event)!)).toEqual(Buffer.from(message));
    const signature = signEvent('k', message);
    expect(signatureMatches('k', signedBytesOfProtobuf(event)!, signature)).toBe(true);
    expect(signatureMatches('other', message, signature)).toBe(false);
    expect(signatureMatches('k', message, 'zz')).toBe(false);
  });

  it('covers the tenant, key, event id and send time with the message: change any and it fails', () => {
    const message = encodeMessage(sms.SendMessageRequest, request());
    const fields = { tenantId: 't1', keyId: 'k1', eventId: 'ev-1', sentAt: now };
    const signature = signEvent('secret', eventSigningInput(fields, message));
    expect(signatureMatches('secret', eventSigningInput(fields, message), signature)).toBe(true);
    for (const changed of [
      { tenantId: 't2' },
      { keyId: 'k2' },
      { eventId: 'ev-2' },
      { sentAt: new Date(now.getTime() + 1) },
    ]) {
      expect(
        signatureMatches('secret', eventSigningInput({ ...fields, ...changed }, message), signature),
      ).toBe(false);
    }
    // The text form, for producers in any language.
    expect(eventSigningInput(fields, '{"to":"+1"}').toString('utf8')).toBe(
      `tern-send-event-v2\nt1\nk1\nev-1\n${now.getTime()}\n{"to":"+1"}`,
    );
  });

  it("signedSendEvent signs what the intake checks: field 4's bytes of the encoded event", () => {
    const fields = { tenantId: 't1', keyId: 'k1', eventId: 'ev-1', sentAt: now };
    const event = signedSendEvent(fields, request(), 'secret');
    const signed = signedBytesOfProtobuf(encodeMessage(events.SendEvent, event))!;
    expect(signatureMatches('secret', eventSigningInput(fields, signed), event.signature)).toBe(true);
    expect(signatureMatches('other', eventSigningInput(fields, signed), event.signature)).toBe(false);
  });

  it("signedConversionEvent signs field 4's bytes as a conversion, never as a send", () => {
    const fields = { tenantId: 't1', keyId: 'k1', eventId: 'cv-1', sentAt: now };
    const conversion = sms.ReportConversionRequest.fromPartial({ messageId: 'm1', convertedAt: now });
    const event = signedConversionEvent(fields, conversion, 'secret');
    const signed = signedBytesOfProtobuf(encodeMessage(events.ConversionEvent, event))!;
    const asConversion = eventSigningInput(fields, signed, 'conversion');
    expect(signatureMatches('secret', asConversion, event.signature)).toBe(true);
    expect(signatureMatches('secret', eventSigningInput(fields, signed, 'send'), event.signature)).toBe(
      false,
    );
  });

  it('finds the exact JSON text of `message`, strings with braces and escapes included', () => {
    const inner = '{ "body": "a } tricky \\" {text", "labels": {"x": [1, {"y": "]"}]} }';
    const text = `{"tenantId":"t1", "signature" : "ab",\n  "message":   ${inner}  , "sentAt": "2026-01-01T00:00:00Z"}`;
    expect(signedTextOfJson(text)).toBe(inner);
    expect(signedTextOfJson('{"tenantId": "t1"}')).toBeUndefined();
  });
});

describe('message view', () => {
  it('follows status events: attempts created and updated in place, final status from the last', () => {
    const view = acceptedView(validateSendRequestOk());
    const event = (status: sms.MessageStatus, over: Partial<sms.StatusEvent>) =>
      sms.StatusEvent.fromPartial({ messageId: view.messageId, status, occurredAt: now, ...over });
    let next = applyStatusEvent(
      view,
      event(sms.MessageStatus.MESSAGE_STATUS_SUBMITTED, {
        attempt: 1,
        channelId: 'c1',
        smscMessageIds: ['9'],
      }),
      true,
    );
    next = applyStatusEvent(
      next,
      event(sms.MessageStatus.MESSAGE_STATUS_FAILED, {
        attempt: 1,
        receiptState: sms.ReceiptState.RECEIPT_STATE_UNDELIV,
        errorCode: '001',
        reason: { code: 'UNREACHABLE', description: 'x', retryable: true },
      }),
      true,
    );
    next = applyStatusEvent(
      next,
      event(sms.MessageStatus.MESSAGE_STATUS_DELIVERED, { attempt: 2, channelId: 'c2' }),
      true,
    );
    expect(next.status).toBe(sms.MessageStatus.MESSAGE_STATUS_DELIVERED);
    expect(next.reason).toBeUndefined();
    expect(next.attempts).toMatchObject([
      {
        number: 1,
        channelId: 'c1',
        smscMessageIds: ['9'],
        receiptState: sms.ReceiptState.RECEIPT_STATE_UNDELIV,
        errorCode: '001',
        submittedAt: now,
        doneAt: now,
      },
      { number: 2, channelId: 'c2', doneAt: now },
    ]);
    expect(view.attempts).toEqual([]);
  });

  it('folds events in order: the rank follows those that advance, a late one only fills in', () => {
    const view = acceptedView(validateSendRequestOk());
    const event = (status: sms.MessageStatus, over: Partial<sms.StatusEvent> = {}) =>
      sms.StatusEvent.fromPartial({
        messageId: view.messageId,
        status,
        attempt: 1,
        occurredAt: now,
        ...over,
      });
    const delivered = event(sms.MessageStatus.MESSAGE_STATUS_DELIVERED);
    const lateSubmitted = event(sms.MessageStatus.MESSAGE_STATUS_SUBMITTED, { smscMessageIds: ['7'] });
    const folded = foldStatusEvents(view, statusRank(acceptedEvent(validateSendRequestOk())), [
      delivered,
      lateSubmitted,
    ]);
    expect(folded.rank).toBe(statusRank(delivered));
    expect(folded.view?.status).toBe(sms.MessageStatus.MESSAGE_STATUS_DELIVERED);
    expect(folded.view?.attempts[0]?.smscMessageIds).toEqual(['7']);
    // The same events one by one give the same view.
    let oneByOne = applyStatusEvent(view, delivered, true);
    oneByOne = applyStatusEvent(oneByOne, lateSubmitted, false);
    expect(folded.view).toEqual(oneByOne);
  });

  it('an event that does not advance the message only fills in what its attempt lacks', () => {
    const view = acceptedView(validateSendRequestOk());
    const later = new Date(now.getTime() + 5000);
    const delivered = applyStatusEvent(
      view,
      sms.StatusEvent.fromPartial({
        messageId: view.messageId,
        status: sms.MessageStatus.MESSAGE_STATUS_DELIVERED,
        attempt: 1,
        channelId: 'c1',
        receiptState: sms.ReceiptState.RECEIPT_STATE_DELIVRD,
        occurredAt: later,
      }),
      true,
    );
    const lateSubmitted = applyStatusEvent(
      delivered,
      sms.StatusEvent.fromPartial({
        messageId: view.messageId,
        status: sms.MessageStatus.MESSAGE_STATUS_SUBMITTED,
        attempt: 1,
        channelId: 'other',
        smscMessageIds: ['77'],
        occurredAt: now,
      }),
      false,
    );
    expect(lateSubmitted.status).toBe(sms.MessageStatus.MESSAGE_STATUS_DELIVERED);
    expect(lateSubmitted.updatedAt).toEqual(later);
    expect(lateSubmitted.attempts).toMatchObject([
      { number: 1, channelId: 'c1', smscMessageIds: ['77'], doneAt: later, submittedAt: now },
    ]);
  });
});

function validateSendRequestOk() {
  const result = validateSendRequest(request(), 't1', 'm1', policy);
  if (!result.ok) throw new Error('expected valid');
  return result.message;
}

describe('conversion reports', () => {
  const message = { acceptedAt: now, expiresAt: new Date(now.getTime() + 10 * 60_000) };
  const at = (msFromAccept: number) => new Date(now.getTime() + msFromAccept);

  it('names a message by exactly one of message_id and client_reference', () => {
    const by = (over: Partial<sms.ReportConversionRequest>) =>
      conversionTarget(sms.ReportConversionRequest.fromPartial(over));
    expect(by({ messageId: 'm1' })).toEqual({ ok: true, target: { messageId: 'm1' } });
    expect(by({ clientReference: 'r1' })).toEqual({ ok: true, target: { clientReference: 'r1' } });
    expect(by({})).toMatchObject({
      ok: false,
      violations: [{ field: 'message_id', code: 'ONE_OF_REQUIRED' }],
    });
    expect(by({ messageId: 'm1', clientReference: 'r1' })).toMatchObject({
      ok: false,
      violations: [{ field: 'client_reference', code: 'ONE_OF_REQUIRED' }],
    });
  });

  it('takes a time within the validity, or now when none is given', () => {
    expect(checkConversion(message, at(30_000), at(40_000))).toEqual({ kind: 'ok', convertedAt: at(30_000) });
    expect(checkConversion(message, undefined, at(40_000))).toEqual({ kind: 'ok', convertedAt: at(40_000) });
  });

  it('refuses a conversion after the validity, before the acceptance, or in the future', () => {
    expect(checkConversion(message, at(11 * 60_000), at(12 * 60_000))).toEqual({
      kind: 'late',
      expiresAt: message.expiresAt,
    });
    expect(checkConversion(message, at(-10 * 60_000), at(60_000))).toMatchObject({
      kind: 'invalid',
      violations: [{ field: 'converted_at', code: 'CONVERTED_BEFORE_ACCEPTED' }],
    });
    expect(checkConversion(message, at(9 * 60_000), at(60_000))).toMatchObject({
      kind: 'invalid',
      violations: [{ field: 'converted_at', code: 'CONVERTED_AT_AHEAD' }],
    });
  });
});
