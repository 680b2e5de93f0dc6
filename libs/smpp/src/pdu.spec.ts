import * as reference from 'smpp';
import { DataCoding, EsmClass, MessageState, Status, Tlv } from './constants';
import { FramingError, PduFramer } from './framing';
import { decodePdu, encodePdu, PduError, type Pdu, type ShortMessageBody } from './pdu';
import { readTlvInt, readTlvString, tlv } from './tlv';

const submit: ShortMessageBody = {
  serviceType: '',
  sourceAddrTon: 5,
  sourceAddrNpi: 0,
  sourceAddr: 'TernBank',
  destAddrTon: 1,
  destAddrNpi: 1,
  destinationAddr: '6591234567',
  esmClass: 0,
  protocolId: 0,
  priorityFlag: 1,
  scheduleDeliveryTime: '',
  validityPeriod: '000000001000000R',
  registeredDelivery: 1,
  replaceIfPresentFlag: 0,
  dataCoding: DataCoding.IA5,
  smDefaultMsgId: 0,
  shortMessage: Buffer.from('Your code is 123456'),
  tlvs: [],
};

describe('PDU codec', () => {
  it('round-trips every command it writes', () => {
    const pdus: Pdu[] = [
      {
        command: 'bind_transceiver',
        status: 0,
        sequence: 1,
        body: {
          systemId: 'tern',
          password: 'secret',
          systemType: 'OTP',
          interfaceVersion: 0x34,
          addrTon: 0,
          addrNpi: 0,
          addressRange: '',
        },
      },
      {
        command: 'bind_transceiver_resp',
        status: 0,
        sequence: 1,
        body: { systemId: 'SMSC', tlvs: [tlv.u8(Tlv.sc_interface_version, 0x34)] },
      },
      { command: 'submit_sm', status: 0, sequence: 2, body: submit },
      { command: 'submit_sm_resp', status: 0, sequence: 2, body: { messageId: '0a1b2c' } },
      {
        command: 'deliver_sm',
        status: 0,
        sequence: 3,
        body: {
          ...submit,
          esmClass: EsmClass.DELIVERY_RECEIPT,
          tlvs: [tlv.cstring(Tlv.receipted_message_id, '0a1b2c'), tlv.u8(Tlv.message_state, 2)],
        },
      },
      { command: 'enquire_link', status: 0, sequence: 4, body: {} },
      { command: 'generic_nack', status: Status.ESME_RINVCMDID, sequence: 5, body: {} },
    ];
    for (const pdu of pdus) expect(decodePdu(encodePdu(pdu))).toEqual(pdu);
  });

  it('writes error responses without a body and reads them back', () => {
    const buf = encodePdu({
      command: 'submit_sm_resp',
      status: Status.ESME_RTHROTTLED,
      sequence: 9,
      body: { messageId: 'x' },
    });
    expect(buf.length).toBe(16);
    expect(decodePdu(buf)).toEqual({
      command: 'submit_sm_resp',
      status: Status.ESME_RTHROTTLED,
      sequence: 9,
      body: { messageId: '' },
    });
  });

  it('is read correctly by an independent implementation (the smpp package)', () => {
    const theirs = reference.PDU.fromBuffer(
      encodePdu({ command: 'submit_sm', status: 0, sequence: 7, body: submit }),
    );
    expect(theirs).toMatchObject({
      command: 'submit_sm',
      sequence_number: 7,
      source_addr_ton: 5,
      source_addr: 'TernBank',
      destination_addr: '6591234567',
      registered_delivery: 1,
      data_coding: DataCoding.IA5,
      short_message: { message: 'Your code is 123456' },
    });
    // It reads our relative validity period as "10 minutes from now".
    const validUntil = (theirs as unknown as { validity_period: Date }).validity_period.getTime();
    expect(Math.abs(validUntil - Date.now() - 600_000)).toBeLessThan(5_000);
  });

  it('reads what an independent implementation writes, TLVs included', () => {
    const bind = new reference.PDU('bind_transmitter', {
      sequence_number: 3,
      system_id: 'acme',
      password: 'pw',
      interface_version: 0x34,
    });
    expect(decodePdu(bind.toBuffer())).toMatchObject({
      command: 'bind_transmitter',
      sequence: 3,
      body: { systemId: 'acme', password: 'pw', interfaceVersion: 0x34 },
    });
    const receipt = new reference.PDU('deliver_sm', {
      sequence_number: 11,
      esm_class: EsmClass.DELIVERY_RECEIPT,
      source_addr: '6591234567',
      short_message:
        'id:1234 sub:001 dlvrd:001 submit date:2611251200 done date:2611251201 stat:DELIVRD err:000 text:',
      receipted_message_id: '1234',
      message_state: MessageState.DELIVERED,
    });
    const ours = decodePdu(receipt.toBuffer()) as Pdu<'deliver_sm'>;
    expect(ours.body.esmClass).toBe(EsmClass.DELIVERY_RECEIPT);
    expect(ours.body.shortMessage.toString('latin1')).toContain('stat:DELIVRD');
    expect(readTlvString(ours.body.tlvs, Tlv.receipted_message_id)).toBe('1234');
    expect(readTlvInt(ours.body.tlvs, Tlv.message_state)).toBe(MessageState.DELIVERED);
  });

  it.each([
    ['an unknown command id', Buffer.from('0000001000000077000000000000002a', 'hex'), Status.ESME_RINVCMDID],
    [
      'a string without its NUL',
      Buffer.from('000000150000000200000000000000026162636465', 'hex'),
      Status.ESME_RINVCMDLEN,
    ],
    [
      'a TLV longer than the PDU',
      Buffer.from('00000017800000090000000000000002410002100' + '0ff00', 'hex'),
      Status.ESME_RINVTLVSTREAM,
    ],
  ])('refuses %s with the status to answer', (_what, buf, status) => {
    expect(() => decodePdu(buf)).toThrow(PduError);
    try {
      decodePdu(buf);
    } catch (e) {
      expect((e as PduError).status).toBe(status);
    }
  });
});

describe('PduFramer', () => {
  const a = encodePdu({ command: 'enquire_link', status: 0, sequence: 1, body: {} });
  const b = encodePdu({ command: 'submit_sm', status: 0, sequence: 2, body: submit });

  it('cuts PDUs split across chunks and several in one chunk', () => {
    const framer = new PduFramer();
    const stream = Buffer.concat([a, b, a]);
    const out = [
      ...framer.push(stream.subarray(0, 3)),
      ...framer.push(stream.subarray(3, 30)),
      ...framer.push(stream.subarray(30)),
    ];
    expect(out.map((f) => decodePdu(f).command)).toEqual(['enquire_link', 'submit_sm', 'enquire_link']);
  });

  it('refuses a command_length it cannot trust instead of buffering it', () => {
    expect(() => new PduFramer(4096).push(Buffer.from('7fffffff00000004', 'hex'))).toThrow(FramingError);
    expect(() => new PduFramer().push(Buffer.from('0000000300000004', 'hex'))).toThrow(/outside 16/);
  });
});
