import { events, sms } from '@tern/contracts';
import {
  DataCoding,
  EsmClass,
  Status,
  Tlv,
  Ton,
  findTlv,
  readTlvInt,
  tlv,
  type ShortMessageBody,
} from '@tern/smpp';
import {
  decodeGsm7,
  decodeUcs2,
  encodeGsm7,
  formatReceiptText,
  parseUdh,
  unpackSeptets,
} from '@tern/sms-domain';
import { channelSchema } from './channel';
import { mapDeliverSm } from './deliver-mapper';
import { classifySubmitStatus } from './submit-status';
import { buildSubmits, MessageExpiredError, relativeValidity } from './submit-builder';

const channel = (over: object = {}) =>
  channelSchema.parse({
    id: 'c1',
    host: '127.0.0.1',
    port: 2775,
    systemId: 's',
    password: { env: 'P' },
    tpsPerBind: 10,
    ...over,
  });
const message = (body: string, over: Partial<events.SmsMessage> = {}) =>
  events.SmsMessage.fromPartial({
    messageId: 'm1',
    to: '+6590000001',
    from: 'TernBank',
    body,
    type: sms.MessageType.MESSAGE_TYPE_OTP,
    ...over,
  });

/** What a handset would show: the parts' texts joined in UDH/SAR order. */
function reassemble(parts: ShortMessageBody[]): string {
  return parts
    .map((p) => {
      const udh = p.esmClass & EsmClass.UDHI ? parseUdh(p.shortMessage) : undefined;
      const payload = p.shortMessage.subarray(udh?.length ?? 0);
      const seq = udh?.concatenation?.sequence ?? readTlvInt(p.tlvs, Tlv.sar_segment_seqnum) ?? 1;
      return { seq, text: p.dataCoding === DataCoding.UCS2 ? decodeUcs2(payload) : decodeGsm7(payload) };
    })
    .sort((a, b) => a.seq - b.seq)
    .map((p) => p.text)
    .join('');
}

describe('buildSubmits', () => {
  it.each([
    ['GSM-7, one part', 'Your code is 123456', 1, DataCoding.SMSC_DEFAULT],
    ['GSM-7 with extension characters, two parts', `${'{€}'.repeat(40)}[x]`, 2, DataCoding.SMSC_DEFAULT],
    ['GSM-7, three parts', 'a'.repeat(400), 3, DataCoding.SMSC_DEFAULT],
    ['UCS-2, two parts', 'Ваш код 123456. '.repeat(6), 2, DataCoding.UCS2],
    ['emoji, three parts', '😀'.repeat(90), 3, DataCoding.UCS2],
  ])('%s reassembles exactly', (_name, body, parts, dataCoding) => {
    for (const concatenation of ['udh8', 'udh16', 'sar'] as const) {
      const built = buildSubmits(message(body), channel({ concatenation }), 0x1234);
      expect(built).toHaveLength(parts);
      expect(built.every((p) => p.dataCoding === dataCoding && p.registeredDelivery === 1)).toBe(true);
      expect(reassemble(built)).toBe(body);
    }
  });

  it('sets TON/NPI from the sender type', () => {
    const alpha = buildSubmits(message('x'), channel(), 1)[0];
    expect([alpha?.sourceAddrTon, alpha?.sourceAddrNpi, alpha?.destAddrTon, alpha?.destinationAddr]).toEqual([
      Ton.ALPHANUMERIC,
      0,
      Ton.INTERNATIONAL,
      '6590000001',
    ]);
    const long = buildSubmits(message('x', { from: '+14155550100' }), channel(), 1)[0];
    expect([long?.sourceAddrTon, long?.sourceAddrNpi, long?.sourceAddr]).toEqual([
      Ton.INTERNATIONAL,
      1,
      '14155550100',
    ]);
    const short = buildSubmits(message('x', { from: '72345' }), channel(), 1)[0];
    expect([short?.sourceAddrTon, short?.sourceAddrNpi]).toEqual([Ton.NETWORK_SPECIFIC, 0]);
  });

  it('packs GSM text when the channel wants it, and carries the whole text in message_payload when asked', () => {
    const packed = buildSubmits(message('hellohello'), channel({ gsm7: 'packed' }), 1)[0];
    expect(packed?.shortMessage.toString('hex').toUpperCase()).toBe('E8329BFD4697D9EC37');
    expect(decodeGsm7(unpackSeptets(packed?.shortMessage ?? Buffer.alloc(0), 10))).toBe('hellohello');
    const payload = buildSubmits(message('a'.repeat(400)), channel({ concatenation: 'payload' }), 1);
    expect(payload).toHaveLength(1);
    expect(findTlv(payload[0]?.tlvs ?? [], Tlv.message_payload)).toEqual(encodeGsm7('a'.repeat(400)));
  });

  it('uses Latin-1 only where the channel supports it', () => {
    expect(buildSubmits(message('ça coûte 10 €? non: ç'), channel(), 1)[0]?.dataCoding).toBe(DataCoding.UCS2);
    expect(buildSubmits(message('Grüße, ça coûte ¤10'), channel({ latin1: true }), 1)[0]?.dataCoding).toBe(
      DataCoding.LATIN1,
    );
  });

  it('gives the SMSC the validity left, and refuses an expired message', () => {
    const now = new Date('2026-11-25T12:00:00Z');
    expect(relativeValidity(new Date('2026-11-25T12:10:00Z'), now)).toBe('000000001000000R');
    expect(relativeValidity(new Date('2026-11-27T13:00:05Z'), now)).toBe('000002010005000R');
    expect(() =>
      buildSubmits(message('x', { expiresAt: new Date('2026-11-25T11:59:00Z') }), channel(), 1, now),
    ).toThrow(MessageExpiredError);
  });
});

