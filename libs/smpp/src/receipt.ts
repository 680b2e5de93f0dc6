import { encodeGsm7, formatReceiptText, type ReceiptText } from '@tern/sms-domain';
import { DataCoding, EsmClass, MessageState, Tlv, Ton } from './constants';
import { shortMessageBody, type ShortMessageBody } from './pdu';
import { tlv } from './tlv';

const MESSAGE_STATE: Record<ReceiptText['stat'], number> = {
  DELIVRD: MessageState.DELIVERED,
  UNDELIV: MessageState.UNDELIVERABLE,
  EXPIRED: MessageState.EXPIRED,
  REJECTD: MessageState.REJECTED,
  DELETED: MessageState.DELETED,
  ACCEPTD: MessageState.ACCEPTED,
  UNKNOWN: MessageState.UNKNOWN,
  ENROUTE: MessageState.ENROUTE,
};

export interface Address {
  ton: number;
  npi: number;
  addr: string;
}

/**
 * A delivery receipt as an SMSC sends it to an ESME (deliver_sm, esm_class 0x04): the Appendix B text,
 * and the same in TLVs (receipted_message_id, message_state, network_error_code as GSM). `handset` is
 * the message's destination, the receipt's source; `esme` its sender, the receipt's destination.
 */
export function deliveryReceipt(
  receipt: ReceiptText & { handset: Address; esme: Address },
): ShortMessageBody {
  const networkError = Buffer.alloc(3);
  networkError.writeUInt8(3, 0); // network type 3: GSM
  networkError.writeUInt16BE(Number(receipt.err) || 0, 1);
  return shortMessageBody({
    sourceAddrTon: receipt.handset.ton,
    sourceAddrNpi: receipt.handset.npi,
    sourceAddr: receipt.handset.addr,
    destAddrTon: receipt.esme.ton,
    destAddrNpi: receipt.esme.npi,
    destinationAddr: receipt.esme.addr,
    esmClass: EsmClass.DELIVERY_RECEIPT,
    dataCoding: DataCoding.SMSC_DEFAULT,
    shortMessage: encodeGsm7(formatReceiptText(receipt)),
    tlvs: [
      tlv.cstring(Tlv.receipted_message_id, receipt.id),
      tlv.u8(Tlv.message_state, MESSAGE_STATE[receipt.stat]),
      tlv.bytes(Tlv.network_error_code, networkError),
    ],
  });
}

/** An address as a phone number or sender reads: alphanumeric (TON 5), else international E.164 digits. */
export function addressOf(addr: string): Address {
  return /[^\d+]/.test(addr)
    ? { ton: Ton.ALPHANUMERIC, npi: 0, addr }
    : { ton: Ton.INTERNATIONAL, npi: 1, addr };
}
