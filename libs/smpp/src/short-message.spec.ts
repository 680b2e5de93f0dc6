import { encodeGsm7, encodeUcs2 } from '@tern/sms-domain';
import { DataCoding, EsmClass, Status, Tlv } from './constants';
import { shortMessageBody, type ShortMessageBody } from './pdu';
import { readShortMessage, ShortMessageError } from './short-message';
import { tlv } from './tlv';

const body = (over: Partial<ShortMessageBody>): ShortMessageBody =>
  shortMessageBody({ sourceAddr: 'Acme', destinationAddr: '6281234567890', ...over });

const refusal = (b: ShortMessageBody): number | undefined => {
  try {
    readShortMessage(b);
    return undefined;
  } catch (e) {
    return (e as ShortMessageError).status;
  }
};

describe('readShortMessage', () => {
  it('decodes each data_coding', () => {
    expect(readShortMessage(body({ shortMessage: encodeGsm7('Code {1} €') })).text).toBe('Code {1} €');
    expect(
      readShortMessage(body({ dataCoding: DataCoding.IA5, shortMessage: Buffer.from('abc') })).text,
    ).toBe('abc');
    expect(
      readShortMessage(body({ dataCoding: DataCoding.LATIN1, shortMessage: Buffer.from('café', 'latin1') }))
        .text,
    ).toBe('café');
    expect(
      readShortMessage(body({ dataCoding: DataCoding.UCS2, shortMessage: encodeUcs2('код 12') })).text,
    ).toBe('код 12');
  });

  it('takes message_payload when short_message is empty', () => {
    const long = 'x'.repeat(400);
    expect(readShortMessage(body({ tlvs: [tlv.bytes(Tlv.message_payload, encodeGsm7(long))] })).text).toBe(
      long,
    );
  });

  it('cuts the UDH off and reads its concatenation, 8- and 16-bit references', () => {
    const udh8 = Buffer.concat([Buffer.from([5, 0, 3, 0x2a, 3, 2]), encodeGsm7('part two')]);
    expect(readShortMessage(body({ esmClass: EsmClass.UDHI, shortMessage: udh8 }))).toMatchObject({
      text: 'part two',
      udhLength: 6,
      concatenation: { reference: 0x2a, total: 3, sequence: 2 },
    });
    const udh16 = Buffer.concat([Buffer.from([6, 8, 4, 0x12, 0x34, 2, 1]), encodeUcs2('é')]);
    expect(
      readShortMessage(body({ esmClass: EsmClass.UDHI, dataCoding: DataCoding.UCS2, shortMessage: udh16 })),
    ).toMatchObject({ text: 'é', concatenation: { reference: 0x1234, total: 2, sequence: 1 } });
  });

  it('reads SAR concatenation, all three TLVs or none', () => {
    const sar = [
      tlv.u16(Tlv.sar_msg_ref_num, 700),
      tlv.u8(Tlv.sar_total_segments, 2),
      tlv.u8(Tlv.sar_segment_seqnum, 2),
    ];
    expect(readShortMessage(body({ shortMessage: encodeGsm7('b'), tlvs: sar })).concatenation).toEqual({
      reference: 700,
      total: 2,
      sequence: 2,
    });
    expect(refusal(body({ shortMessage: encodeGsm7('b'), tlvs: sar.slice(1) }))).toBe(
      Status.ESME_RINVTLVSTREAM,
    );
  });

  it('refuses what cannot be read, each with its command_status', () => {
    expect(refusal(body({ dataCoding: 0x04, shortMessage: Buffer.from([1, 2]) }))).toBe(Status.ESME_RINVDCS);
    expect(refusal(body({ dataCoding: DataCoding.UCS2, shortMessage: Buffer.from([1]) }))).toBe(
      Status.ESME_RINVDCS,
    );
    expect(refusal(body({ dataCoding: DataCoding.IA5, shortMessage: Buffer.from([0xc3]) }))).toBe(
      Status.ESME_RINVDCS,
    );
    expect(refusal(body({ esmClass: EsmClass.UDHI, shortMessage: Buffer.from([9, 0, 3]) }))).toBe(
      Status.ESME_RINVESMCLASS,
    );
    // A receipt an ESME reads: any other data_coding is taken as GSM.
    expect(
      readShortMessage(body({ dataCoding: 0xf0, shortMessage: encodeGsm7('id:1') }), { otherCodings: 'gsm7' })
        .text,
    ).toBe('id:1');
  });
});