describe('mapDeliverSm', () => {
  const receipt = (id: string, tlvs = true): ShortMessageBody => ({
    ...buildSubmits(message('x'), channel(), 1)[0]!,
    esmClass: EsmClass.DELIVERY_RECEIPT,
    sourceAddr: '6590000001',
    shortMessage: encodeGsm7(
      formatReceiptText({
        id,
        submitted: 1,
        delivered: 0,
        submitDate: new Date('2026-11-25T12:00:00Z'),
        doneDate: new Date('2026-11-25T12:00:00Z'),
        stat: 'UNDELIV',
        err: '027',
        text: '',
      }),
    ),
    tlvs: tlvs
      ? [
          tlv.cstring(Tlv.receipted_message_id, id),
          tlv.u8(Tlv.message_state, 5),
          tlv.bytes(Tlv.network_error_code, Buffer.from([3, 0, 27])),
        ]
      : [],
  });

  it.each([
    ['hex id with TLVs', '3B9ACA0F', true],
    ['decimal id from the text only', '1000000015', false],
  ])('turns a receipt (%s) into an sms.dlr event', (_name, id, withTlvs) => {
    const at = new Date();
    expect(mapDeliverSm(receipt(id, withTlvs), 'c1', at)).toEqual({
      kind: 'receipt',
      receipt: {
        channelId: 'c1',
        smscMessageId: id,
        state: sms.ReceiptState.RECEIPT_STATE_UNDELIV,
        errorCode: '027',
        submitDate: new Date('2026-11-25T12:00:00Z'),
        doneDate: new Date('2026-11-25T12:00:00Z'),
        receivedAt: at,
        // The receipt's source_addr: the handset the message went to.
        handset: '6590000001',
      },
    });
  });

  it('turns a mobile-originated STOP into an inbound message', () => {
    const mo = {
      ...receipt('1'),
      esmClass: 0,
      sourceAddr: '6590000001',
      destinationAddr: 'TernBank',
      shortMessage: encodeGsm7('STOP'),
      tlvs: [],
    };
    expect(mapDeliverSm(mo, 'c1', new Date(0))).toEqual({
      kind: 'inbound',
      message: { channelId: 'c1', from: '6590000001', to: 'TernBank', body: 'STOP', receivedAt: new Date(0) },
    });
  });
});

describe('classifySubmitStatus', () => {
  it('tells busy from permanent from transient', () => {
    expect(classifySubmitStatus(Status.ESME_ROK).class).toBe('accepted');
    expect(classifySubmitStatus(Status.ESME_RTHROTTLED).class).toBe('busy');
    expect(classifySubmitStatus(Status.ESME_RMSGQFUL).class).toBe('busy');
    expect(classifySubmitStatus(Status.ESME_RINVDSTADR)).toEqual({
      class: 'permanent',
      errorCode: 'INVALID_DESTINATION',
    });
    expect(classifySubmitStatus(Status.ESME_RSYSERR).class).toBe('transient');
  });
});
