import { events, sms } from '@tern/contracts';
import { DataCoding, EsmClass, Ton, Npi, tlv, Tlv, type ShortMessageBody, type TlvValue } from '@tern/smpp';
import {
  chooseEncoding,
  concatenationUdh,
  encodeGsm7,
  encodeText,
  isLatin1,
  packSeptets,
  splitText,
  type TextEncoding,
} from '@tern/sms-domain';
import type { ChannelConfig } from './channel';

/** Source TON/NPI per sender type (alphanumeric 5/0, international 1/1, short code 3/0). */
export function sourceAddress(
  from: string,
  type: sms.SenderType,
): { ton: number; npi: number; addr: string } {
  const kind = type !== sms.SenderType.SENDER_TYPE_UNSPECIFIED ? type : inferSenderType(from);
  switch (kind) {
    case sms.SenderType.SENDER_TYPE_ALPHANUMERIC:
      return { ton: Ton.ALPHANUMERIC, npi: Npi.UNKNOWN, addr: from };
    case sms.SenderType.SENDER_TYPE_SHORTCODE:
      return { ton: Ton.NETWORK_SPECIFIC, npi: Npi.UNKNOWN, addr: from };
    default:
      return { ton: Ton.INTERNATIONAL, npi: Npi.ISDN, addr: from.replace(/^\+/, '') };
  }
}

function inferSenderType(from: string): sms.SenderType {
  if (/[^\d+]/.test(from)) return sms.SenderType.SENDER_TYPE_ALPHANUMERIC;
  return from.replace(/^\+/, '').length <= 8
    ? sms.SenderType.SENDER_TYPE_SHORTCODE
    : sms.SenderType.SENDER_TYPE_INTERNATIONAL;
}

export class MessageExpiredError extends Error {
  constructor() {
    super('validity ended before submission');
    this.name = 'MessageExpiredError';
  }
}

/** SMPP relative time (section 7.1.1), "YYMMDDhhmmss000R", for the time left; undefined: the SMSC's default. */
export function relativeValidity(expiresAt: Date | undefined, now: Date): string | undefined {
  if (!expiresAt) return undefined;
  let seconds = Math.floor((expiresAt.getTime() - now.getTime()) / 1000);
  if (seconds <= 0) throw new MessageExpiredError();
  const pad = (n: number) => String(n).padStart(2, '0');
  const days = Math.min(99, Math.floor(seconds / 86400));
  seconds -= days * 86400;
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  return `0000${pad(days)}${pad(hours)}${pad(minutes)}${pad(seconds % 60)}000R`;
}

function encodingFor(text: string, declared: sms.Encoding, channel: ChannelConfig): TextEncoding {
  const natural =
    declared === sms.Encoding.ENCODING_UCS2
      ? 'UCS2'
      : declared === sms.Encoding.ENCODING_GSM7
        ? 'GSM7'
        : chooseEncoding(text);
  if (natural === 'UCS2' && channel.latin1 && isLatin1(text)) return 'LATIN1';
  return natural;
}

const DATA_CODING: Record<TextEncoding, number> = {
  GSM7: DataCoding.SMSC_DEFAULT,
  UCS2: DataCoding.UCS2,
  LATIN1: DataCoding.LATIN1,
};

/**
 * The submit_sm bodies of one message on one channel: one per part, joined the way the channel wants
 * (8- or 16-bit UDH reference, SAR TLVs, or the whole text in message_payload), receipts requested.
 */
export function buildSubmits(
  message: events.SmsMessage,
  channel: ChannelConfig,
  reference: number,
  now = new Date(),
): ShortMessageBody[] {
  const validity = relativeValidity(message.expiresAt, now);
  const encoding = encodingFor(message.body, message.encoding, channel);
  const source = sourceAddress(message.from, message.senderType);
  const base: Omit<ShortMessageBody, 'esmClass' | 'shortMessage' | 'tlvs'> = {
    serviceType: '',
    sourceAddrTon: source.ton,
    sourceAddrNpi: source.npi,
    sourceAddr: source.addr,
    destAddrTon: Ton.INTERNATIONAL,
    destAddrNpi: Npi.ISDN,
    destinationAddr: message.to.replace(/^\+/, ''),
    protocolId: 0,
    // OTPs get the SMSC's priority where it honours it.
    priorityFlag: message.type === sms.MessageType.MESSAGE_TYPE_OTP ? 1 : 0,
    scheduleDeliveryTime: '',
    validityPeriod: validity ?? '',
    registeredDelivery: 1,
    replaceIfPresentFlag: 0,
    dataCoding: DATA_CODING[encoding],
    smDefaultMsgId: 0,
  };
  const body = (text: string, udh?: Buffer) => {
    if (encoding === 'GSM7' && channel.gsm7 === 'packed') {
      const fill = udh ? (7 - ((udh.length * 8) % 7)) % 7 : 0;
      return Buffer.concat([udh ?? Buffer.alloc(0), packSeptets(encodeGsm7(text), fill)]);
    }
    return Buffer.concat([udh ?? Buffer.alloc(0), encodeText(text, encoding)]);
  };

  if (channel.concatenation === 'payload') {
    return [
      {
        ...base,
        esmClass: 0,
        shortMessage: Buffer.alloc(0),
        tlvs: [tlv.bytes(Tlv.message_payload, body(message.body))],
      },
    ];
  }
  const parts = splitText(message.body, encoding, channel.concatenation === 'udh16' ? 7 : 6);
  if (parts.length === 1) return [{ ...base, esmClass: 0, shortMessage: body(message.body), tlvs: [] }];
  const total = parts.length;
  return parts.map((text, i): ShortMessageBody => {
    const sequence = i + 1;
    switch (channel.concatenation) {
      case 'sar': {
        const tlvs: TlvValue[] = [
          tlv.u16(Tlv.sar_msg_ref_num, reference & 0xffff),
          tlv.u8(Tlv.sar_total_segments, total),
          tlv.u8(Tlv.sar_segment_seqnum, sequence),
        ];
        return { ...base, esmClass: 0, shortMessage: body(text), tlvs };
      }
      case 'udh16': {
        const udh = Buffer.from([
          0x06,
          0x08,
          0x04,
          (reference >> 8) & 0xff,
          reference & 0xff,
          total,
          sequence,
        ]);
        return { ...base, esmClass: EsmClass.UDHI, shortMessage: body(text, udh), tlvs: [] };
      }
      default:
        return {
          ...base,
          esmClass: EsmClass.UDHI,
          shortMessage: body(text, concatenationUdh(reference, total, sequence)),
          tlvs: [],
        };
    }
  });
}
