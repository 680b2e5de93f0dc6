import { decodeGsm7, decodeUcs2, parseUdh, type Concatenation } from '@tern/sms-domain';
import { DataCoding, EsmClass, Status, Tlv } from './constants';
import type { ShortMessageBody } from './pdu';
import { findTlv, readTlvInt } from './tlv';

/** Why a submit_sm or deliver_sm's text cannot be read, with the command_status that says so. */
export class ShortMessageError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'ShortMessageError';
  }
}

export interface ShortMessageContent {
  /** The decoded text, without its user data header. */
  text: string;
  /** The text's octets as sent, without the header. */
  octets: Buffer;
  /** Octets the user data header took (0 without one). */
  udhLength: number;
  /** Which part of a concatenated message this is: from the UDH, else from the sar_* TLVs. */
  concatenation?: Concatenation;
}

/**
 * The text of a submit_sm or deliver_sm: short_message, or message_payload when short_message is empty;
 * the UDH (esm_class UDHI) read and cut off; decoded by data_coding (0 GSM 7-bit unpacked, 1 IA5, 3 Latin-1,
 * 8 UCS-2). `otherCodings: 'gsm7'` reads any other data_coding as GSM (what an ESME does with a receipt from
 * an SMSC that labels it oddly); by default they are refused with ESME_RINVDCS.
 */
export function readShortMessage(
  body: ShortMessageBody,
  options: { otherCodings?: 'refuse' | 'gsm7' } = {},
): ShortMessageContent {
  let octets =
    body.shortMessage.length > 0
      ? body.shortMessage
      : (findTlv(body.tlvs, Tlv.message_payload) ?? Buffer.alloc(0));
  let udhLength = 0;
  let concatenation: Concatenation | undefined;
  if (body.esmClass & EsmClass.UDHI) {
    try {
      const udh = parseUdh(octets);
      udhLength = udh.length;
      concatenation = udh.concatenation;
    } catch (e) {
      throw new ShortMessageError((e as Error).message, Status.ESME_RINVESMCLASS);
    }
    octets = octets.subarray(udhLength);
  }
  concatenation ??= sarConcatenation(body);
  return {
    text: decodeText(octets, body.dataCoding, options.otherCodings ?? 'refuse'),
    octets,
    udhLength,
    ...(concatenation ? { concatenation } : {}),
  };
}

function decodeText(octets: Buffer, dataCoding: number, otherCodings: 'refuse' | 'gsm7'): string {
  try {
    switch (dataCoding) {
      case DataCoding.SMSC_DEFAULT:
        return decodeGsm7(octets);
      case DataCoding.IA5:
        if (octets.some((b) => b > 0x7f)) throw new Error('IA5 text with 8-bit octets');
        return octets.toString('ascii');
      case DataCoding.LATIN1:
        return octets.toString('latin1');
      case DataCoding.UCS2:
        return decodeUcs2(octets);
      default:
        if (otherCodings === 'gsm7') return decodeGsm7(octets);
        throw new Error(`data_coding 0x${dataCoding.toString(16)} is not supported`);
    }
  } catch (e) {
    throw new ShortMessageError((e as Error).message, Status.ESME_RINVDCS);
  }
}

/** SMPP's own concatenation (sar_msg_ref_num, sar_total_segments, sar_segment_seqnum), all three or none. */
function sarConcatenation(body: ShortMessageBody): Concatenation | undefined {
  const reference = readTlvInt(body.tlvs, Tlv.sar_msg_ref_num);
  const total = readTlvInt(body.tlvs, Tlv.sar_total_segments);
  const sequence = readTlvInt(body.tlvs, Tlv.sar_segment_seqnum);
  if (reference === undefined && total === undefined && sequence === undefined) return undefined;
  if (reference === undefined || total === undefined || sequence === undefined) {
    throw new ShortMessageError('sar_* TLVs: all three or none', Status.ESME_RINVTLVSTREAM);
  }
  if (total === 0 || sequence === 0 || sequence > total) {
    throw new ShortMessageError(`sar part ${sequence} of ${total} is impossible`, Status.ESME_RINVTLVSTREAM);
  }
  return { reference, total, sequence };
}
